"""Recognition as the gateway sees it: drawings go in with `update()`, guesses come out via `on_result`.

One service, two deployments, one code path:

- `LocalRecognition` (embedded, the default of `serve`): a `MicroBatcher` in this process runs
  `recognize_batch` in a worker thread, so the event loop never waits for the model; or, with
  `processes` N, in N child processes of this one (`inference.processes.ProcessPool`), so that
  rasterizing does not hold the gateway's GIL and the model uses the machine's other cores.
- `StreamRecognition` (distributed): jobs go to the Redis Stream `doodle:jobs`; `doodle-party worker`
  processes (server/worker.py) read them through the consumer group `workers`, run the same
  `MicroBatcher` and `recognize_batch`, and XADD each result to `doodle:results:{gateway_id}`, the
  stream of the gateway that holds the player.

What a service promises (both deployments, enforced by `GuessScheduler`):

- `update(job)` never blocks and never raises for load. Per player (room_code, player_id) only the
  newest drawing is kept; at most one ordinary job per player is in flight, and a player's jobs are
  sent at least `guess_interval_ms` apart. Work is therefore bounded by players x guess rate, not by
  stroke messages. When recognition falls behind, each player's next guess simply waits for the
  previous one: the system guesses less often instead of queueing more.
- A `deciding=True` job (stroke end, the final drawing at round end) skips the interval, the
  ordinary in-flight rule and every capacity limit: it is sent at once and never shed. But a player
  has at most one deciding job in flight: a newer one waits for that result (replacing any drawing
  that waited, and staying deciding), so ending strokes fast cannot buy one player, or one room,
  more model time than one job at a time each; with the per-drawing point cap (game.rules) that
  bounds what one player can cost, and no room can starve another. If a deciding result is lost
  (a worker died and the stream was trimmed), it is sent again after `result_timeout_s`.
- Each delivered `RecognitionResult` is for the newest drawing judged so far: a result older than one
  already delivered for the same player is dropped. Results for forgotten players, duplicates (a job
  run twice after a worker crash) and results of unknown jobs are dropped quietly (DEBUG log).
- `on_result(result)` is awaited by one delivery task, in arrival order. Keep it quick (hand the
  message to the connection's send queue); an exception it raises is logged with its traceback and
  counted in `doodle_recognition_errors_total`, and delivery goes on.
- `forget(room_code, player_id)`: the player left or the round is over. Queued and deferred work is
  dropped, and late results for that player's jobs are dropped quietly.

Redis keys (fixed names, not room keys: rooms use {room:CODE} hash tags and live in server/store.py)::

    doodle:jobs                  stream, consumer group "workers"; field "job" = msgpack job
    doodle:results:{gateway_id}  stream per gateway; field "result" = msgpack result; expires when idle
    doodle:labels                JSON list of the workers' model labels (set by each worker at start)
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import json
import math
import os
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import msgpack
import numpy as np
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError

from inference.batcher import BatcherClosed, BatchReport, MicroBatcher, Overloaded, Superseded
from inference.decision import DecisionRule
from inference.processes import ProcessPool
from server import metrics

__all__ = [
    "JOBS_STREAM",
    "LABELS_KEY",
    "RESULTS_PREFIX",
    "WORKER_GROUP",
    "DrawingRequest",
    "GuessScheduler",
    "LocalRecognition",
    "OnResult",
    "RecognitionJob",
    "RecognitionResult",
    "RecognitionService",
    "StreamRecognition",
    "auto_processes",
    "decode_request",
    "decode_result",
    "encode_request",
    "encode_result",
    "ensure_group",
    "recognize_batch",
    "results_stream",
]

log = structlog.get_logger(__name__)

JOBS_STREAM = "doodle:jobs"
WORKER_GROUP = "workers"
LABELS_KEY = "doodle:labels"
RESULTS_PREFIX = "doodle:results:"
# Wire format of jobs and results on the streams; bumped on an incompatible change.
WIRE_VERSION = 1
# A gateway's result stream is trimmed by the gateway as it reads; this caps it if the gateway is gone.
RESULTS_MAXLEN = 10_000
RESULTS_TTL_S = 300
# Least wait before a drawing refused for lack of room is offered again.
SHED_BACKOFF_S = 0.05


def results_stream(gateway_id: str) -> str:
    """Name of the stream that carries results back to `gateway_id`."""
    return RESULTS_PREFIX + gateway_id


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


@dataclass(frozen=True, slots=True)
class DrawingRequest:
    """A job as the batcher runs it: what `recognize_batch` needs and where its result goes.

    `strokes` holds the job's point lists (embedded) or float32 (n, 2) arrays decoded from the stream
    (workers); `recognize_batch` takes either.
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
    threshold: float | None

    @classmethod
    def from_job(
        cls, job: RecognitionJob, threshold: float | None, strokes: Sequence[Any] | None = None
    ) -> DrawingRequest:
        """The request for `job`, optionally with other `strokes`.

        `threshold` overrides the threshold of the model's own decision rule; None keeps the rule.
        """
        return cls(
            job_id=job.job_id,
            gateway_id=job.gateway_id,
            room_code=job.room_code,
            player_id=job.player_id,
            round=job.round,
            target_word=job.target_word,
            strokes=job.strokes if strokes is None else strokes,
            canvas=job.canvas,
            deciding=job.deciding,
            submitted_at=job.submitted_at,
            threshold=threshold,
        )

    @property
    def key(self) -> PlayerKey:
        return (self.room_code, self.player_id)


