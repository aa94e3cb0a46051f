"""Micro-batching: many small concurrent requests become few batched calls of a `predict_batch`.

The batcher knows no model, no Redis and no rooms. Callers `submit(request)` and await the result;
one loop collects pending requests until `max_batch` are waiting or the oldest has waited
`max_wait_ms`, hands them to `predict_batch` in a worker thread (torch releases the GIL, so the event
loop keeps serving sockets meanwhile) and resolves each caller with its own result. While a batch runs,
the next one fills, so under load batches grow by themselves and the wait costs nothing.

Rules:

- No admission. The batcher runs every request it is given and never refuses, replaces or evicts
  one: what is worth running, and how much may wait, is decided before it (for drawings, by
  `server.recognition.scheduler.GuessScheduler`, which bounds what it hands over). Its queue is as
  long as its callers let it be.
- Order. Urgent requests run before ordinary ones; each lane is first in, first out.
- `withdraw(match)` takes queued requests back (their caller left); a running batch is not touched.
- Exceptions propagate: when `predict_batch` raises, every caller of that batch gets the exception.
- Concurrency. One batch runs at a time by default (batches in one process contend for its GIL);
  with `concurrency` N and an executor of N processes, up to N batches run at once, the next one
  filling meanwhile as before. What is pending is shared evenly among the free slots (64 pending and
  two free processes make two batches of 32, not one of 64 and an idle process; a few pending are
  not split below 8 a batch, where the CPU per request climbs), so batches grow to
  `max_batch` only when there is enough work for every process.

Errors::

    RuntimeError
     └── BatcherError
          ├── Withdrawn      taken back with withdraw() before it ran
          └── BatcherClosed  submitted after aclose(), or still pending when it did not drain
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from inference.processes import ProcessPool

__all__ = [
    "BatchReport",
    "BatcherClosed",
    "BatcherError",
    "BatcherStats",
    "MicroBatcher",
    "Withdrawn",
]

Req = TypeVar("Req")
Res = TypeVar("Res")

# Pending requests are split among free processes only into batches at least this large: at the
# server's ordinary load (a few requests at once) one process takes them all. Rasterizing and the
# network cost 2-3x more CPU per drawing at batch 1 than at batch 8 (docs/benchmarks.md), and one
# batch of 8 finishes ~1 ms after two of 4 in parallel would.
_SPLIT_FLOOR = 8
# How many recent batches the latency percentiles in `BatcherStats` are computed over.
_LATENCY_WINDOW = 2048


class BatcherError(RuntimeError):
    """Base of the batcher's errors."""

    code = "batcher_error"


class Withdrawn(BatcherError):
    """The request was taken back with `withdraw()` before it ran."""

    code = "withdrawn"


class BatcherClosed(BatcherError):
    """The batcher is closed, or closed before this request ran."""

    code = "batcher_closed"


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What one batch did, handed to the `on_batch` observer after it ran.

    Attributes:
        size: number of requests in the batch.
        deciding: how many of them were urgent.
        queue_wait_s: longest time a request of this batch waited before the batch started.
        inference_s: wall time of the `predict_batch` call.
        pending_after: requests still queued when the batch started.
        failed: whether `predict_batch` raised.
    """

    size: int
    deciding: int
    queue_wait_s: float
    inference_s: float
    pending_after: int
    failed: bool


@dataclass(frozen=True, slots=True)
class BatcherStats:
    """A snapshot of the batcher's counters.

    Attributes:
        pending: requests waiting for a batch now.
        running: requests in the batch that is running now.
        batches: batches run so far.
        items: requests run so far.
        withdrawn: requests taken back before they ran.
        last_batch_size: size of the most recent batch (0 before the first).
        avg_batch_size: items / batches (0.0 before the first).
        inference_p50_ms, inference_p95_ms, inference_p99_ms: `predict_batch` wall time over the
            most recent batches (NaN before the first).
    """

    pending: int
    running: int
    batches: int
    items: int
    withdrawn: int
    last_batch_size: int
    avg_batch_size: float
    inference_p50_ms: float
    inference_p95_ms: float
    inference_p99_ms: float


class _Slot(Generic[Req, Res]):
    """One queued request and the future its caller awaits."""

    __slots__ = ("enqueued_at", "future", "request", "urgent")

    def __init__(self, request: Req, future: asyncio.Future[Res], urgent: bool, enqueued_at: float) -> None:
        self.request = request
        self.future = future
        self.urgent = urgent
        self.enqueued_at = enqueued_at


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values; NaN for none.

    Args:
        sorted_values: ascending values.
        fraction: 0.5 for the median, 0.99 for p99.
    """
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return float(sorted_values[min(rank, len(sorted_values) - 1)])


