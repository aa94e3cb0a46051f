"""`doodle-party rule`: choose a model's decision rule from replayed validation drawings, and ship it.

A threshold means something only for one model's probabilities, so every checkpoint carries the rule
chosen for it (`inference.decision`). This module replays the validation split's timed drawings
(`inference.replay`), tries a grid of rules, and keeps the one players would prefer within the
limits on wrong acceptances:

- limits, in a room of the classic 20 words: drawings of other things ever accepted as a room word,
  and drawings of a room word ever accepted as another, each at most `max_false` (the targets are
  5%; validation aims a little under them, since it is a sample);
- among the rules within both limits, the one that recognizes the most drawings early: the mean,
  over every validation drawing Google recognized (all 345 words, each judged against its own
  word), of the share of the round left when it was recognized (1 at once, 0 never). Speed and rate
  are one number, as a player feels them.

Only the validation split is used: the test split stays untouched for `evaluate`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from inference.decision import DecisionRule
from inference.model import SEED_LABELS, Checkpoint
from inference.recognizer import Recognizer
from inference.replay import ROUND_S, GuessSet, load_timed, render_guesses, score_accepted

__all__ = ["RULE_GRID", "RuleTrial", "choose_rule", "configure_parser", "early_score", "run", "try_rules"]

# Thresholds, margins and temperatures tried: 150 rules, a few minutes on one core.
RULE_GRID: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]] = (
    (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
    (0.0, 0.1, 0.2, 0.3, 0.5),
    (0.75, 1.0, 1.5),
)


@dataclass(frozen=True, slots=True)
class RuleTrial:
    """One rule's validation figures.

    Attributes:
        rule: the rule tried.
        early: `early_score` over every validation drawing Google recognized (higher is better).
        recognized: share of those recognized within the round.
        median_s: their median time to recognition.
        wrong_word: classic room: share of room-word drawings ever accepted as another room word.
        other_things: classic room: share of drawings of other classes ever accepted as a room word.
    """

    rule: DecisionRule
    early: float
    recognized: float
    median_s: float | None
    wrong_word: float
    other_things: float

    def to_dict(self) -> dict[str, object]:
        return {
            **self.rule.to_dict(),
            "early": round(self.early, 4),
            "recognized": round(self.recognized, 4),
            "median_s": self.median_s,
            "wrong_word": round(self.wrong_word, 4),
            "other_things": round(self.other_things, 4),
        }


def early_score(seconds: Sequence[float | None], round_s: float = ROUND_S) -> float:
    """Mean share of the round left at recognition (None: never recognized, counts 0)."""
    if not seconds:
        return 0.0
    return float(np.mean([0.0 if at is None else max(0.0, 1.0 - at / round_s) for at in seconds]))


def try_rules(
    guesses: GuessSet,
    probs: np.ndarray,
    labels: Sequence[str],
    rules: Sequence[DecisionRule],
    room_words: Sequence[str] = SEED_LABELS,
) -> list[RuleTrial]:
    """Every rule's figures on the same replayed guesses and probabilities."""
    trials = []
    positives = [i for i, d in enumerate(guesses.drawings) if d.google_recognized]
    for rule in rules:
        accepted, _ = rule.leaders(probs)
        every_word = score_accepted(guesses, accepted, labels, labels, "all words")
        classic = score_accepted(guesses, accepted, labels, room_words, "classic")
        times = every_word.first_times
        trials.append(
            RuleTrial(
                rule=rule,
                early=early_score([times.get(i) for i in positives]),
                recognized=every_word.recognized,
                median_s=every_word.median_s,
                wrong_word=classic.wrong_word,
                other_things=classic.other_things or 0.0,
            )
        )
    return trials


def choose_rule(trials: Sequence[RuleTrial], max_false: float = 0.04) -> RuleTrial:
    """The earliest-recognizing rule within both false-acceptance limits (else the most cautious one)."""
    within = [t for t in trials if t.wrong_word <= max_false and t.other_things <= max_false]
    if within:
        return max(within, key=lambda t: (t.early, -t.other_things))
    return min(trials, key=lambda t: (max(t.wrong_word, t.other_things), -t.early))


def grid(
    thresholds: Sequence[float] = RULE_GRID[0],
    margins: Sequence[float] = RULE_GRID[1],
    temperatures: Sequence[float] = RULE_GRID[2],
) -> list[DecisionRule]:
    """Every combination of the given values."""
    return [DecisionRule(t, m, temp) for t, m, temp in itertools.product(thresholds, margins, temperatures)]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add `doodle-party rule` options to `parser`."""
    parser.add_argument("checkpoint", type=Path, help="the checkpoint to choose a rule for")
    parser.add_argument(
        "--data", type=Path, action="append", required=True, help="Quick, Draw! folder with raw drawings"
    )
    parser.add_argument("--out", type=Path, required=True, help="write the checkpoint with its rule here")
    parser.add_argument(
        "--max-false",
        type=float,
        default=0.04,
        help="most wrong-word and other-thing acceptances allowed on validation (share, default 0.04)",
    )
    parser.add_argument("--table", type=Path, default=None, help="also write every rule's figures (JSON)")


def run(args: argparse.Namespace) -> int:
    """Replay the validation split, try the grid, store the chosen rule; returns the exit status."""
    checkpoint = Checkpoint.load(args.checkpoint)
    recognizer = Recognizer(checkpoint)
    guesses = render_guesses(load_timed(args.data, splits=("val",)), size=checkpoint.raster.size)
    probs = recognizer.predict_rasters(guesses.rasters)
    trials = try_rules(guesses, probs, checkpoint.labels, grid())
    best = choose_rule(trials, args.max_false)
    for trial in sorted(trials, key=lambda t: -t.early)[:15]:
        print(json.dumps(trial.to_dict()), file=sys.stderr)
    print(f"chosen: {json.dumps(best.to_dict())}")
    record = {
        "chosen": best.to_dict(),
        "max_false": args.max_false,
        "validation_drawings": len(guesses.drawings),
        "trials": [t.to_dict() for t in trials],
    }
    training = {**checkpoint.training, "decision_sweep": {k: v for k, v in record.items() if k != "trials"}}
    replace(checkpoint, decision=best.rule, training=training).save(args.out)
    if args.table is not None:
        args.table.write_text(json.dumps(record, indent=1))
    return 0