class StrokeClassifier(Protocol):
    """What `recognize_batch` needs from a model: `inference.recognizer.Recognizer` fits."""

    labels: tuple[str, ...]
    rule: DecisionRule

    def predict_strokes(
        self,
        drawings: Sequence[Sequence[np.ndarray]],
        canvases: Sequence[tuple[float, float] | None] | None = None,
    ) -> np.ndarray: ...

    def top_k(self, probs_row: np.ndarray, k: int = 3) -> list[tuple[str, float]]: ...


def _as_points(stroke: Any) -> np.ndarray:
    """One stroke as a float32 (n, 2+) array; an empty stroke is (0, 2)."""
    points = np.asarray(stroke, dtype=np.float32)
    if points.ndim != 2:
        return np.zeros((0, 2), dtype=np.float32)
    return points


def recognize_batch(model: StrokeClassifier, requests: Sequence[DrawingRequest]) -> list[RecognitionResult]:
    """Rasterize and classify a batch of drawings in one forward pass; the one predict path.

    Runs in the batcher's worker thread, in the gateway (embedded) and in workers alike.

    Args:
        model: the loaded recognizer.
        requests: the batch.

    Returns:
        One result per request, in order.
    """
    if not requests:
        return []
    drawings = [[_as_points(stroke) for stroke in request.strokes] for request in requests]
    probabilities = model.predict_strokes(drawings, [request.canvas for request in requests])  # (B, C)
    finished_at = time.time()
    label_index = {label: index for index, label in enumerate(model.labels)}
    results = []
    for request, row in zip(requests, probabilities, strict=True):
        guesses = model.top_k(row, 3)
        target_index = label_index.get(request.target_word) if request.target_word is not None else None
        target_score = float(row[target_index]) if target_index is not None else None
        rule = model.rule if request.threshold is None else replace(model.rule, threshold=request.threshold)
        recognized = rule.accepts(row, target_index)
        results.append(
            RecognitionResult(
                job_id=request.job_id,
                room_code=request.room_code,
                player_id=request.player_id,
                round=request.round,
                guesses=guesses,
                target_score=target_score,
                recognized=recognized,
                submitted_at=request.submitted_at,
                finished_at=finished_at,
            )
        )
    return results


def auto_processes() -> int:
    """How many recognition processes an embedded gateway runs by default: one per core it may use,
    at most 4, and none (a thread) on a single core, where a child could only take turns with the
    event loop. On 2 cores, 2 processes gave 1.3-1.6x the recognitions of a thread and the gateway
    passed the capacity test at 80 players instead of 60 (docs/benchmarks.md)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else min(cores, 4)


# What recognition children need, imported once by the forkserver they fork from.
_PRELOAD = ("torch", "inference.recognizer", "server.recognition")

# The model of a recognition child process (`LocalRecognition(processes=N)`), loaded once per process.
_process_model: StrokeClassifier | None = None


def _load_process_model(load_model: Callable[[], StrokeClassifier], torch_threads: int | None) -> None:
    """Initializer of a recognition child process."""
    global _process_model
    if torch_threads:
        import torch  # the model's loader imports it anyway

        torch.set_num_threads(torch_threads)
    _process_model = load_model()


def _predict_in_process(requests: Sequence[DrawingRequest]) -> list[RecognitionResult]:
    """`recognize_batch` with the child process's model."""
    if _process_model is None:
        raise RuntimeError("the recognition process has no model (initializer not run)")
    return recognize_batch(_process_model, requests)


def _process_ready() -> bool:
    return _process_model is not None


# -- wire format (Redis streams) ---------------------------------------------------------------------


def encode_request(request: DrawingRequest) -> bytes:
    """A request as msgpack for `doodle:jobs`. Strokes travel as float32 x, y bytes (time is not used
    by the model), 8 bytes a point instead of ~27 for msgpack floats."""
    strokes = []
    for stroke in request.strokes:
        points = _as_points(stroke)
        strokes.append(np.ascontiguousarray(points[:, :2]).tobytes())
    data: bytes = msgpack.packb(
        {
            "v": WIRE_VERSION,
            "id": request.job_id,
            "gw": request.gateway_id,
            "room": request.room_code,
            "player": request.player_id,
            "round": request.round,
            "target": request.target_word,
            "strokes": strokes,
            "canvas": list(request.canvas) if request.canvas is not None else None,
            "deciding": request.deciding,
            "at": request.submitted_at,
            "threshold": request.threshold,
        }
    )
    return data


