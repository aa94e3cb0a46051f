"""Judge drawings with the model: rasterize and classify a batch, then decide each one.

This is the one predict path: the gateway's thread or child processes and `doodle-party worker` all
run `recognize_batch`. It knows no rooms or players: a drawing goes in with the word it should show,
a `Verdict` comes out. Whether a drawing counts as recognized is decided in `is_recognized` alone, by
the model's `inference.decision.DecisionRule`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from inference.decision import DecisionRule

__all__ = [
    "Judged",
    "StrokeClassifier",
    "Verdict",
    "as_points",
    "is_recognized",
    "recognize_batch",
    "top_indices",
]


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
    rule: DecisionRule,
    probs: np.ndarray,
    word_indices: Sequence[int | None],
    thresholds: Sequence[float | None] | None = None,
) -> np.ndarray:
    """The recognition decision, made here only, for a batch: does the checkpoint's decision rule
    accept each row's word? A word the model does not know (None) is never recognized.

    Args:
        rule: the model's decision rule.
        probs: (B, C) probabilities.
        word_indices: per row, the index of the word it should show, or None.
        thresholds: per row, a threshold that replaces the rule's (None: the rule as shipped;
            experiments only).

    Returns:
        (B,) bool.
    """
    words = np.array([-1 if index is None else index for index in word_indices], dtype=np.int64)
    overrides = list(thresholds) if thresholds is not None else [None] * len(words)
    leaders = np.full(len(words), -2, dtype=np.int64)  # -2: never a word's index, nor "no leader"
    # One vectorized pass per distinct rule: in play that is one pass for the whole batch.
    for threshold in set(overrides):
        rows = np.array([override == threshold for override in overrides])
        row_rule = rule if threshold is None else replace(rule, threshold=threshold)
        leaders[rows] = row_rule.leaders(probs[rows])[0]
    return (words >= 0) & (leaders == words)


def top_indices(probs: np.ndarray, k: int) -> np.ndarray:
    """The `k` most probable classes of each row of (B, C) probabilities, best first: (B, min(k, C)).

    Ties keep class order, exactly as a stable sort of the whole row would, but only the few
    candidates are sorted (this runs for every guess of every player).
    """
    probs = np.asarray(probs)
    batch, classes = probs.shape
    k = max(0, min(k, classes))
    if k == 0 or k == classes or batch == 1:  # one row: a whole sort is cheaper than the steps below
        return np.argsort(-probs, axis=1, kind="stable")[:, :k]
    kth = -np.partition(-probs, k - 1, axis=1)[:, k - 1 : k]  # (B, 1): the k-th largest value
    at_least = probs >= kth
    exact = at_least.sum(axis=1) == k  # no tie straddles the cut: the candidates are the top k
    result = np.empty((batch, k), dtype=np.int64)
    if exact.any():
        candidates = np.nonzero(at_least[exact])[1].reshape(-1, k)  # ascending class order per row
        values = np.take_along_axis(probs[exact], candidates, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        result[exact] = np.take_along_axis(candidates, order, axis=1)
    if not exact.all():
        result[~exact] = np.argsort(-probs[~exact], axis=1, kind="stable")[:, :k]
    return result


def as_points(stroke: Any) -> np.ndarray:
    """One stroke as a float32 (n, 2+) array; an empty stroke is (0, 2)."""
    points = np.asarray(stroke, dtype=np.float32)
    if points.ndim != 2:
        return np.zeros((0, 2), dtype=np.float32)
    return points


@functools.lru_cache(maxsize=8)
def _label_index(labels: tuple[str, ...]) -> dict[str, int]:
    return {label: index for index, label in enumerate(labels)}


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
    label_index = _label_index(model.labels)
    word_indices = [
        label_index.get(drawing.target_word) if drawing.target_word is not None else None
        for drawing in drawings
    ]
    recognized = is_recognized(
        model.rule, probabilities, word_indices, [drawing.threshold for drawing in drawings]
    )
    top = top_indices(probabilities, 3)
    top_scores = np.take_along_axis(probabilities, top, axis=1).tolist()
    labels = model.labels
    return [
        Verdict(
            guesses=[(labels[i], score) for i, score in zip(indices, scores, strict=True)],
            target_score=float(row[word_index]) if word_index is not None else None,
            recognized=bool(accepted),
        )
        for row, word_index, accepted, indices, scores in zip(
            probabilities, word_indices, recognized, top.tolist(), top_scores, strict=True
        )
    ]
