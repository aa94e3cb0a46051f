"""`doodle-party worker`: recognition jobs from the Redis Stream in, results to each gateway's stream out.

Any number of workers, on any machines, share the consumer group `workers` on `doodle:jobs`:

1. read: XREADGROUP only as many jobs as one batch, counting the one running, so an idle worker is
   never starved by a busy one holding a backlog;
2. batch: the same `MicroBatcher` + `judge` (`inference.recognize`) as the embedded deployment. The
   worker admits nothing on its own: what reaches the stream was admitted by the gateways'
   `GuessScheduler`, and the worker bounds its intake by the XREADGROUP count alone;
3. publish: XADD the result to `doodle:results:{gateway_id}`, then XACK + XDEL the job, in one
   pipeline per batch. Publishing before acknowledging makes delivery at-least-once; the gateway drops
   the duplicate a crash can cause.

Crash recovery: a worker that dies leaves its jobs in the group's pending list. Every worker runs
XAUTOCLAIM for jobs idle longer than `claim_idle_ms`, so another worker takes them over within about
`claim_idle_ms * 1.5`. Live workers keep their own held jobs from looking idle (a slow batch must not
be stolen) with the `TOUCH_OWNED` script. A job delivered more than `max_deliveries` times is a poison
job (it keeps killing workers): it is acknowledged and dropped with an ERROR log.

On SIGTERM/SIGINT the worker stops reading, finishes what it holds, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import prometheus_client
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from inference.batcher import BatcherClosed, MicroBatcher
from inference.recognize import StrokeClassifier
from server import metrics
from server.config import add_model_flags
from server.recognition import (
    JOBS_STREAM,
    LABELS_KEY,
    RESULTS_MAXLEN,
    RESULTS_TTL_S,
    WORKER_GROUP,
    RecognitionJob,
    RecognitionResult,
    decode_request,
    encode_result,
    ensure_group,
    judge,
    results_stream,
)
from server.recognition.metrics import ERRORS, QUEUE_DEPTH, batch_observer

__all__ = ["TOUCH_OWNED", "WorkerConfig", "configure_parser", "run", "run_worker"]

log = structlog.get_logger(__name__)

# Reset the idle time of the jobs this worker still holds, but only those it still owns: a plain
# XCLAIM would steal back a job that another worker has rightly claimed in the meantime.
# KEYS[1] jobs stream
# ARGV[1] group, ARGV[2] this consumer, ARGV[3..] entry ids held
TOUCH_OWNED = """
local touched = 0
for i = 3, #ARGV do
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
    if pending[1] ~= nil and pending[1][2] == ARGV[2] then
        redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
        touched = touched + 1
    end
