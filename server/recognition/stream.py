"""Distributed recognition: jobs to the `doodle:jobs` stream, results from this gateway's stream."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from server.recognition.codecs import decode_result, encode_request
from server.recognition.jobs import RecognitionJob
from server.recognition.keys import JOBS_STREAM, LABELS_KEY, ensure_group, results_stream
from server.recognition.metrics import ERRORS, QUEUE_DEPTH
from server.recognition.service import OnResult, ScheduledRecognition

log = structlog.get_logger("server.recognition")


class StreamRecognition(ScheduledRecognition):
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
        self._outbox.append(encode_request(self._with_threshold(job)))
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
