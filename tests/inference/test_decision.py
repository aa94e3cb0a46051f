"""The decision rule: the one place that says whether a guess recognizes a word."""

from __future__ import annotations

import numpy as np
import pytest

from inference.decision import DecisionRule


def test_the_word_must_be_the_top_guess_over_every_class() -> None:
    """A room word behind another class is not recognized, however probable it is."""
    rule = DecisionRule(threshold=0.3)
    probs = np.array([0.35, 0.45, 0.2])  # class 1 could be "line", outside the room
    assert not rule.accepts(probs, 0)
    assert rule.accepts(probs, 1)


def test_threshold_and_margin_both_apply() -> None:
    """The top guess needs the threshold and its lead over the runner-up."""
    probs = np.array([0.52, 0.40, 0.08])
    assert DecisionRule(threshold=0.5).accepts(probs, 0)
    assert not DecisionRule(threshold=0.6).accepts(probs, 0)
    assert not DecisionRule(threshold=0.5, margin=0.2).accepts(probs, 0)
    assert DecisionRule(threshold=0.5, margin=0.1).accepts(probs, 0)


def test_unknown_words_are_never_recognized() -> None:
    """A word outside the model's classes is never accepted."""
    assert not DecisionRule(threshold=0.0).accepts(np.array([1.0, 0.0]), None)


def test_temperature_calibrates_before_the_threshold() -> None:
    """Above 1 the temperature softens probabilities (fewer acceptances), below 1 sharpens them."""
    probs = np.array([0.6, 0.3, 0.1])
    assert DecisionRule(threshold=0.55).accepts(probs, 0)
    assert not DecisionRule(threshold=0.55, temperature=2.0).accepts(probs, 0)
    sharpened = DecisionRule(temperature=0.5).calibrate(probs)
    assert sharpened.sum() == pytest.approx(1.0, abs=1e-6) and sharpened[0] > 0.6


def test_leaders_match_accepts_row_by_row() -> None:
    """The batched form (used by the evaluation) agrees with the per-guess form (used by the server)."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(12, 0.3), size=500).astype(np.float32)
    rule = DecisionRule(threshold=0.4, margin=0.1, temperature=1.3)
    accepted, _ = rule.leaders(probs)
    for row, leader in zip(probs, accepted, strict=True):
        for word in range(12):
            assert rule.accepts(row, word) == (leader == word)
    assert (accepted >= 0).any() and (accepted < 0).any()


def test_round_trips_through_a_plain_dict() -> None:
    """A checkpoint stores the rule as plain data and gets the same rule back."""
    rule = DecisionRule(threshold=0.45, margin=0.05, temperature=1.2)
    assert DecisionRule.from_dict(rule.to_dict()) == rule
    with pytest.raises(ValueError):
        DecisionRule(threshold=1.5)