end
return touched
"""

JOBS_DONE = metrics.counter(
    "doodle_worker_jobs_total",
    "Jobs finished by this worker, by outcome: word_matched, word_not_matched, practice, superseded "
    "(a newer drawing of the player came first) or poison (dropped after killing workers).",
    ["outcome"],
)
CLAIMED = metrics.counter("doodle_worker_claimed_total", "Jobs taken over from a dead or stuck worker.")
STREAM_BACKLOG = metrics.gauge("doodle_worker_stream_backlog", "Jobs in doodle:jobs not yet finished.")


# A live worker touches its held jobs every third of this, so only a dead worker's jobs reach it.
DEFAULT_CLAIM_IDLE_MS = 3000


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """A worker's tunables (the CLI fills it from flags and the environment).

    Attributes:
        max_batch, max_wait_ms: the batcher's settings.
        claim_idle_ms: a pending job idle this long is taken over from its (presumed dead) worker.
        max_deliveries: a job delivered this many times is dropped as poison.
        block_ms: how long one XREADGROUP blocks.
        debug_delay_ms: extra sleep in every batch (tests and demos of crash recovery only).
        stats_interval_s: how often the worker logs its throughput line.
    """

    max_batch: int = 64
    max_wait_ms: float = 10.0
    claim_idle_ms: int = DEFAULT_CLAIM_IDLE_MS
    max_deliveries: int = 5
    block_ms: int = 500
    debug_delay_ms: float = 0.0
    stats_interval_s: float = 10.0


@dataclass(slots=True)
class _Outgoing:
    entry_id: bytes
    gateway_id: str
    result: RecognitionResult | None  # None: acknowledge only (malformed or trimmed job)


class _Worker:
    """One worker process's loops around a shared batcher; see the module docstring."""

    def __init__(
        self,
        client: aioredis.Redis,
        reader_client: aioredis.Redis,
        consumer_name: str,
        recognizer: StrokeClassifier,
        config: WorkerConfig,
    ) -> None:
        self.client = client
        # XREADGROUP BLOCK holds its connection for the whole block: the reader has a client of its own.
        self.reader_client = reader_client
        self.consumer = consumer_name
        self.recognizer = recognizer
        self.config = config
        self.batcher: MicroBatcher[RecognitionJob, RecognitionResult] = MicroBatcher(
            self._predict_batch,
            max_batch=config.max_batch,
            max_wait_ms=config.max_wait_ms,
            on_batch=batch_observer("worker"),
        )
        # Jobs held at once, running batch included: a busy worker leaves new jobs to an idle one.
        self.capacity = config.max_batch
        self.held: dict[bytes, RecognitionJob] = {}
        self.room = asyncio.Event()
        self.outbox: deque[_Outgoing] = deque()
        self.outbox_ready = asyncio.Event()
        self.touch_owned = client.register_script(TOUCH_OWNED)
        self.done = 0

    def _predict_batch(self, requests: Sequence[RecognitionJob]) -> list[RecognitionResult]:
        if self.config.debug_delay_ms > 0:
            time.sleep(self.config.debug_delay_ms / 1000.0)
        return judge(self.recognizer, requests)

    # -- intake ---------------------------------------------------------------------------------------

    def _accept(self, entries: list[Any]) -> None:
        for entry_id, fields in entries:
            if fields is None or entry_id in self.held:
                if fields is None:  # trimmed away while pending: nothing left to do but acknowledge
                    self.outbox.append(_Outgoing(entry_id, "", None))
                    self.outbox_ready.set()
                continue
            try:
                request = decode_request(fields[b"job"])
            except (KeyError, ValueError) as exc:
                ERRORS.inc(mode="worker", where="decode")
                log.error("worker.bad_job", entry_id=entry_id.decode(), error=repr(exc))
                self.outbox.append(_Outgoing(entry_id, "", None))
                self.outbox_ready.set()
                continue
            self.held[entry_id] = request
            try:
                future = self.batcher.enqueue(request, urgent=request.deciding)
            except BatcherClosed:  # stopping: the job stays pending and another worker claims it
                del self.held[entry_id]
                continue
            future.add_done_callback(functools.partial(self._batch_done, entry_id))

    def _batch_done(self, entry_id: bytes, future: asyncio.Future[RecognitionResult]) -> None:
        request = self.held.get(entry_id)
        if request is None or future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.outbox.append(_Outgoing(entry_id, request.gateway_id, future.result()))
        elif isinstance(error, BatcherClosed):
            self.held.pop(entry_id, None)  # left pending in Redis: another worker claims it
            self.room.set()
            return
        else:
            # The model failed on this batch: leave the job pending; it is retried after claim_idle_ms
            # and dropped as poison after max_deliveries.
            ERRORS.inc(mode="worker", where="predict")
            log.error("worker.predict_failed", entry_id=entry_id.decode(), exc_info=error)
            self.held.pop(entry_id, None)
            self.room.set()
            return
        self.outbox_ready.set()

    async def _wait_room(self, stop: asyncio.Event) -> int:
        while len(self.held) >= self.capacity and not stop.is_set():
            self.room.clear()
            await self.room.wait()
        return self.capacity - len(self.held)

    async def read_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            room = await self._wait_room(stop)
            if stop.is_set():
                break
            response = await self.reader_client.xreadgroup(
                WORKER_GROUP, self.consumer, {JOBS_STREAM: ">"}, count=room, block=self.config.block_ms
            )
            for _stream, entries in response or []:
                self._accept(entries)

    async def claim_loop(self, stop: asyncio.Event) -> None:
        """Take over jobs idle longer than claim_idle_ms (their worker died), and drop poison jobs."""
        interval_s = max(0.05, self.config.claim_idle_ms / 2000.0)
        while not stop.is_set():
            await _sleep_unless(stop, interval_s)
            if stop.is_set():
                break
            cursor: bytes | str = "0-0"
            while not stop.is_set():
                room = self.capacity - len(self.held)
                if room <= 0:
                    break
                response = await self.client.xautoclaim(
                    JOBS_STREAM,
                    WORKER_GROUP,
                    self.consumer,
                    min_idle_time=self.config.claim_idle_ms,
                    start_id=cursor,
                    count=room,
                )
                cursor, claimed = response[0], response[1]
                if claimed:
                    await self._take_over(claimed)
                if cursor in (b"0-0", "0-0"):
                    break

    async def _take_over(self, claimed: list[Any]) -> None:
        live = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
        deliveries: dict[bytes, int] = {}
        if live:
            async with self.client.pipeline(transaction=False) as pipe:
                for entry_id, _fields in live:
                    pipe.xpending_range(JOBS_STREAM, WORKER_GROUP, min=entry_id, max=entry_id, count=1)
                for entry_id, rows in zip([e for e, _ in live], await pipe.execute(), strict=True):
                    if rows:
                        deliveries[entry_id] = int(rows[0]["times_delivered"])
        accepted = []
        for entry_id, fields in claimed:
            if fields is not None and deliveries.get(entry_id, 0) > self.config.max_deliveries:
                JOBS_DONE.inc(outcome="poison")
                log.error(
                    "worker.poison_job_dropped", entry_id=entry_id.decode(), deliveries=deliveries[entry_id]
                )
                self.outbox.append(_Outgoing(entry_id, "", None))
                self.outbox_ready.set()
                continue
            accepted.append((entry_id, fields))
        CLAIMED.inc(len(accepted))
        log.info("worker.claimed", count=len(accepted), consumer=self.consumer)
        self._accept(accepted)

    async def touch_loop(self, stop: asyncio.Event) -> None:
        """Keep held jobs from looking idle, so a slow batch is not taken over by another worker."""
        interval_s = max(0.05, self.config.claim_idle_ms / 3000.0)
        while not stop.is_set():
            await _sleep_unless(stop, interval_s)
            held = list(self.held)
            if held:
                await self.touch_owned(keys=[JOBS_STREAM], args=[WORKER_GROUP, self.consumer, *held])

    # -- output ---------------------------------------------------------------------------------------

    async def publish_loop(self) -> None:
        """Results to the gateways, then XACK + XDEL, one pipeline for everything that is ready."""
        while True:
            while not self.outbox:
                self.outbox_ready.clear()
                await self.outbox_ready.wait()
            batch = list(self.outbox)
            self.outbox.clear()
            # MULTI/EXEC: a worker killed here has published and acknowledged all of these, or none.
            async with self.client.pipeline(transaction=True) as pipe:
                for item in batch:
                    if item.result is not None:
                        key = results_stream(item.gateway_id)
                        pipe.xadd(
                            key, {"result": encode_result(item.result, self.consumer)}, maxlen=RESULTS_MAXLEN
                        )
                        pipe.expire(key, RESULTS_TTL_S)
                ids = [item.entry_id for item in batch]
                pipe.xack(JOBS_STREAM, WORKER_GROUP, *ids)
                pipe.xdel(JOBS_STREAM, *ids)
                await pipe.execute()
            for item in batch:
                self.held.pop(item.entry_id, None)
                if item.result is not None:
                    # The outcomes of doodle_recognition_results_total: a match is not yet a recognition.
                    matched = "word_matched" if item.result.recognized else "word_not_matched"
                    JOBS_DONE.inc(outcome=matched if item.result.room_code else "practice")
            self.done += sum(1 for item in batch if item.result is not None)
            self.room.set()

    async def stats_loop(self, stop: asyncio.Event) -> None:
        last_done, last_at = self.done, time.monotonic()
        while not stop.is_set():
            await _sleep_unless(stop, self.config.stats_interval_s)
            backlog = await self.client.xlen(JOBS_STREAM)
            STREAM_BACKLOG.set(backlog)
            stats = self.batcher.stats
            now = time.monotonic()
            log.info(
                "worker.stats",
                consumer=self.consumer,
                guesses_per_s=round((self.done - last_done) / max(now - last_at, 1e-9), 1),
                held=len(self.held),
                stream_backlog=backlog,
                batches=stats.batches,
                avg_batch=round(stats.avg_batch_size, 2),
                inference_p50_ms=round(stats.inference_p50_ms, 2),
                inference_p99_ms=round(stats.inference_p99_ms, 2),
            )
            last_done, last_at = self.done, now

    async def drain(self, timeout_s: float) -> None:
        """Wait until every held job is published (or `timeout_s` passes: they stay pending)."""
        deadline = time.monotonic() + timeout_s
        while self.held and time.monotonic() < deadline:
            self.room.clear()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self.room.wait()
            except TimeoutError:
                break


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass


