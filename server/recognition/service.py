"""What both recognition deployments share: the gateway half of a service.

`update()` and `forget()` feed the `GuessScheduler`; one delivery task awaits `on_result` for each
result in arrival order, dropping stale, duplicate and forgotten ones; the embedded and stream
deployments supply only how jobs reach the model and results come back. The promises a service
keeps are in the package docstring (`server/recognition/__init__.py`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

import structlog

from server.recognition.jobs import PlayerKey, RecognitionJob, RecognitionResult
from server.recognition.metrics import (
    COALESCED,
    DEFERRED,
    DROPPED,
    ERRORS,
    IN_FLIGHT,
    JOBS,
    LATENCY,
    RESULTS,
    UPDATES,
)
from server.recognition.scheduler import GuessScheduler

log = structlog.get_logger("server.recognition")

OnResult = Callable[[RecognitionResult], Awaitable[None]]


class RecognitionService(Protocol):
    """What the gateway holds: see the module docstring for the promises."""

    labels: tuple[str, ...]

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def update(self, job: RecognitionJob) -> None: ...

    def forget(self, room_code: str, player_id: str) -> None: ...


class ScheduledRecognition:
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
        now = self._now()
        self._dispatch(self._scheduler.offer(job, now))
        if job.deciding:
            # The coalescing a queue used to do on its own, decided here: an older ordinary drawing
            # of this player still waiting in the batcher is taken back rather than judged.
            outdated = self._scheduler.outdated_in_flight(job.room_code, job.player_id)
            for job_id in self._take_back(outdated) if outdated else []:
                self._dispatch(self._scheduler.abandon(job_id, now))
        if self._scheduler.coalesced != self._coalesced_seen:
            COALESCED.inc(self._scheduler.coalesced - self._coalesced_seen, mode=self.mode)
            self._coalesced_seen = self._scheduler.coalesced
        self._rearm()

    def _with_threshold(self, job: RecognitionJob) -> RecognitionJob:
        """The job as it leaves for the model: with this service's threshold, when one is set."""
        return job if self.threshold is None else replace(job, threshold=self.threshold)

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

    def _take_back(self, job_ids: list[str]) -> list[str]:
        """Take these jobs back where they have not started; returns the ids taken back."""
        return []

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
                outcome = "word_matched" if result.recognized else "word_not_matched"
                RESULTS.inc(mode=self.mode, outcome=outcome if result.room_code else "practice")
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
