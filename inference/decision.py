"""The one rule that says whether a drawing is recognized as a word: the game's referee.

The server (every guess it asks for) and `doodle-party evaluate` (every replayed guess) call
`DecisionRule.accepts`; nothing else decides "recognized". A checkpoint carries the rule chosen for it
on validation data (`inference.sweep`), because a threshold only means something for one model's
probabilities.

The rule, for a word w and the model's probabilities p over every class it knows:

    p is first made sharper or softer by the calibration temperature T: p_i ∝ p_i ** (1 / T);
    w must be the model's top guess (no other class, in or out of the room's words, ahead of it);
    p_w >= threshold, and p_w - p_runner_up >= margin.

Being top-1 among *all* classes is what makes a large model an honest judge: a scribble that looks
most like a "line" or a "squiggle" is not a cup, whatever words the room plays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["DEFAULT_RULE", "DecisionRule"]


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """When the model's guess counts as recognizing a word.

    Attributes:
        threshold: least (calibrated) probability of the word, as top guess.
        margin: least lead of the word over the runner-up, in (calibrated) probability.
        temperature: calibration; 1 keeps the model's probabilities, above 1 softens them.
    """

    threshold: float = 0.5
    margin: float = 0.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0 or not 0.0 <= self.margin <= 1.0 or self.temperature <= 0:
            raise ValueError(f"not a decision rule: {self!r}")

    def calibrate(self, probs: np.ndarray) -> np.ndarray:
        """(..., C) probabilities after the temperature (the same array when it is 1)."""
        if self.temperature == 1.0:
            return probs
        logits = np.log(np.clip(probs.astype(np.float64), 1e-30, None)) / self.temperature
        logits -= logits.max(axis=-1, keepdims=True)
        calibrated = np.exp(logits)
        return (calibrated / calibrated.sum(axis=-1, keepdims=True)).astype(np.float32)

    def leaders(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row of (N, C) probabilities, the class the rule would accept, or -1.

        Returns:
            (accepted class index or -1, calibrated probability of the top class), both (N,).
        """
        calibrated = self.calibrate(np.asarray(probs, dtype=np.float32).reshape(len(probs), -1))
        if calibrated.shape[1] == 1:
            top = np.zeros(len(calibrated), dtype=np.int64)
            first, second = calibrated[:, 0], np.zeros(len(calibrated), dtype=np.float32)
        else:
            two = np.argpartition(-calibrated, 1, axis=1)[:, :2]
            pair = np.take_along_axis(calibrated, two, axis=1)
            order = np.argsort(-pair, axis=1, kind="stable")
            two, pair = np.take_along_axis(two, order, axis=1), np.take_along_axis(pair, order, axis=1)
            top, first, second = two[:, 0], pair[:, 0], pair[:, 1]
        ok = (first >= self.threshold) & (first - second >= self.margin)
        return np.where(ok, top, -1), first

    def accepts(self, probs_row: np.ndarray, word_index: int | None) -> bool:
        """Is one guess (a (C,) probability row) a recognition of the class `word_index`?

        A word the model does not know (`None`) is never recognized.
        """
        if word_index is None:
            return False
        accepted, _ = self.leaders(np.asarray(probs_row).reshape(1, -1))
        return bool(accepted[0] == word_index)

    def to_dict(self) -> dict[str, Any]:
        """Plain form stored in a checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionRule:
        """Inverse of `to_dict`; unknown keys are an error (a newer rule this code cannot apply)."""
        return cls(**data)


# What a checkpoint without a chosen rule gets: the rule the game shipped before rules were swept.
DEFAULT_RULE = DecisionRule()