def decode_request(data: bytes) -> DrawingRequest:
    """Inverse of `encode_request`.

    Raises:
        ValueError: not a job of this wire version.
    """
    try:
        raw = msgpack.unpackb(data)
        if raw.get("v") != WIRE_VERSION:
            raise ValueError(f"job wire version {raw.get('v')!r}, expected {WIRE_VERSION}")
        canvas = raw["canvas"]
        return DrawingRequest(
            job_id=str(raw["id"]),
            gateway_id=str(raw["gw"]),
            room_code=str(raw["room"]),
            player_id=str(raw["player"]),
            round=int(raw["round"]),
            target_word=raw["target"],
            strokes=[np.frombuffer(stroke, dtype=np.float32).reshape(-1, 2) for stroke in raw["strokes"]],
            canvas=(float(canvas[0]), float(canvas[1])) if canvas is not None else None,
            deciding=bool(raw["deciding"]),
            submitted_at=float(raw["at"]),
            threshold=None if raw["threshold"] is None else float(raw["threshold"]),
        )
    except (KeyError, TypeError, IndexError, AttributeError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed job: {exc!r}") from exc


def encode_result(result: RecognitionResult, worker: str = "") -> bytes:
    """A result as msgpack for `doodle:results:{gateway_id}`; `worker` names who made it (for logs)."""
    data: bytes = msgpack.packb(
        {
            "v": WIRE_VERSION,
            "by": worker,
            "id": result.job_id,
            "room": result.room_code,
            "player": result.player_id,
            "round": result.round,
            "guesses": [[label, score] for label, score in result.guesses],
            "target_score": result.target_score,
            "recognized": result.recognized,
            "at": result.submitted_at,
            "done": result.finished_at,
        }
    )
    return data


def decode_result(data: bytes) -> RecognitionResult:
    """Inverse of `encode_result`.

    Raises:
        ValueError: not a result of this wire version.
    """
    try:
        raw = msgpack.unpackb(data)
        if raw.get("v") != WIRE_VERSION:
            raise ValueError(f"result wire version {raw.get('v')!r}, expected {WIRE_VERSION}")
        return RecognitionResult(
            job_id=str(raw["id"]),
            room_code=str(raw["room"]),
            player_id=str(raw["player"]),
            round=int(raw["round"]),
            guesses=[(str(label), float(score)) for label, score in raw["guesses"]],
            target_score=None if raw["target_score"] is None else float(raw["target_score"]),
            recognized=bool(raw["recognized"]),
            submitted_at=float(raw["at"]),
            finished_at=float(raw["done"]),
        )
    except (KeyError, TypeError, IndexError, AttributeError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed result: {exc!r}") from exc


async def ensure_group(client: aioredis.Redis) -> None:
    """Create the `workers` group on `doodle:jobs` (and the stream) unless it exists.

    Gateways and workers both call it, so whichever starts first, no job is written before the group
    exists; the group starts at id 0 so jobs written before it are read too.
    """
    try:
        await client.xgroup_create(JOBS_STREAM, WORKER_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


# -- metrics -----------------------------------------------------------------------------------------

_BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

UPDATES = metrics.counter(
    "doodle_recognition_updates_total", "Drawing updates offered for recognition.", ["mode"]
)
COALESCED = metrics.counter(
    "doodle_recognition_coalesced_total", "Updates replaced by a newer drawing before being sent.", ["mode"]
)
JOBS = metrics.counter("doodle_recognition_jobs_total", "Jobs sent to the model.", ["mode", "deciding"])
RESULTS = metrics.counter(
    "doodle_recognition_results_total", "Results delivered to the game (guesses).", ["mode", "recognized"]
)
DROPPED = metrics.counter(
    "doodle_recognition_dropped_total", "Jobs or results dropped, by reason.", ["mode", "reason"]
)
ERRORS = metrics.counter(
    "doodle_recognition_errors_total", "Recognition failures, by where.", ["mode", "where"]
)
LATENCY = metrics.histogram(
    "doodle_recognition_latency_seconds",
    "From 'drawing updated' (job.submitted_at) to 'guess ready' at the gateway.",
    ["mode"],
    metrics.LATENCY_BUCKETS,
)
IN_FLIGHT = metrics.gauge("doodle_recognition_in_flight", "Jobs sent and not yet answered.", ["mode"])
DEFERRED = metrics.gauge(
    "doodle_recognition_deferred", "Players whose newest drawing waits for its turn.", ["mode"]
)
QUEUE_DEPTH = metrics.gauge(
    "doodle_recognition_queue_depth",
    "Drawings waiting for a batch (batcher) or a worker (stream).",
    ["queue"],
)
BATCH_SIZE = metrics.histogram(
    "doodle_recognition_batch_size", "Drawings per model call.", ["mode"], _BATCH_SIZE_BUCKETS
)
INFERENCE = metrics.histogram(
    "doodle_recognition_inference_seconds",
    "Wall time of one batched rasterize + forward pass.",
    ["mode"],
    metrics.LATENCY_BUCKETS,
)
QUEUE_WAIT = metrics.histogram(
    "doodle_recognition_queue_wait_seconds",
    "Longest wait in the batcher of a batch's drawings.",
    ["mode"],
    metrics.LATENCY_BUCKETS,
)


def batch_observer(mode: str) -> Callable[[BatchReport], None]:
    """The batcher's `on_batch` for `mode` ("embedded" or "worker"): batch size and latency metrics."""

    def observe(report: BatchReport) -> None:
        BATCH_SIZE.observe(report.size, mode=mode)
        INFERENCE.observe(report.inference_s, mode=mode)
        QUEUE_WAIT.observe(report.queue_wait_s, mode=mode)
        if report.failed:
            ERRORS.inc(mode=mode, where="predict")

    return observe


# -- scheduling (sans I/O) ---------------------------------------------------------------------------


@dataclass(slots=True)
class _InFlight:
    key: PlayerKey
    seq: int
    job: RecognitionJob
    deadline: float
    attempts: int = 1


@dataclass(slots=True)
class _Player:
    deferred: RecognitionJob | None = None
    last_sent_at: float = -math.inf
    hold_until: float = -math.inf  # set when a job was shed: no new job before this
    in_flight: set[str] = field(default_factory=set)
    next_seq: int = 0
    delivered_seq: int = -1
    timer_at: float | None = None


class GuessScheduler:
    """Decides when each player's newest drawing is sent for recognition. No I/O; time is an argument.

    Every method returns the jobs to send now; the caller sends them and wakes the scheduler with
    `poll(now)` at `next_deadline()`.

    Args:
        min_interval_s: least time between two ordinary jobs of one player (the guess rate limit).
        max_in_flight: most ordinary jobs in flight at once, over all players; more wait their turn.
        result_timeout_s: a job unanswered this long is lost; a deciding one is sent again.
        max_attempts: how many times a deciding job is sent before it is given up.
    """

    def __init__(
        self, *, min_interval_s: float, max_in_flight: int, result_timeout_s: float, max_attempts: int = 3
    ) -> None:
        self.min_interval_s = min_interval_s
        self.max_in_flight = max_in_flight
        self.result_timeout_s = result_timeout_s
        self.max_attempts = max_attempts
        self._players: dict[PlayerKey, _Player] = {}
        # Insertion order is deadline order: every (re)send appends with now + result_timeout_s.
        self._in_flight: dict[str, _InFlight] = {}
        self._ordinary_in_flight = 0
        self._waiting: OrderedDict[PlayerKey, None] = OrderedDict()  # ready, waiting for capacity only
        self._ready_timers: list[tuple[float, int, PlayerKey]] = []
        self._tiebreak = itertools.count()
        self.coalesced = 0
        self.retried = 0
        self.lost = 0

    @property
    def in_flight(self) -> int:
        """Jobs sent and not yet answered."""
        return len(self._in_flight)

    @property
    def deferred(self) -> int:
        """Players whose newest drawing has not been sent yet."""
        return sum(1 for player in self._players.values() if player.deferred is not None)

    def offer(self, job: RecognitionJob, now: float) -> list[RecognitionJob]:
        """A player's drawing changed. Returns the jobs to send now (this one, or none yet)."""
        key = (job.room_code, job.player_id)
        player = self._players.get(key)
        if player is None:
            player = self._players[key] = _Player()
        if player.deferred is not None:
            self.coalesced += 1
        if player.deferred is not None and player.deferred.deciding and not job.deciding:
            # The newer drawing holds the finished stroke that was waiting: it decides in its place.
            job = dataclasses.replace(job, deciding=True)
        player.deferred = job
        return self._try_send(key, player, now)

    def completed(self, job_id: str, now: float) -> tuple[bool, list[RecognitionJob]]:
        """A result for `job_id` arrived.

        Returns:
            (deliver, to_send): deliver is False for a result of an unknown job (forgotten player,
            duplicate, timed out) or older than one already delivered for the player.
        """
        record = self._finish(job_id)
        if record is None:
            return False, []
        player = self._players[record.key]
        deliver = record.seq > player.delivered_seq
        if deliver:
            player.delivered_seq = record.seq
        return deliver, self._after_finish(record.key, now)

    def abandon(self, job_id: str, now: float) -> list[RecognitionJob]:
        """No result will come for `job_id` (replaced in the batcher, or the model failed)."""
        record = self._finish(job_id)
        return [] if record is None else self._after_finish(record.key, now)

    def shed(self, job_id: str, now: float) -> list[RecognitionJob]:
        """`job_id` was refused for lack of room: its drawing waits one more interval (unless newer)."""
        record = self._finish(job_id)
        if record is None:
            return []
        player = self._players[record.key]
        if player.deferred is None:
            player.deferred = record.job
        # Back off: under overload a player guesses less often (and never retries in a tight loop).
        player.hold_until = now + max(self.min_interval_s, SHED_BACKOFF_S)
        return self._try_send(record.key, player, now)

    def forget(self, room_code: str, player_id: str) -> list[str]:
        """Drop a player's deferred drawing and in-flight jobs (their late results will be unknown).

        Returns:
            The ids of the jobs that were in flight. Call `pump(now)` afterwards: room was freed.
        """
        key = (room_code, player_id)
        player = self._players.pop(key, None)
        self._waiting.pop(key, None)
        if player is None:
            return []
        for job_id in player.in_flight:
            record = self._in_flight.pop(job_id)
            if not record.job.deciding:
                self._ordinary_in_flight -= 1
        return sorted(player.in_flight)

    def pump(self, now: float) -> list[RecognitionJob]:
        """Send the drawings that were waiting only for capacity, while there is some."""
        to_send: list[RecognitionJob] = []
        while self._waiting and self._ordinary_in_flight < self.max_in_flight:
            key, _ = self._waiting.popitem(last=False)
            player = self._players.get(key)
            if player is not None:
                to_send += self._try_send(key, player, now)
        return to_send

    def poll(self, now: float) -> list[RecognitionJob]:
        """Timers: players whose interval has passed, and jobs whose result is overdue."""
        to_send: list[RecognitionJob] = []
        while self._ready_timers and self._ready_timers[0][0] <= now:
            when, _, key = heapq.heappop(self._ready_timers)
            player = self._players.get(key)
            if player is not None and player.timer_at == when:
                player.timer_at = None
                to_send += self._try_send(key, player, now)
        while self._in_flight:
            job_id, record = next(iter(self._in_flight.items()))
            if record.deadline > now:
                break
            if record.job.deciding and record.attempts < self.max_attempts:
                # Never let a deciding result get lost: send the same job again (same id, so whichever
                # copy answers first is delivered and the other is dropped as unknown).
                del self._in_flight[job_id]
                record.attempts += 1
                record.deadline = now + self.result_timeout_s
                self._in_flight[job_id] = record
                self.retried += 1
                to_send.append(record.job)
            else:
                self._finish(job_id)
                self.lost += 1
                to_send += self._after_finish(record.key, now)
        return to_send

    def next_deadline(self) -> float | None:
        """When `poll` has work next, or None."""
        candidates = []
        if self._ready_timers:
            candidates.append(self._ready_timers[0][0])
        if self._in_flight:
            candidates.append(next(iter(self._in_flight.values())).deadline)
        return min(candidates) if candidates else None

    def _deciding_in_flight(self, player: _Player) -> bool:
        return any(self._in_flight[job_id].job.deciding for job_id in player.in_flight)

    def _try_send(self, key: PlayerKey, player: _Player, now: float) -> list[RecognitionJob]:
        job = player.deferred
        if job is not None and job.deciding:
            # At once, whatever the interval or capacity say, once the player's previous deciding
            # job is answered (one at a time per player: what bounds one player's share).
            if self._deciding_in_flight(player):
                return []
            player.deferred = None
            self._waiting.pop(key, None)
            return [self._send(key, player, job, now)]
        if job is None or player.in_flight:
            return []  # nothing new, or the previous job's result will trigger the next one
        ready_at = max(player.last_sent_at + self.min_interval_s, player.hold_until)
        if now < ready_at:
            if player.timer_at != ready_at:
                player.timer_at = ready_at
                heapq.heappush(self._ready_timers, (ready_at, next(self._tiebreak), key))
            return []
        if not job.deciding and self._ordinary_in_flight >= self.max_in_flight:
            self._waiting[key] = None
            return []
        player.deferred = None
        self._waiting.pop(key, None)
        return [self._send(key, player, job, now)]

    def _send(self, key: PlayerKey, player: _Player, job: RecognitionJob, now: float) -> RecognitionJob:
        record = _InFlight(key=key, seq=player.next_seq, job=job, deadline=now + self.result_timeout_s)
        player.next_seq += 1
        player.last_sent_at = now
        player.in_flight.add(job.job_id)
        self._in_flight[job.job_id] = record
        if not job.deciding:
            self._ordinary_in_flight += 1
        return job

    def _finish(self, job_id: str) -> _InFlight | None:
        record = self._in_flight.pop(job_id, None)
        if record is None:
            return None
        if not record.job.deciding:
            self._ordinary_in_flight -= 1
        self._players[record.key].in_flight.discard(job_id)
        return record

    def _after_finish(self, key: PlayerKey, now: float) -> list[RecognitionJob]:
        to_send: list[RecognitionJob] = []
        player = self._players.get(key)
        if player is not None:
            to_send += self._try_send(key, player, now)
        return to_send + self.pump(now)


# -- the services ------------------------------------------------------------------------------------

OnResult = Callable[[RecognitionResult], Awaitable[None]]


class RecognitionService(Protocol):
    """What the gateway holds: see the module docstring for the promises."""

    labels: tuple[str, ...]

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def update(self, job: RecognitionJob) -> None: ...

    def forget(self, room_code: str, player_id: str) -> None: ...


class _ScheduledRecognition:
    """The gateway half both deployments share: scheduling, timers, result delivery, metrics."""

    mode = "embedded"

    def __init__(
        self,
        *,
        on_result: OnResult,
        guess_interval_ms: float,
        threshold: float | None,
        max_in_flight: int,
        result_timeout_s: float,
        max_concurrent_deliveries: int = 64,
        stats_interval_s: float = 30.0,
    ) -> None:
        self.labels: tuple[str, ...] = ()
        self._stats_interval_s = stats_interval_s
        self._delivered = 0
        self._max_concurrent_deliveries = max_concurrent_deliveries
        self.threshold = threshold
        self._on_result = on_result
        self._scheduler = GuessScheduler(
            min_interval_s=guess_interval_ms / 1000.0,
            max_in_flight=max_in_flight,
            result_timeout_s=result_timeout_s,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._deliveries: deque[RecognitionResult] = deque()
        self._deliveries_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._coalesced_seen = 0
        IN_FLIGHT.set_function(lambda: self._scheduler.in_flight, mode=self.mode)
        DEFERRED.set_function(lambda: self._scheduler.deferred, mode=self.mode)

    # -- the gateway's API ---------------------------------------------------------------------------

    def update(self, job: RecognitionJob) -> None:
        """Offer a player's newest drawing; never blocks (see the module docstring)."""
        if self._closed:
            return
        UPDATES.inc(mode=self.mode)
        self._dispatch(self._scheduler.offer(job, self._now()))
        if self._scheduler.coalesced != self._coalesced_seen:
            COALESCED.inc(self._scheduler.coalesced - self._coalesced_seen, mode=self.mode)
            self._coalesced_seen = self._scheduler.coalesced
        self._rearm()

    def forget(self, room_code: str, player_id: str) -> None:
        """Drop the player's queued work; their late results are dropped quietly."""
        dropped = self._scheduler.forget(room_code, player_id)
        self._withdraw((room_code, player_id), dropped)
        self._dispatch(self._scheduler.pump(self._now()))
        self._rearm()

    @property
    def in_flight(self) -> int:
        """Jobs sent and not yet answered."""
        return self._scheduler.in_flight

    # -- for subclasses ------------------------------------------------------------------------------

    def _send(self, job: RecognitionJob) -> None:
        raise NotImplementedError

    def _withdraw(self, key: PlayerKey, job_ids: list[str]) -> None:
        """The player was forgotten with these jobs in flight; drop them where that saves work."""

    def _now(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def _start_delivery(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks.append(asyncio.create_task(self._deliver_loop(), name=f"recognition-deliver-{self.mode}"))
        if self._stats_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._stats_loop(), name=f"recognition-stats-{self.mode}"))

    def _stats_fields(self) -> dict[str, Any]:
        """Extra fields for the periodic `recognition.stats` log line."""
        return {}

    async def _stats_loop(self) -> None:
        """Log throughput and queue depths every `stats_interval_s` (the same numbers as /metrics)."""
        last_delivered, last_at = self._delivered, time.monotonic()
        while True:
            await asyncio.sleep(self._stats_interval_s)
            now = time.monotonic()
            log.info(
                "recognition.stats",
                mode=self.mode,
                guesses_per_s=round((self._delivered - last_delivered) / (now - last_at), 1),
                in_flight=self._scheduler.in_flight,
                deferred=self._scheduler.deferred,
                coalesced=self._scheduler.coalesced,
                lost=self._scheduler.lost,
                **self._stats_fields(),
            )
            last_delivered, last_at = self._delivered, now

    async def _stop_tasks(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks.clear()
        IN_FLIGHT.remove(mode=self.mode)
        DEFERRED.remove(mode=self.mode)

    def _dispatch(self, jobs: list[RecognitionJob]) -> None:
        for job in jobs:
            JOBS.inc(mode=self.mode, deciding=job.deciding)
            self._send(job)

    def _result_arrived(self, result: RecognitionResult) -> None:
        deliver, to_send = self._scheduler.completed(result.job_id, self._now())
        self._dispatch(to_send)
        self._rearm()
        if not deliver:
            DROPPED.inc(mode=self.mode, reason="stale_or_unknown_result")
            log.debug("recognition.result_dropped", job_id=result.job_id, player_id=result.player_id)
            return
        self._deliveries.append(result)
        self._deliveries_ready.set()

    def _job_abandoned(self, job_id: str, reason: str) -> None:
        DROPPED.inc(mode=self.mode, reason=reason)
        self._dispatch(self._scheduler.abandon(job_id, self._now()))
        self._rearm()

    def _job_shed(self, job_id: str) -> None:
        DROPPED.inc(mode=self.mode, reason="overloaded")
        self._dispatch(self._scheduler.shed(job_id, self._now()))
        self._rearm()

    def _rearm(self) -> None:
        deadline = self._scheduler.next_deadline()
        if deadline is None or self._closed:
            return
        if self._timer is not None and self._timer_at <= deadline:
            return  # an earlier wake-up is booked; it re-arms for the rest
        if self._timer is not None:
            self._timer.cancel()
        loop = self._loop or asyncio.get_running_loop()
        self._timer_at = deadline
        self._timer = loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = math.inf
        lost_before, retried_before = self._scheduler.lost, self._scheduler.retried
        self._dispatch(self._scheduler.poll(self._now()))
        if self._scheduler.lost != lost_before:
            DROPPED.inc(self._scheduler.lost - lost_before, mode=self.mode, reason="result_timeout")
            log.warning("recognition.results_lost", count=self._scheduler.lost - lost_before, mode=self.mode)
        if self._scheduler.retried != retried_before:
            log.warning(
                "recognition.deciding_retried", count=self._scheduler.retried - retried_before, mode=self.mode
            )
        self._rearm()

    async def _deliver_loop(self) -> None:
        """Run `on_result` for each result: up to `max_concurrent_deliveries` at once (the gateway's
        callback does Redis round trips; one at a time would cap guesses/s at 1 / round trip), and
        one player's results one after another, in order."""
        slots = asyncio.Semaphore(self._max_concurrent_deliveries)
        busy: dict[PlayerKey, deque[RecognitionResult]] = {}  # player -> results parked behind one running
        running: set[asyncio.Task[None]] = set()

        async def deliver(key: PlayerKey, result: RecognitionResult) -> None:
            try:
                while True:
                    try:
                        await self._on_result(result)
                    except Exception:
                        ERRORS.inc(mode=self.mode, where="on_result")
                        log.exception(
                            "recognition.on_result_failed", job_id=result.job_id, player_id=result.player_id
                        )
                    parked = busy[key]
                    if not parked:
                        break
                    result = parked.popleft()
            finally:
                del busy[key]
                slots.release()

        try:
            while True:
                while not self._deliveries:
                    self._deliveries_ready.clear()
                    await self._deliveries_ready.wait()
                result = self._deliveries.popleft()
                self._delivered += 1
                LATENCY.observe(max(0.0, time.time() - result.submitted_at), mode=self.mode)
                RESULTS.inc(mode=self.mode, recognized=result.recognized)
                key = (result.room_code, result.player_id)
                if key in busy:
                    busy[key].append(result)
                    continue
                await slots.acquire()
                busy[key] = deque()
                task = asyncio.create_task(deliver(key, result))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()


class LocalRecognition(_ScheduledRecognition):
    """Embedded deployment: a `MicroBatcher` in this process, the model in a worker thread or in
    child processes.

    Args:
        recognizer: the loaded model (`inference.recognizer.Recognizer`).
        on_result: awaited once per delivered result (see the module docstring).
        max_batch, max_wait_ms, max_pending, executor: the batcher's settings.
        processes: run batches in this many child processes (up to one batch each at a time)
            instead of a thread of this process; 0 keeps the thread. Needs `load_model`.
        load_model: loads the model in a child process; picklable (a module-level function or a
            `functools.partial` of one, e.g. ``partial(Recognizer.load, path)``).
        guess_interval_ms: least time between two ordinary guesses of one player.
        threshold: overrides the threshold of the model's decision rule; None keeps the rule the
            checkpoint was shipped with (`inference.decision`).
        max_in_flight: most ordinary jobs in flight at once (default: `max_pending`).
        result_timeout_s: a job unanswered this long is given up (deciding ones are re-sent).
        torch_threads: torch intra-op threads for this process, set at start (None: leave torch's
            default, one per core).
    """

    mode = "embedded"

    def __init__(
        self,
        recognizer: StrokeClassifier,
        *,
        on_result: OnResult,
        max_batch: int = 64,
        max_wait_ms: float = 4.0,
        max_pending: int = 2048,
        guess_interval_ms: float = 150.0,
        threshold: float | None = None,
        max_in_flight: int | None = None,
        result_timeout_s: float = 30.0,
        executor: Any = None,
        torch_threads: int | None = 1,
        processes: int = 0,
        load_model: Callable[[], StrokeClassifier] | None = None,
    ) -> None:
        if processes and load_model is None:
            raise ValueError("processes needs load_model, to load the model in each process")
        if processes and executor is not None:
            raise ValueError("give processes or an executor, not both")
        super().__init__(
            on_result=on_result,
            guess_interval_ms=guess_interval_ms,
            threshold=threshold,
            max_in_flight=max_pending if max_in_flight is None else max_in_flight,
            result_timeout_s=result_timeout_s,
        )
        self.labels = tuple(recognizer.labels)
        self._recognizer = recognizer
        self._torch_threads = torch_threads
        self.pool = (
            ProcessPool(processes, _load_process_model, (load_model, torch_threads), preload=_PRELOAD)
            if processes
            else None
        )
        self.batcher: MicroBatcher[DrawingRequest, RecognitionResult] = MicroBatcher(
            _predict_in_process if self.pool is not None else self._predict_batch,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_pending=max_pending,
            executor=self.pool or executor,
            concurrency=processes or 1,
            on_batch=batch_observer(self.mode),
        )
        QUEUE_DEPTH.set_function(lambda: self.batcher.pending, queue="batcher")

    def _predict_batch(self, requests: Sequence[DrawingRequest]) -> list[RecognitionResult]:
        return recognize_batch(self._recognizer, requests)

    def _stats_fields(self) -> dict[str, Any]:
        stats = self.batcher.stats
        return {
            "queue_depth": stats.pending,
            "batches": stats.batches,
            "avg_batch": round(stats.avg_batch_size, 2),
            "last_batch": stats.last_batch_size,
            "inference_p50_ms": round(stats.inference_p50_ms, 2),
            "inference_p99_ms": round(stats.inference_p99_ms, 2),
            "shed": stats.overloaded,
        }

    async def start(self) -> None:
        """Start the batcher and the delivery task."""
        if self._torch_threads:
            import torch  # the recognizer has loaded it already

            # Process-wide. One intra-op thread leaves the other core to the event loop: on two cores,
            # two OpenMP threads spinning beside a busy event loop were several times slower
            # (docs/benchmarks.md, "Recognition pipeline").
            torch.set_num_threads(self._torch_threads)
        if self.pool is not None:
            # Load the model in every child now: the first guesses should not wait seconds for it.
            await asyncio.to_thread(self.pool.warm_up, _process_ready)
        await self.batcher.start()
        self._start_delivery()
        log.info(
            "recognition.started",
            mode=self.mode,
            processes=self.pool.processes if self.pool else 0,
            max_batch=self.batcher.max_batch,
            max_wait_ms=self.batcher.max_wait_s * 1000.0,
            labels=len(self.labels),
        )

    async def aclose(self) -> None:
        """Stop: pending drawings are dropped (no one is left to receive their guesses)."""
        await self.batcher.aclose(drain=False)
        if self.pool is not None:
            await asyncio.to_thread(self.pool.shutdown, True, cancel_futures=True)
        await self._stop_tasks()
        QUEUE_DEPTH.remove(queue="batcher")

    def _send(self, job: RecognitionJob) -> None:
        request = DrawingRequest.from_job(job, self.threshold)
        try:
            future = self.batcher.enqueue(request.key, request, deciding=job.deciding)
        except Overloaded:
            self._job_shed(job.job_id)
            return
        except BatcherClosed:
            return
        future.add_done_callback(lambda done: self._batch_done(job.job_id, done))

    def _batch_done(self, job_id: str, future: asyncio.Future[RecognitionResult]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._result_arrived(future.result())
        elif isinstance(error, Superseded):
            self._job_abandoned(job_id, "superseded")
        elif isinstance(error, Overloaded):
            self._job_shed(job_id)
        elif isinstance(error, BatcherClosed):
            return
        else:
            ERRORS.inc(mode=self.mode, where="predict")
            log.error("recognition.predict_failed", job_id=job_id, exc_info=error)
            self._job_abandoned(job_id, "predict_failed")

    def _withdraw(self, key: PlayerKey, job_ids: list[str]) -> None:
        self.batcher.discard(key)


class StreamRecognition(_ScheduledRecognition):
    """Distributed deployment: jobs to the `doodle:jobs` stream, results from this gateway's stream.

    Args:
        redis_url: the Redis that the workers read (this service opens its own connections, binary).
        gateway_id: this gateway's id; workers route results to `doodle:results:{gateway_id}`.
        on_result: awaited once per delivered result (see the module docstring).
        labels: the model's labels; default: what the workers published under `doodle:labels`, or
            else the labels of `checkpoint` (the shipped model when None).
        checkpoint: see `labels`.
        guess_interval_ms, threshold, max_in_flight: as for `LocalRecognition`.
        result_timeout_s: a job unanswered this long is given up (deciding ones are re-sent); keep it
            above the workers' claim idle time plus a batch.
        jobs_maxlen: approximate cap of the jobs stream. Workers delete finished jobs, so the stream
            holds only unfinished ones; the cap is a last guard against a fleet with no workers.
        block_ms: how long one XREAD of results blocks.
    """

    mode = "stream"

    def __init__(
        self,
        redis_url: str,
        *,
        gateway_id: str,
        on_result: OnResult,
        labels: Sequence[str] | None = None,
        checkpoint: Path | None = None,
        guess_interval_ms: float = 150.0,
        threshold: float | None = None,
        max_in_flight: int = 2048,
        result_timeout_s: float = 15.0,
        jobs_maxlen: int = 100_000,
        block_ms: int = 1000,
    ) -> None:
        super().__init__(
            on_result=on_result,
            guess_interval_ms=guess_interval_ms,
            threshold=threshold,
            max_in_flight=max_in_flight,
            result_timeout_s=result_timeout_s,
        )
        self.gateway_id = gateway_id
        self.results_key = results_stream(gateway_id)
        self._redis_url = redis_url
        self._labels_given = tuple(labels) if labels is not None else None
        self._checkpoint = checkpoint
        self._jobs_maxlen = jobs_maxlen
        self._block_ms = block_ms
        self._outbox: deque[bytes] = deque()
        self._outbox_ready = asyncio.Event()
        self._client: aioredis.Redis | None = None
        self._reader_client: aioredis.Redis | None = None

    async def start(self) -> None:
        """Connect, make sure the consumer group exists, learn the labels, start sending and reading."""
        self._client = aioredis.Redis.from_url(self._redis_url)
        # XREAD BLOCK holds its connection; a client of its own keeps it off the sender's pool.
        self._reader_client = aioredis.Redis.from_url(self._redis_url)
        await ensure_group(self._client)
        self.labels = await self._resolve_labels()
        # A previous process with this gateway id left results nobody is waiting for.
        await self._client.delete(self.results_key)
        self._start_delivery()
        self._tasks.append(asyncio.create_task(self._send_loop(), name="recognition-send"))
        self._tasks.append(asyncio.create_task(self._read_loop(), name="recognition-read"))
        QUEUE_DEPTH.set_function(lambda: len(self._outbox), queue="gateway_outbox")
        log.info("recognition.started", mode=self.mode, gateway_id=self.gateway_id, labels=len(self.labels))

    async def aclose(self) -> None:
        """Stop sending and reading; jobs already in the stream finish, and their results expire."""
        await self._stop_tasks()
        QUEUE_DEPTH.remove(queue="gateway_outbox")
        for client in (self._client, self._reader_client):
            if client is not None:
                await client.aclose()
        self._client = self._reader_client = None

    def _stats_fields(self) -> dict[str, Any]:
        return {"outbox": len(self._outbox)}

    async def _resolve_labels(self) -> tuple[str, ...]:
        if self._labels_given is not None:
            return self._labels_given
        assert self._client is not None
        published = await self._client.get(LABELS_KEY)
        if published:
            return tuple(str(label) for label in json.loads(published))
        from inference.recognizer import Recognizer  # only when no worker has said yet

        return Recognizer.load(self._checkpoint).labels

    def _send(self, job: RecognitionJob) -> None:
        self._outbox.append(encode_request(DrawingRequest.from_job(job, self.threshold)))
        self._outbox_ready.set()

    async def _send_loop(self) -> None:
        assert self._client is not None
        backoff_s = 0.05
        while True:
            while not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
            payloads = list(self._outbox)
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for payload in payloads:
                        pipe.xadd(JOBS_STREAM, {"job": payload}, maxlen=self._jobs_maxlen, approximate=True)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                # Keep the jobs and try again: the outbox is bounded by players, like everything here.
                ERRORS.inc(mode=self.mode, where="send")
                log.warning(
                    "recognition.send_failed", error=repr(exc), jobs=len(payloads), retry_in_s=backoff_s
                )
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 2.0)
                continue
            backoff_s = 0.05
            for _ in payloads:
                self._outbox.popleft()

    async def _read_loop(self) -> None:
        assert self._reader_client is not None
        client = self._reader_client
        last_id: bytes | str = "0-0"
        backoff_s = 0.05
        while True:
            try:
                response = await client.xread({self.results_key: last_id}, count=1024, block=self._block_ms)
                if response:
                    _stream, entries = response[0]
                    for entry_id, fields in entries:
                        last_id = entry_id
                        self._handle_result_entry(fields)
                    # Read results are not needed again: keep the stream short.
                    await client.xtrim(self.results_key, minid=last_id, approximate=False)
                backoff_s = 0.05
            except (RedisError, OSError) as exc:
                ERRORS.inc(mode=self.mode, where="read")
                log.warning("recognition.read_failed", error=repr(exc), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 2.0)

    def _handle_result_entry(self, fields: dict[bytes, bytes]) -> None:
        try:
            result = decode_result(fields[b"result"])
        except (KeyError, ValueError) as exc:
            ERRORS.inc(mode=self.mode, where="decode")
            log.error("recognition.bad_result", error=repr(exc))
            return
        self._result_arrived(result)
