"""Judge drawings with the model: rasterize and classify a batch, then decide each one.

This is the one predict path: the gateway's thread or child processes and `doodle-party worker` all
run `recognize_batch`. It knows no rooms or players: a drawing goes in with the word it should show,
a `Verdict` comes out. Whether a drawing counts as recognized is decided in `is_recognized` alone, by
the model's `inference.decision.DecisionRule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from inference.decision import DecisionRule

__all__ = ["Judged", "StrokeClassifier", "Verdict", "as_points", "is_recognized", "recognize_batch"]


class StrokeClassifier(Protocol):
    """What `recognize_batch` needs from a model: `inference.recognizer.Recognizer` fits."""

    labels: tuple[str, ...]
    rule: DecisionRule

    @property
    def runtime(self) -> str: ...  # what computes the network ("onnxruntime" or "torch"), for logs

    # Why the "auto" runtime fell back to torch, or None (logged as a warning at start).
    fallback_reason: str | None

    def predict_strokes(
        self,
        drawings: Sequence[Sequence[np.ndarray]],
        canvases: Sequence[tuple[float, float] | None] | None = None,
    ) -> np.ndarray: ...

    def top_k(self, probs_row: np.ndarray, k: int = 3) -> list[tuple[str, float]]: ...


class Judged(Protocol):
    """A drawing to judge: strokes (float32 (n, 2+) arrays or [x, y, ...] lists, canvas pixels), the
    canvas (None: fit the drawing's extent), the word it should show (None: none) and a threshold that
    overrides the decision rule's (None: the rule as shipped)."""

    @property
    def strokes(self) -> Sequence[Any]: ...
    @property
    def canvas(self) -> tuple[float, float] | None: ...
    @property
    def target_word(self) -> str | None: ...
    @property
    def threshold(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the model says about one drawing.

    Attributes:
        guesses: the top 3 (label, probability), best first.
        target_score: the probability of the target word; None without one or for an unknown word.
        recognized: see `is_recognized`.
    """

    guesses: list[tuple[str, float]]
    target_score: float | None
    recognized: bool


def is_recognized(
    rule: DecisionRule, probs_row: np.ndarray, word_index: int | None, threshold: float | None = None
) -> bool:
    """The recognition decision, made here only: the checkpoint's decision rule accepts the word
    (`threshold`, when given, replaces the rule's threshold; experiments only)."""
    if threshold is not None:
        rule = replace(rule, threshold=threshold)
    return rule.accepts(probs_row, word_index)


def as_points(stroke: Any) -> np.ndarray:
    """One stroke as a float32 (n, 2+) array; an empty stroke is (0, 2)."""
    points = np.asarray(stroke, dtype=np.float32)
    if points.ndim != 2:
        return np.zeros((0, 2), dtype=np.float32)
    return points


def recognize_batch(model: StrokeClassifier, drawings: Sequence[Judged]) -> list[Verdict]:
    """Rasterize and classify a batch of drawings in one forward pass, and judge each.

    Args:
        model: the loaded recognizer.
        drawings: the batch.

    Returns:
        One verdict per drawing, in order.
    """
    if not drawings:
        return []
    strokes = [[as_points(stroke) for stroke in drawing.strokes] for drawing in drawings]
    probabilities = model.predict_strokes(strokes, [drawing.canvas for drawing in drawings])  # (B, C)
    label_index = {label: index for index, label in enumerate(model.labels)}
    verdicts = []
    for drawing, row in zip(drawings, probabilities, strict=True):
        word_index = label_index.get(drawing.target_word) if drawing.target_word is not None else None
        verdicts.append(
            Verdict(
                guesses=model.top_k(row, 3),
                target_score=float(row[word_index]) if word_index is not None else None,
                recognized=is_recognized(model.rule, row, word_index, drawing.threshold),
            )
        )
    return verdicts
