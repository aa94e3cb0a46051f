"""Embedded recognition: the model in a thread of the gateway, or in its child processes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from inference.batcher import BatcherClosed, MicroBatcher, Withdrawn
from inference.processes import ProcessPool
from inference.recognize import StrokeClassifier
from server.recognition.jobs import PlayerKey, RecognitionJob, RecognitionResult, judge
from server.recognition.metrics import ERRORS, QUEUE_DEPTH, batch_observer
from server.recognition.service import OnResult, ScheduledRecognition

log = structlog.get_logger("server.recognition")


def auto_processes() -> int:
    """How many recognition processes an embedded gateway runs by default: one per core it may use,
    at most 4, and none (a thread) on a single core, where a child could only take turns with the
    event loop. On 2 cores, 2 processes gave 1.3-1.6x the recognitions of a thread and the gateway
    passed the capacity test at 80 players instead of 60 (docs/benchmarks.md)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else min(cores, 4)


# What recognition children need, imported once by the forkserver they fork from.
_PRELOAD = ("torch", "inference.recognizer", "server.recognition.embedded")

# The model of a recognition child process (`LocalRecognition(processes=N)`), loaded once per process.
_process_model: StrokeClassifier | None = None


def _load_process_model(
    load_model: Callable[[], StrokeClassifier], torch_threads: int | None, nice: int = 0
) -> None:
    """Initializer of a recognition child process."""
    global _process_model
    if nice:
        os.nice(nice)
    if torch_threads:
        import torch  # the model's loader imports it anyway

        torch.set_num_threads(torch_threads)
    _process_model = load_model()


def _predict_in_process(requests: Sequence[RecognitionJob]) -> list[RecognitionResult]:
    """`judge` with the child process's model."""
    if _process_model is None:
        raise RuntimeError("the recognition process has no model (initializer not run)")
    return judge(_process_model, requests)


def _process_ready() -> bool:
    return _process_model is not None


