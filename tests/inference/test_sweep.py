"""Choosing the decision rule: every rule judged on the same replay, the earliest within the limits wins."""

from __future__ import annotations

import numpy as np
import pytest

from inference.decision import DecisionRule
from inference.replay import score_room
from inference.sweep import RuleTrial, choose_rule, early_score, grid, try_rules
from tests.inference.test_replay import two_drawings


def test_early_score_is_the_share_of_the_round_left() -> None:
    """Recognized at once counts 1, never counts 0, half-way counts 0.5."""
    assert early_score([0.0, None, 10.0], round_s=20.0) == pytest.approx(0.5)
    assert early_score([]) == 0.0


def test_try_rules_agrees_with_scoring_each_room() -> None:
    """One rule's verdicts serve both rooms: the same figures as scoring each room on its own."""
    guesses = two_drawings()
    labels = ("cup", "hat", "snake")
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(3, 0.5), size=len(guesses.rasters)).astype(np.float32)
    rules = grid((0.4, 0.6), (0.0, 0.2), (1.0,))
    for trial in try_rules(guesses, probs, labels, rules, room_words=("cup", "hat")):
        classic = score_room(guesses, probs, labels, ("cup", "hat"), trial.rule)
        every = score_room(guesses, probs, labels, labels, trial.rule)
        assert (trial.wrong_word, trial.other_things) == (classic.wrong_word, classic.other_things or 0.0)
        assert (trial.recognized, trial.median_s) == (every.recognized, every.median_s)


def trial(threshold: float, early: float, wrong: float, other: float) -> RuleTrial:
    return RuleTrial(DecisionRule(threshold), early, 0.0, None, wrong, other)


def test_choose_rule_takes_the_earliest_within_both_limits() -> None:
    """A faster rule over either limit loses to a slower one within them; with none within, the most
    cautious one."""
    trials = [trial(0.3, 0.9, 0.10, 0.02), trial(0.5, 0.7, 0.03, 0.08), trial(0.7, 0.6, 0.03, 0.03)]
    trials.append(trial(0.9, 0.4, 0.0, 0.0))
    assert choose_rule(trials, max_false=0.04).rule.threshold == 0.7
    assert choose_rule(trials[:3], max_false=0.01).rule.threshold == 0.7  # the smallest worst case
    assert len(grid()) == 150  # the shipped grid: 10 thresholds x 5 margins x 3 temperatures