class MicroBatcher(Generic[Req, Res]):
    """Collects requests into batches for `predict_batch`, urgent ones first.

    Args:
        predict_batch: called in a worker thread (or a child process) with the batch's requests, in
            queue order (urgent first); must return one result per request, in the same order.
        max_batch: largest batch.
        max_wait_ms: longest time the oldest pending request waits for a batch to fill. 0 runs
            whatever is pending as soon as the previous batch is done.
        executor: where `predict_batch` runs: a thread pool (default: a private one-thread pool) or
            child processes (`inference.processes.ProcessPool`).
        concurrency: most batches running at once. Keep 1 for threads: rasterizing holds the GIL, so
            a second batch in the same process would not finish sooner. Set it to the number of
            processes of a `ProcessPool`.
        on_batch: called on the event loop after every batch (metrics, logs); must not block.
    """

    def __init__(
        self,
        predict_batch: Callable[[Sequence[Req]], Sequence[Res]],
        *,
        max_batch: int = 64,
        max_wait_ms: float = 4.0,
        executor: concurrent.futures.Executor | ProcessPool | None = None,
        concurrency: int = 1,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        self._predict_batch = predict_batch
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self._executor = executor
        self._own_executor = executor is None
        self.concurrency = concurrency
        self._on_batch = on_batch
        # Two lanes so urgent requests jump the line.
        self._urgent: deque[_Slot[Req, Res]] = deque()
        self._normal: deque[_Slot[Req, Res]] = deque()
        self._work_ready = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._closed = False
        self._running = 0
        self._batches = 0
        self._items = 0
        self._withdrawn = 0
        self._last_batch_size = 0
        self._latencies_s: deque[float] = deque(maxlen=_LATENCY_WINDOW)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the batching loop (idempotent)."""
        if self._closed:
            raise BatcherClosed("the batcher was closed")
        if self._loop_task is None:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="micro-batcher"
                )
            self._loop_task = asyncio.create_task(self._batch_loop(), name="micro-batcher")

    async def aclose(self, *, drain: bool = True) -> None:
        """Stop accepting requests; run what is pending (when `drain`) and stop the loop.

        Requests still pending when the loop stops (all of them when `drain` is False) raise
        `BatcherClosed` in their callers. With `drain` False a batch already running is abandoned:
        its thread finishes it, but its callers get `BatcherClosed`.
        """
        if self._closed and self._loop_task is None:
            return
        self._closed = True
        task, self._loop_task = self._loop_task, None
        if task is not None:
            if drain:
                self._work_ready.set()
                self._batch_full.set()
                await task
            else:
                task.cancel()
                await asyncio.wait([task])  # waits without re-raising the loop's CancelledError
        for queue in (self._urgent, self._normal):
            for slot in queue:
                if not slot.future.done():
                    slot.future.set_exception(BatcherClosed("the batcher closed before this request ran"))
            queue.clear()
        if self._own_executor and isinstance(self._executor, concurrent.futures.Executor):
            self._executor.shutdown(wait=False)
            self._executor = None

    # -- requests -----------------------------------------------------------------------------------

    async def submit(self, request: Req, *, urgent: bool = False) -> Res:
        """Queue `request` and wait for its result.

        Args:
            request: handed to `predict_batch` as is.
            urgent: run before every ordinary request still queued.

        Returns:
            The result `predict_batch` gave for this request.

        Raises:
            Withdrawn: the request was taken back before it ran.
            BatcherClosed: the batcher is closed, or closed before the request ran.
            Exception: whatever `predict_batch` raised for this request's batch.
        """
        return await self.enqueue(request, urgent=urgent)

    def enqueue(self, request: Req, *, urgent: bool = False) -> asyncio.Future[Res]:
        """Non-waiting form of `submit`: queue the request and return the future of its result.

        The future fails with the exceptions listed under `submit`; BatcherClosed is raised here
        directly when the batcher is closed or not started.
        """
        if self._closed:
            raise BatcherClosed("the batcher is closed")
        if self._loop_task is None:
            raise BatcherClosed("the batcher is not started")
        future: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(_Slot(request, future, urgent, time.monotonic()))
        self._work_ready.set()
        if self.pending >= self.max_batch:
            self._batch_full.set()
        return future

    def withdraw(self, match: Callable[[Req], bool]) -> int:
        """Take back the queued requests `match` accepts (their caller left); they fail with `Withdrawn`.

        Returns:
            How many were taken back. A running batch is not stopped.
        """
        taken = 0
        for queue in (self._urgent, self._normal):
            kept: list[_Slot[Req, Res]] = []
            for slot in queue:  # `match` is asked once per request
                if not match(slot.request):
                    kept.append(slot)
                    continue
                taken += 1
                if not slot.future.done():
                    slot.future.set_exception(Withdrawn("the request was withdrawn"))
            queue.clear()
            queue.extend(kept)
        self._withdrawn += taken
        return taken

    @property
    def pending(self) -> int:
        """Requests waiting for a batch now."""
        return len(self._urgent) + len(self._normal)

    @property
    def stats(self) -> BatcherStats:
        """A snapshot of the counters and recent inference latencies."""
        latencies = sorted(self._latencies_s)
        return BatcherStats(
            pending=self.pending,
            running=self._running,
            batches=self._batches,
            items=self._items,
            withdrawn=self._withdrawn,
            last_batch_size=self._last_batch_size,
            avg_batch_size=self._items / self._batches if self._batches else 0.0,
            inference_p50_ms=percentile(latencies, 0.50) * 1000.0,
            inference_p95_ms=percentile(latencies, 0.95) * 1000.0,
            inference_p99_ms=percentile(latencies, 0.99) * 1000.0,
        )

    # -- the loop -----------------------------------------------------------------------------------

    async def _wait_batch_ready(self) -> bool:
        """Wait until a batch should run: `max_batch` pending, or the oldest waited `max_wait_ms`.

        Returns:
            False when the batcher closed with nothing pending.
        """
        while not self.pending:
            if self._closed:
                return False
            self._work_ready.clear()
            await self._work_ready.wait()
        while self.pending < self.max_batch and not self._closed:
            oldest = min(queue[0].enqueued_at for queue in (self._urgent, self._normal) if queue)
            remaining = oldest + self.max_wait_s - time.monotonic()
            if remaining <= 0:
                break
            self._batch_full.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._batch_full.wait()
            except TimeoutError:
                break
        return True

    def _take_batch(self, free_slots: int = 1) -> list[_Slot[Req, Res]]:
        # Shared among free slots, but into no more batches than hold _SPLIT_FLOOR each: a small
        # batch costs several times more CPU per request than a larger one (fixed per-call costs).
        batches = max(1, min(free_slots, self.pending // _SPLIT_FLOOR))
        size = min(self.max_batch, math.ceil(self.pending / batches))
        batch: list[_Slot[Req, Res]] = []
        for queue in (self._urgent, self._normal):
            while queue and len(batch) < size:
                batch.append(queue.popleft())
        return batch

    async def _batch_loop(self) -> None:
        free = asyncio.Semaphore(self.concurrency)
        running: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            free.release()

        try:
            while True:
                # Take the next batch only when it can run: until then it keeps filling.
                await free.acquire()
                if not await self._wait_batch_ready():
                    break
                batch = self._take_batch(free_slots=self.concurrency - len(running))
                if not batch:
                    free.release()
                    continue
                task = asyncio.create_task(self._run_batch(batch), name="micro-batch")
                running.add(task)
                task.add_done_callback(finished)
            if running:
                await asyncio.wait(running)
        except asyncio.CancelledError:
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)
            raise

    async def _run_batch(self, batch: list[_Slot[Req, Res]]) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        requests = [slot.request for slot in batch]
        self._running += len(batch)
        failure: BaseException | None = None
        results: Sequence[Res] = ()
        try:
            if isinstance(self._executor, ProcessPool):
                results = await self._executor.run(self._predict_batch, requests)
            else:
                results = await loop.run_in_executor(self._executor, self._predict_batch, requests)
            if len(results) != len(requests):
                raise ValueError(f"predict_batch returned {len(results)} results for {len(requests)}")
        except asyncio.CancelledError:
            for slot in batch:
                if not slot.future.done():
                    slot.future.set_exception(BatcherClosed("the batcher was cancelled mid-batch"))
            raise
        except Exception as exc:  # handed to every caller of this batch, never swallowed
            failure = exc
        finally:
            self._running -= len(batch)
        inference_s = time.monotonic() - started
        for index, slot in enumerate(batch):
            if slot.future.done():
                continue  # its caller was cancelled
            if failure is not None:
                slot.future.set_exception(failure)
            else:
                slot.future.set_result(results[index])
        self._batches += 1
        self._items += len(batch)
        self._last_batch_size = len(batch)
        self._latencies_s.append(inference_s)
        if self._on_batch is not None:
            self._on_batch(
                BatchReport(
                    size=len(batch),
                    deciding=sum(1 for slot in batch if slot.urgent),
                    queue_wait_s=max(started - slot.enqueued_at for slot in batch),
                    inference_s=inference_s,
                    pending_after=self.pending,
                    failed=failure is not None,
                )
            )
