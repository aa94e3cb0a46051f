"""Replay real drawings at their pen timing and judge them as the game does: the player's view.

A drawing from Google's raw files has a time for every point. The game server sees it arrive point by
point and asks the model about the drawing so far on the same schedule as `GuessScheduler`: at every
pen-up at once (a deciding guess), otherwise when the drawing changed and at least `interval_s` has
passed since the last guess (a later change waits for that moment, with the newest drawing). This
module turns each drawing into those guesses (`guess_schedule`), renders them all once
(`render_guesses`) so several models can be compared on the very same inputs, and scores a model's
probabilities with the shipped `DecisionRule` for a room's words (`score_room`).

Times are seconds since the drawing's first point; guesses after `round_s` do not count (the round is
over). What is reported, for a room whose words are W:

- recognized: of the drawings of a word in W that Google's game recognized, the share whose word
  was accepted within the round; apart, the share of Google-rejected ones that were accepted;
- time to recognition: median and p90 over the recognized ones, and a curve by time;
- wrong word: of the drawings of a word in W, the share ever accepted as *another* word of W;
- other things: of the drawings of classes outside W, the share ever accepted as any word of W.

The last two are what a player feels as "the judge accepts scribbles", so they are counted over the
whole round, not only until the drawing's own word was recognized.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from inference.dataset import split_of
from inference.decision import DecisionRule
from inference.formats import load_drawings
from inference.rasterize import rasterize_batch
from inference.simplify import normalize_batch

__all__ = [
    "CURVE_SECONDS",
    "GUESS_INTERVAL_S",
    "ROUND_S",
    "TRADEOFF_THRESHOLDS",
    "GuessSet",
    "Judge",
    "Played",
    "RoomScore",
    "TimedDrawing",
    "guess_schedule",
    "load_timed",
    "play",
    "render_guesses",
    "score_accepted",
    "score_room",
]

GUESS_INTERVAL_S = 0.15  # server/config.py's guess_interval_ms
ROUND_S = 20.0
CURVE_SECONDS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0)


@dataclass(frozen=True, slots=True, eq=False)
class TimedDrawing:
    """A drawing with a time for every point.

    Attributes:
        word: its class.
        key_id: Google's id.
        strokes: (n, 3) float32 x, y, t-in-ms arrays in drawing order (canvas pixels).
        google_recognized: whether Google's game recognized it (the dataset's flag).
    """

    word: str
    key_id: str
    strokes: tuple[np.ndarray, ...]
    google_recognized: bool


def guess_schedule(
    strokes: Sequence[np.ndarray], interval_s: float = GUESS_INTERVAL_S, round_s: float = ROUND_S
) -> list[tuple[float, tuple[int, int]]]:
    """When the server asks the model about this drawing, and how much of it it has then.

    Args:
        strokes: (n, 3) x, y, t-in-ms arrays.
        interval_s: least time between two ordinary guesses.
        round_s: guesses after this long (since the first point) are dropped.

    Returns:
        [(seconds since the first point, (strokes complete before the current one, points of the
        current one)), ...] in time order. (k, m) means strokes[:k] and strokes[k][:m].
    """
    events: list[tuple[float, int, int, bool]] = []  # (time s, stroke, points of it so far, pen-up)
    starts = [float(stroke[0, 2]) for stroke in strokes if len(stroke)]
    if not starts:
        return []
    origin = min(starts)
    for index, stroke in enumerate(strokes):
        times = (np.asarray(stroke[:, 2], dtype=np.float64) - origin) / 1000.0
        for point in range(len(stroke)):
            events.append((float(times[point]), index, point + 1, point == len(stroke) - 1))
    events.sort(key=lambda event: (event[0], event[1], event[2]))

    guesses: list[tuple[float, tuple[int, int]]] = []
    last = -math.inf
    drawn: tuple[int, int] | None = None  # the drawing as the server last heard it
    pending = False
    for at, stroke_index, points, pen_up in events:
        if pending and drawn is not None and last + interval_s <= at:
            last += interval_s
            guesses.append((last, drawn))
            pending = False
        drawn = (stroke_index + 1, 0) if pen_up else (stroke_index, points)
        if pen_up or at - last >= interval_s:
            last = at
            guesses.append((at, drawn))
            pending = False
        else:
            pending = True
    if pending and drawn is not None:
        guesses.append((last + interval_s, drawn))
    return [(at, cut) for at, cut in guesses if at <= round_s]


def _cut(strokes: Sequence[np.ndarray], cut: tuple[int, int]) -> list[np.ndarray]:
    complete, points = cut
    kept = [stroke[:, :2] for stroke in strokes[:complete]]
    if points:
        kept.append(strokes[complete][:points, :2])
    return kept


@dataclass(frozen=True, slots=True)
class GuessSet:
    """Every guess of every drawing, rendered once in the live framing.

    Attributes:
        drawings: the replayed drawings.
        rasters: (G, size, size) uint8, one per guess, the model's input.
        owner: (G,) index of the drawing each guess belongs to; guesses of a drawing are contiguous
            and in time order.
        seconds: (G,) time of each guess since the drawing's first point.
    """

    drawings: tuple[TimedDrawing, ...]
    rasters: np.ndarray
    owner: np.ndarray
    seconds: np.ndarray


def render_guesses(
    drawings: Iterable[TimedDrawing],
    size: int = 28,
    interval_s: float = GUESS_INTERVAL_S,
    round_s: float = ROUND_S,
    chunk: int = 4096,
) -> GuessSet:
    """Schedule and rasterize every guess of `drawings`, as the server would (normalize, rasterize)."""
    kept = tuple(drawings)
    owner: list[int] = []
    seconds: list[float] = []
    inputs: list[list[np.ndarray]] = []
    for index, drawing in enumerate(kept):
        for at, cut in guess_schedule(drawing.strokes, interval_s, round_s):
            owner.append(index)
            seconds.append(at)
            inputs.append(_cut(drawing.strokes, cut))
    parts = [
        rasterize_batch(normalize_batch(inputs[start : start + chunk]), size=size)
        for start in range(0, len(inputs), chunk)
    ]
    rasters = np.concatenate(parts) if parts else np.zeros((0, size, size), dtype=np.uint8)
    return GuessSet(kept, rasters, np.asarray(owner, dtype=np.int64), np.asarray(seconds, dtype=np.float64))


@dataclass(slots=True)
class RoomScore:
    """How a model and rule judge replayed drawings in a room (see the module docstring).

    Attributes:
        room: the room's name ("classic 20", "all 345").
        words: how many words the room plays.
        recognized: share of the room-word drawings Google recognized that were accepted in time.
        positives: how many such drawings.
        accepted_of_google_rejected: share of room-word drawings Google rejected that were accepted.
        google_rejected: how many such drawings.
        median_s, p90_s: time to recognition over the recognized drawings (None if none).
        wrong_word: share of room-word drawings ever accepted as another room word.
        room_drawings: how many room-word drawings (Google's flag either way).
        other_things: share of drawings of classes outside the room ever accepted as a room word.
        others: how many such drawings.
        curve: seconds -> share of the positives recognized by then.
        per_word: word -> {"drawings", "recognized", "median_s", "wrong_word"}.
        first_times: drawing index -> seconds to its own word's first acceptance, for every drawing
            whose word is in the room and was accepted (Google's flag either way).
    """

    room: str
    words: int
    recognized: float
    positives: int
    accepted_of_google_rejected: float | None
    google_rejected: int
    median_s: float | None
    p90_s: float | None
    wrong_word: float
    room_drawings: int
    other_things: float | None
    others: int
    curve: dict[float, float] = field(default_factory=dict)
    per_word: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    first_times: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the `"game"` section of `evaluate --json`)."""
        return {
            "room": self.room,
            "words": self.words,
            "recognized": self.recognized,
            "positives": self.positives,
            "accepted_of_google_rejected": self.accepted_of_google_rejected,
            "google_rejected": self.google_rejected,
            "median_s": self.median_s,
            "p90_s": self.p90_s,
            "wrong_word": self.wrong_word,
            "room_drawings": self.room_drawings,
            "other_things": self.other_things,
            "others": self.others,
            "curve": {str(at): share for at, share in self.curve.items()},
            "per_word": self.per_word,
        }


def _share(hits: Sequence[bool]) -> float:
    return float(np.mean(hits)) if len(hits) else 0.0


def score_room(
    guesses: GuessSet,
    probs: np.ndarray,
    labels: Sequence[str],
    room_words: Sequence[str],
    rule: DecisionRule,
    room: str = "",
) -> RoomScore:
    """Judge every replayed drawing with `rule` for a room that plays `room_words`.

    Args:
        guesses: from `render_guesses`.
        probs: (G, C) the model's probabilities for `guesses.rasters`, over `labels`.
        labels: the model's classes in output order; room words it does not know are never accepted.
        room_words: the words the room plays.
        rule: the decision rule.
        room: a name for reports.
    """
    return score_accepted(guesses, rule.leaders(probs)[0], labels, room_words, room)


def score_accepted(
    guesses: GuessSet, accepted: np.ndarray, labels: Sequence[str], room_words: Sequence[str], room: str = ""
) -> RoomScore:
    """`score_room` from the rule's verdicts, `accepted` = `rule.leaders(probs)[0]`: one rule's verdicts
    serve every room (the rule does not depend on the room's words)."""
    index_of = {label: index for index, label in enumerate(labels)}
    in_room = np.zeros(len(labels) + 1, dtype=bool)  # the last slot is "no word accepted" (-1)
    for word in room_words:
        if word in index_of:
            in_room[index_of[word]] = True
    room_accept = in_room[accepted]  # (G,) the guess accepted some room word
    words = set(room_words)

    first_time: dict[int, float] = {}
    wrong: dict[int, bool] = {}
    other: dict[int, bool] = {}
    bounds = np.flatnonzero(np.diff(guesses.owner, prepend=-1, append=-1))
    for start, stop in itertools.pairwise(bounds):
        drawing_index = int(guesses.owner[start])
        drawing = guesses.drawings[drawing_index]
        took = accepted[start:stop]
        hit = room_accept[start:stop]
        own = index_of.get(drawing.word, -2)
        if drawing.word in words:
            own_guesses = np.flatnonzero(took == own)
            if len(own_guesses):
                first_time[drawing_index] = float(guesses.seconds[start + own_guesses[0]])
            wrong[drawing_index] = bool(np.any(hit & (took != own)))
        else:
            other[drawing_index] = bool(np.any(hit))

    room_indices = [i for i, d in enumerate(guesses.drawings) if d.word in words]
    positives = [i for i in room_indices if guesses.drawings[i].google_recognized]
    rejected = [i for i in room_indices if not guesses.drawings[i].google_recognized]
    others = [i for i, d in enumerate(guesses.drawings) if d.word not in words]
    times = np.array([first_time[i] for i in positives if i in first_time])
    per_word: dict[str, dict[str, float | int | None]] = {}
    for word in room_words:
        mine = [i for i in positives if guesses.drawings[i].word == word]
        if not mine:
            continue
        word_times = [first_time[i] for i in mine if i in first_time]
        per_word[word] = {
            "drawings": len(mine),
            "recognized": len(word_times) / len(mine),
            "median_s": float(np.median(word_times)) if word_times else None,
            "wrong_word": _share([wrong.get(i, False) for i in mine]),
        }
    return RoomScore(
        room=room,
        words=len(words),
        recognized=_share([i in first_time for i in positives]),
        positives=len(positives),
        accepted_of_google_rejected=_share([i in first_time for i in rejected]) if rejected else None,
        google_rejected=len(rejected),
        median_s=float(np.median(times)) if len(times) else None,
        p90_s=float(np.percentile(times, 90)) if len(times) else None,
        wrong_word=_share([wrong.get(i, False) for i in room_indices]),
        room_drawings=len(room_indices),
        other_things=_share([other.get(i, False) for i in others]) if others else None,
        others=len(others),
        curve={at: _share([first_time.get(i, math.inf) <= at for i in positives]) for at in CURVE_SECONDS},
        per_word=per_word,
        first_times=first_time,
    )


def load_timed(
    data_dirs: Sequence[str | Path] | str | Path,
    splits: Sequence[str] = ("test",),
    words: Iterable[str] | None = None,
) -> list[TimedDrawing]:
    """The drawings with pen timings (Google's raw files) in the given splits of `split_of`.

    Args:
        data_dirs: folders in any layout `inference.formats` reads.
        splits: which of "train", "val", "test" to keep (by key_id, as training does).
        words: classes to read; None reads every class that has stroke files.
    """
    timed = []
    for word, records in load_drawings(data_dirs, words).items():
        for record in records:
            if record.raw_strokes is None or split_of(record.key_id) not in splits:
                continue
            strokes = tuple(
                np.asarray(stroke, dtype=np.float32) for stroke in record.raw_strokes if len(stroke)
            )
            if strokes:
                timed.append(TimedDrawing(word, record.key_id, strokes, bool(record.recognized)))
    return timed


class Judge(Protocol):
    """What `play` needs of a model: `inference.recognizer.Recognizer` fits."""

    labels: tuple[str, ...]
    rule: DecisionRule

    def predict_rasters(self, rasters: np.ndarray) -> np.ndarray: ...


# Thresholds of the trade-off curve (`play`'s `tradeoff`): the plain rule, top guess with p >= t.
TRADEOFF_THRESHOLDS: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(frozen=True, slots=True)
class Played:
    """`play`'s results.

    Attributes:
        scores: model name -> room name -> score with the model's own rule.
        tradeoff: model name -> the room `tradeoff_room` scored with the plain rule at each of
            `TRADEOFF_THRESHOLDS` (what a looser or stricter judge would give).
    """

    scores: dict[str, dict[str, RoomScore]]
    tradeoff: dict[str, list[RoomScore]]


def play(
    models: Mapping[str, Judge],
    guesses: GuessSet,
    rooms: Mapping[str, Sequence[str]],
    tradeoff_room: str | None = None,
) -> Played:
    """Every model judges the same replayed guesses with its own rule, in every room it can play.

    A model plays a room only if it knows all of the room's words (the seed plays no 345-word room).
    With `tradeoff_room`, each model also judges that room at every threshold of the plain rule.
    """
    scores: dict[str, dict[str, RoomScore]] = {}
    tradeoff: dict[str, list[RoomScore]] = {}
    for name, model in models.items():
        probs = model.predict_rasters(guesses.rasters)
        accepted, _ = model.rule.leaders(probs)
        scores[name] = {
            room: score_accepted(guesses, accepted, model.labels, words, room)
            for room, words in rooms.items()
            if set(words) <= set(model.labels)
        }
        if tradeoff_room is not None and tradeoff_room in scores[name]:
            words = rooms[tradeoff_room]
            tradeoff[name] = [
                score_room(guesses, probs, model.labels, words, DecisionRule(threshold=t), f"p >= {t}")
                for t in TRADEOFF_THRESHOLDS
            ]
    return Played(scores, tradeoff)