class LocalRecognition(ScheduledRecognition):
    """Embedded deployment: a `MicroBatcher` in this process, the model in a worker thread or in
    child processes. The batcher runs what the `GuessScheduler` hands it; the scheduler alone decides
    what waits (it bounds ordinary jobs by `max_in_flight`), so the batcher's queue stays short.

    Args:
        recognizer: the loaded model (`inference.recognizer.Recognizer`).
        on_result: awaited once per delivered result (see the module docstring).
        max_batch, max_wait_ms, executor: the batcher's settings.
        processes: run batches in this many child processes (up to one batch each at a time)
            instead of a thread of this process; 0 keeps the thread. Needs `load_model`.
        load_model: loads the model in a child process; picklable (a module-level function or a
            `functools.partial` of one, e.g. ``partial(Recognizer.load, path)``).
        guess_interval_ms: least time between two ordinary guesses of one player.
        threshold: overrides the threshold of the model's decision rule; None keeps the rule the
            checkpoint was shipped with (`inference.decision`).
        max_in_flight: most ordinary jobs in flight at once (default: two full batches per process,
            one running and one filling: enough to keep every process busy, few enough that a
            deciding job queued behind them waits at most about one batch).
        result_timeout_s: a job unanswered this long is given up (deciding ones are re-sent).
        torch_threads: torch intra-op threads for this process, set at start (None: leave torch's
            default, one per core).
        nice: added to the child processes' nice value: when the machine is busy, the gateway's event
            loop, which every stroke, relay and guess passes through, goes first, and batches grow.
    """

    mode = "embedded"

    def __init__(
        self,
        recognizer: StrokeClassifier,
        *,
        on_result: OnResult,
        max_batch: int = 64,
        max_wait_ms: float = 10.0,
        guess_interval_ms: float = 150.0,
        threshold: float | None = None,
        max_in_flight: int | None = None,
        result_timeout_s: float = 30.0,
        executor: Any = None,
        torch_threads: int | None = 1,
        processes: int = 0,
        load_model: Callable[[], StrokeClassifier] | None = None,
        nice: int = 0,
    ) -> None:
        if processes and load_model is None:
            raise ValueError("processes needs load_model, to load the model in each process")
        if processes and executor is not None:
            raise ValueError("give processes or an executor, not both")
        super().__init__(
            on_result=on_result,
            guess_interval_ms=guess_interval_ms,
            threshold=threshold,
            max_in_flight=2 * max_batch * max(processes, 1) if max_in_flight is None else max_in_flight,
            result_timeout_s=result_timeout_s,
        )
        self.labels = tuple(recognizer.labels)
        self._recognizer = recognizer
        self._torch_threads = torch_threads
        self.pool = (
            ProcessPool(processes, _load_process_model, (load_model, torch_threads, nice), preload=_PRELOAD)
            if processes
            else None
        )
        self.batcher: MicroBatcher[RecognitionJob, RecognitionResult] = MicroBatcher(
            _predict_in_process if self.pool is not None else self._predict_batch,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            executor=self.pool or executor,
            concurrency=processes or 1,
            on_batch=batch_observer(self.mode),
        )
        QUEUE_DEPTH.set_function(lambda: self.batcher.pending, queue="batcher")

    def _predict_batch(self, requests: Sequence[RecognitionJob]) -> list[RecognitionResult]:
        return judge(self._recognizer, requests)

    def _stats_fields(self) -> dict[str, Any]:
        stats = self.batcher.stats
        return {
            "queue_depth": stats.pending,
            "batches": stats.batches,
            "avg_batch": round(stats.avg_batch_size, 2),
            "last_batch": stats.last_batch_size,
            "inference_p50_ms": round(stats.inference_p50_ms, 2),
            "inference_p99_ms": round(stats.inference_p99_ms, 2),
            "withdrawn": stats.withdrawn,
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
            await self.pool.start(_process_ready)
        await self.batcher.start()
        self._start_delivery()
        log.info(
            "recognition.started",
            mode=self.mode,
            processes=self.pool.processes if self.pool else 0,
            max_batch=self.batcher.max_batch,
            max_wait_ms=self.batcher.max_wait_s * 1000.0,
            labels=len(self.labels),
            runtime=self._recognizer.runtime,
        )
        if self._recognizer.fallback_reason is not None:
            log.warning("recognition.onnxruntime_unused", reason=self._recognizer.fallback_reason)

    async def aclose(self) -> None:
        """Stop: pending drawings are dropped (no one is left to receive their guesses)."""
        await self.batcher.aclose(drain=False)
        if self.pool is not None:
            await self.pool.aclose()
        await self._stop_tasks()
        QUEUE_DEPTH.remove(queue="batcher")

    def _send(self, job: RecognitionJob) -> None:
        request = self._with_threshold(job)
        try:
            future = self.batcher.enqueue(request, urgent=job.deciding)
        except BatcherClosed:
            return
        future.add_done_callback(lambda done: self._batch_done(job.job_id, done))

    def _batch_done(self, job_id: str, future: asyncio.Future[RecognitionResult]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._result_arrived(future.result())
        elif isinstance(error, Withdrawn | BatcherClosed):
            return  # the player was forgotten, or the service is closing: no one waits for it
        else:
            ERRORS.inc(mode=self.mode, where="predict")
            log.error("recognition.predict_failed", job_id=job_id, exc_info=error)
            self._job_abandoned(job_id, "predict_failed")

    def _take_back(self, job_ids: list[str]) -> list[str]:
        wanted, taken = set(job_ids), []

        def match(request: RecognitionJob) -> bool:
            if request.job_id in wanted:
                taken.append(request.job_id)
                return True
            return False

        self.batcher.withdraw(match)
        return taken

    def _withdraw(self, key: PlayerKey, job_ids: list[str]) -> None:
        if job_ids:
            withdrawn = set(job_ids)
            self.batcher.withdraw(lambda request: request.job_id in withdrawn)
