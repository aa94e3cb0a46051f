"""Replaying drawings at their pen timing, judged by the shipped rule as the server judges them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.decision import DecisionRule
from inference.recognizer import Recognizer
from inference.replay import GuessSet, TimedDrawing, guess_schedule, load_timed, render_guesses, score_room


def stroke(times_ms: list[float]) -> np.ndarray:
    """A horizontal stroke with one point per time."""
    return np.array([[10.0 * i, 5.0, t] for i, t in enumerate(times_ms)], dtype=np.float32)


def test_pen_ups_are_asked_at_once_and_other_guesses_are_paced() -> None:
    """Every pen-up is a guess at its own time; between them, a changed drawing waits for the interval."""
    strokes = [stroke([1000, 1050, 1100, 1200, 1300]), stroke([1400, 1420])]
    schedule = [(round(at, 3), cut) for at, cut in guess_schedule(strokes, interval_s=0.15)]
    assert schedule == [
        (0.0, (0, 1)),  # the first point: nothing was asked before
        (0.15, (0, 3)),  # the changes at 0.05 and 0.1 s waited for the interval, then went together
        (0.3, (0, 4)),  # the next interval came due with the point at 0.2 s...
        (0.3, (1, 0)),  # ...and the pen-up at 0.3 s is asked at once: the whole stroke
        (0.42, (2, 0)),  # the second stroke's pen-up, 0.12 s later: a pen-up never waits
    ]
    times = [at for at, _ in schedule]
    assert times == sorted(times)


def test_guesses_after_the_round_do_not_count() -> None:
    """A drawing longer than the round is judged only on what was drawn in time."""
    strokes = [stroke([0, 5000]), stroke([21_000, 22_000])]
    assert [cut for _, cut in guess_schedule(strokes, round_s=20.0)] == [(0, 1), (1, 0)]


def two_drawings() -> GuessSet:
    drawings = (
        TimedDrawing("cup", "1", (stroke([0, 100, 200, 300]), stroke([1000, 1100])), True),
        TimedDrawing("snake", "2", (stroke([0, 100, 200, 300]),), True),
    )
    return render_guesses(drawings)


def test_room_scores_count_right_wrong_and_other_acceptances() -> None:
    """Recognized, time, wrong-word and other-things figures follow the rule on every guess."""
    guesses = two_drawings()
    labels = ("cup", "hat", "snake")
    probs = np.zeros((len(guesses.rasters), 3), dtype=np.float32)
    cup = np.flatnonzero(guesses.owner == 0)
    snake = np.flatnonzero(guesses.owner == 1)
    probs[cup] = [0.1, 0.1, 0.8]  # the cup looks like a snake ...
    probs[cup[1]] = [0.2, 0.7, 0.1]  # ... once like a hat ...
    probs[cup[-1]] = [0.9, 0.05, 0.05]  # ... and finally like a cup
    probs[snake] = [0.2, 0.1, 0.7]
    probs[snake[-1]] = [0.6, 0.3, 0.1]  # the finished snake is taken for a cup
    score = score_room(guesses, probs, labels, ("cup", "hat"), DecisionRule(threshold=0.5), "test")
    assert score.recognized == 1.0 and score.positives == 1
    assert score.median_s == pytest.approx(float(guesses.seconds[cup[-1]]))
    assert score.wrong_word == 1.0  # the cup was once accepted as "hat"
    assert score.other_things == 1.0 and score.others == 1  # the snake was accepted as "cup"
    strict = score_room(guesses, probs, labels, ("cup", "hat"), DecisionRule(threshold=0.75), "test")
    assert strict.recognized == 1.0 and strict.wrong_word == 0.0 and strict.other_things == 0.0
    assert score.per_word["cup"]["recognized"] == 1.0


def test_real_drawings_replayed_through_the_seed(quickdraw_dir: Path, seed_model_path: Path) -> None:
    """On real held-out drawings the 20-word seed recognizes its words and accepts other things."""
    drawings = load_timed(
        [quickdraw_dir], splits=("test",), words=["cup", "star", "snake", "bicycle", "whale"]
    )
    assert {d.word for d in drawings} >= {"cup", "star", "snake"}
    guesses = render_guesses(drawings)
    assert len(guesses.rasters) == len(guesses.owner) == len(guesses.seconds) > len(drawings)
    seed = Recognizer.from_seed(seed_model_path)
    score = score_room(
        guesses, seed.predict_rasters(guesses.rasters), seed.labels, seed.labels, DecisionRule()
    )
    assert score.recognized > 0.7 and score.median_s is not None and score.median_s < 6.0
    assert score.other_things is not None and score.other_things > 0.5