async def run_worker(
    redis_url: str,
    *,
    consumer_name: str,
    recognizer: StrokeClassifier,
    max_batch: int = 64,
    max_wait_ms: float = 10.0,
    claim_idle_ms: int = 3000,
    stop_event: asyncio.Event,
    debug_delay_ms: float = 0.0,
    max_deliveries: int = 5,
    stats_interval_s: float = 10.0,
) -> None:
    """Serve recognition jobs from `doodle:jobs` until `stop_event` is set.

    Args:
        redis_url: the Redis the gateways write jobs to.
        consumer_name: this worker's name in the consumer group (unique per live worker).
        recognizer: the loaded model.
        max_batch, max_wait_ms: the batcher's settings.
        claim_idle_ms: take over jobs idle this long from a worker that died.
        stop_event: set it to stop; held jobs are finished first (up to 10 s).
        debug_delay_ms: sleep this long in every batch (crash-recovery tests and demos only).
        max_deliveries: drop a job delivered more often than this as poison.
        stats_interval_s: period of the `worker.stats` log line.

    Raises:
        RedisError: Redis went away; the CLI exits non-zero and the supervisor restarts the worker.
    """
    config = WorkerConfig(
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        claim_idle_ms=claim_idle_ms,
        max_deliveries=max_deliveries,
        debug_delay_ms=debug_delay_ms,
        stats_interval_s=stats_interval_s,
    )
    client = aioredis.Redis.from_url(redis_url)
    reader_client = aioredis.Redis.from_url(redis_url)
    worker = _Worker(client, reader_client, consumer_name, recognizer, config)
    try:
        await ensure_group(client)
        await client.set(LABELS_KEY, json.dumps(list(recognizer.labels)))
        await worker.batcher.start()
        QUEUE_DEPTH.set_function(lambda: worker.batcher.pending, queue="worker_batcher")
        log.info(
            "worker.started",
            consumer=consumer_name,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            claim_idle_ms=claim_idle_ms,
            labels=len(recognizer.labels),
            runtime=recognizer.runtime,
        )
        if recognizer.fallback_reason is not None:
            log.warning("worker.onnxruntime_unused", reason=recognizer.fallback_reason)
        publisher = asyncio.create_task(worker.publish_loop(), name="worker-publish")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(worker.read_loop(stop_event), name="worker-read")
                group.create_task(worker.claim_loop(stop_event), name="worker-claim")
                group.create_task(worker.touch_loop(stop_event), name="worker-touch")
                group.create_task(worker.stats_loop(stop_event), name="worker-stats")
                group.create_task(_watch_publisher(publisher, stop_event), name="worker-publisher-watch")
            await worker.drain(timeout_s=10.0)
        finally:
            publisher.cancel()
            await asyncio.wait([publisher])
            await worker.batcher.aclose(drain=False)
            QUEUE_DEPTH.remove(queue="worker_batcher")
        log.info("worker.stopped", consumer=consumer_name, finished=worker.done)
    finally:
        await client.aclose()
        await reader_client.aclose()


