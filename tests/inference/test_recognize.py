"""The batched verdicts of `recognize_batch`: the decision and the top guesses, row by row."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from inference.decision import DecisionRule
from inference.recognize import is_recognized, top_indices


@pytest.mark.parametrize("k", [1, 3, 5, 12, 40])
def test_top_indices_equal_a_stable_sort_of_each_row(k: int) -> None:
    """Best first, ties in class order, capped at the classes: what `np.argsort(kind="stable")` gives,
    also for rows whose ties straddle the cut (coarse probabilities make many)."""
    rng = np.random.default_rng(1)
    smooth = rng.dirichlet(np.full(12, 0.3), size=200).astype(np.float32)
    coarse = np.round(rng.random((200, 12)) * 4).astype(np.float32) / 4
    for probs in (smooth, coarse):
        expected = np.argsort(-probs, axis=1, kind="stable")[:, : min(k, 12)]
        np.testing.assert_array_equal(top_indices(probs, k), expected)
        for row, best in zip(probs[:20], expected[:20], strict=True):  # one row takes another path
            np.testing.assert_array_equal(top_indices(row[None], k)[0], best)
    assert top_indices(smooth, 0).shape == (200, 0)


def test_batched_decision_agrees_with_the_rule_row_by_row() -> None:
    """One call judges a batch, each row against its own word and threshold override, as the
    rule's `accepts` does for one row; an unknown word (None) is never recognized."""
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.full(10, 0.2), size=300).astype(np.float32)
    rule = DecisionRule(threshold=0.45, margin=0.05, temperature=1.2)
    words = [None if i % 7 == 0 else int(rng.integers(0, 10)) for i in range(300)]
    thresholds = [None if i % 3 else float(rng.choice([0.3, 0.8])) for i in range(300)]
    verdicts = is_recognized(rule, probs, words, thresholds)
    expected = [
        word is not None and (rule if t is None else replace(rule, threshold=t)).accepts(row, word)
        for row, word, t in zip(probs, words, thresholds, strict=True)
    ]
    assert verdicts.tolist() == expected
    assert any(expected) and not all(expected)
    assert is_recognized(rule, probs, words).tolist() == [
        word is not None and rule.accepts(row, word) for row, word in zip(probs, words, strict=True)
    ]
