"""What travels through recognition: a job (a drawing as it is, as the batcher runs it) and a result."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from inference.recognize import StrokeClassifier, recognize_batch

log = structlog.get_logger("server.recognition")

PlayerKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class RecognitionJob:
    """One request to recognise a player's drawing as it is now.

    Attributes:
        job_id: unique per job; the result carries it back.
        gateway_id: the gateway holding the player's connection (results are routed to it).
        room_code, player_id: whose drawing; together the coalescing key.
        round: the round the drawing belongs to.
        target_word: the word to draw, or None (then `recognized` is always False).
        strokes: the whole drawing so far; each stroke a float32 (n, 3) array (what the gateway holds)
            or a list of points [x, y, t], in canvas pixels. Never changed after `update()`: the
            job may wait (coalescing, the guess interval) and run later on exactly these points.
        canvas: the client's canvas (width, height), or None to fit the drawing's own extent.
        deciding: this drawing may decide the round (stroke end, final drawing); never shed.
        submitted_at: time.time() when the drawing changed; latency is measured from it.
        game: the game (rematch count) of `round`: round numbers restart at 1 in each game.
        threshold: replaces the threshold of the model's decision rule (experiments only; the
            recognition service's setting, put on the job as it leaves for the batcher or the
            stream); None keeps the rule shipped with the checkpoint.

    `strokes` holds point lists or arrays from the gateway, or float32 (n, 2) arrays decoded from the
    stream (workers); `recognize_batch` takes either.
    """

    job_id: str
    gateway_id: str
    room_code: str
    player_id: str
    round: int
    target_word: str | None
    strokes: Sequence[Any]
    canvas: tuple[float, float] | None
    deciding: bool
    submitted_at: float
    game: int = 0
    threshold: float | None = None

    @property
    def key(self) -> PlayerKey:
        return (self.room_code, self.player_id)


@dataclass(frozen=True, slots=True)
class RecognitionResult:
    """What the model says about one job's drawing.

    Attributes:
        guesses: the top 3 (label, probability), best first.
        target_score: the probability of the job's target word, or None when it has none or the
            model does not know the word.
        recognized: the model's decision rule (`inference.decision`) accepts the target word.
        submitted_at: copied from the job. finished_at: time.time() when the model's answer was ready.
    """

    job_id: str
    room_code: str
    player_id: str
    round: int
    guesses: list[tuple[str, float]]
    target_score: float | None
    recognized: bool
    submitted_at: float
    finished_at: float
    game: int = 0


def judge(model: StrokeClassifier, requests: Sequence[RecognitionJob]) -> list[RecognitionResult]:
    """`inference.recognize.recognize_batch` for a batch of requests: one result per request, in order.

    Runs in the batcher's worker thread or child process (embedded) and in workers alike."""
    verdicts = recognize_batch(model, requests)
    finished_at = time.time()
    return [
        RecognitionResult(
            job_id=request.job_id,
            room_code=request.room_code,
            player_id=request.player_id,
            round=request.round,
            guesses=verdict.guesses,
            target_score=verdict.target_score,
            recognized=verdict.recognized,
            submitted_at=request.submitted_at,
            finished_at=finished_at,
            game=request.game,
        )
        for request, verdict in zip(requests, verdicts, strict=True)
    ]