async def _watch_publisher(publisher: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Propagate a publisher failure into the task group; return when asked to stop."""
    stop_wait = asyncio.create_task(stop.wait())
    done, _pending = await asyncio.wait([publisher, stop_wait], return_when=asyncio.FIRST_COMPLETED)
    stop_wait.cancel()
    if publisher in done:
        publisher.result()  # raises the publisher's exception
        raise RuntimeError("the result publisher stopped")


# -- command line ------------------------------------------------------------------------------------


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Flags of `doodle-party worker` (environment: REDIS_URL, DOODLE_CHECKPOINT, DOODLE_MAX_BATCH...)."""
    parser.add_argument("--redis-url", help="Redis holding the doodle:jobs stream (REDIS_URL); required")
    add_model_flags(parser)
    parser.add_argument("--name", help="consumer name, unique per worker (default: host-pid)")
    parser.add_argument(
        "--claim-idle-ms",
        type=int,
        default=DEFAULT_CLAIM_IDLE_MS,
        help="take over jobs idle this long from a dead worker (default %(default)s)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads (default: torch's own)"
    )
    parser.add_argument("--metrics-port", type=int, default=0, help="serve /metrics on this port (0: off)")
    parser.add_argument("--metrics-host", default="0.0.0.0", help="address for /metrics (default 0.0.0.0)")
    parser.add_argument("--debug-delay-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--log-level", help="debug, info, warning or error")
    parser.add_argument(
        "--log-format",
        choices=["auto", "json", "console"],
        help="auto (default): coloured lines on a terminal, JSON lines otherwise",
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of `doodle-party worker`; returns the process exit code."""
    from server.config import settings_from_args
    from server.logs import configure_logging

    settings = settings_from_args(args)
    configure_logging(settings.log_level, settings.log_format)
    if not settings.redis_url:
        log.error("worker.no_redis_url", hint="pass --redis-url or set REDIS_URL")
        return 2
    from inference.recognizer import Recognizer  # torch: only once there is work for it

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from inference.ort import OnnxUnavailable

    try:
        recognizer = Recognizer.load(settings.checkpoint, settings.model_runtime)
    except OnnxUnavailable as exc:  # --model-runtime onnxruntime without a usable graph
        log.error("worker.no_onnx_graph", reason=str(exc))
        return 2
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # The client's own HTTP server, in a thread: it answers scrapes even while a batch holds the GIL
        # for a while or the event loop is busy.
        server = (
            prometheus_client.start_http_server(args.metrics_port, args.metrics_host)[0]
            if args.metrics_port
            else None
        )
        try:
            await run_worker(
                settings.redis_url or "",
                consumer_name=name,
                recognizer=recognizer,
                max_batch=settings.max_batch,
                max_wait_ms=settings.max_wait_ms,
                claim_idle_ms=args.claim_idle_ms,
                stop_event=stop,
                debug_delay_ms=args.debug_delay_ms,
            )
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()

    try:
        asyncio.run(main())
    except RedisError as exc:
        log.error("worker.redis_failed", error=repr(exc))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m server.worker ...`: the same as `doodle-party worker ...`."""
    parser = argparse.ArgumentParser(prog="doodle-party worker", description=__doc__.splitlines()[0])
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
