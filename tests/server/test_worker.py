"""Worker processes on a real Redis: sharing one stream, crash recovery after SIGKILL, metrics."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import msgpack
import pytest
import redis.asyncio as aioredis

from inference.formats import read_ndjson
from server.recognition import (
    JOBS_STREAM,
    WORKER_GROUP,
    RecognitionJob,
    decode_result,
    encode_request,
    results_stream,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "gw-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Workers:
    """`python -m server.worker` subprocesses against the test Redis; all killed at the end."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, list[str]] = {}

    def _collect(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.logs[name].append(line.decode(errors="replace"))

    async def wait_started(self, *names: str, timeout: float = 30.0) -> None:
        """Wait for each worker's `worker.started` log line (it then reads jobs right away)."""
        async with asyncio.timeout(timeout):
            while not all(any("worker.started" in line for line in self.logs[name]) for name in names):
                for name in names:
                    if self.processes[name].poll() is not None:
                        raise AssertionError(f"{name} exited early:\n{''.join(self.logs[name])}")
                await asyncio.sleep(0.05)

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "server.worker",
            "--redis-url",
            self.redis_url,
            "--name",
            name,
            "--max-batch",
            "4",
            "--max-wait-ms",
            "1",
            "--threads",
            "1",
            "--log-format",
            "json",
            *extra,
        ]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.processes[name] = process
        self.logs[name] = []
        threading.Thread(target=self._collect, args=(name, process), daemon=True).start()
        return process

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def workers(redis_url: str) -> Iterator[Workers]:
    pool = Workers(redis_url)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def drawings(quickdraw_dir: Path) -> list[list[list[list[float]]]]:
    records = itertools.islice(read_ndjson(quickdraw_dir / "raw" / "star.ndjson.gz"), 16)
    return [[stroke.tolist() for stroke in record.strokes] for record in records]


def job_payload(index: int, strokes: list[list[list[float]]]) -> bytes:
    job = RecognitionJob(
        job_id=f"job-{index}",
        gateway_id=GATEWAY,
        room_code="ROOM",
        player_id=f"p{index}",  # one player per job: nothing coalesces
        round=1,
        target_word="star",
        strokes=strokes,
        canvas=None,
        deciding=index % 2 == 0,
        submitted_at=time.time(),
    )
    return encode_request(replace(job, threshold=0.5))


async def pending_of(client: aioredis.Redis, consumer: str) -> list[bytes]:
    rows = await client.xpending_range(
        JOBS_STREAM, WORKER_GROUP, min="-", max="+", count=100, consumername=consumer
    )
    return [row["message_id"] for row in rows]


async def test_two_workers_share_the_stream_and_survive_a_sigkill(
    workers: Workers, redis_client: aioredis.Redis, drawings: list[list[list[list[float]]]]
) -> None:
    """SIGKILL a worker holding jobs: its jobs are taken over, and every job gets exactly one result."""
    metrics_port = free_port()
    slow = ("--debug-delay-ms", "700", "--claim-idle-ms", "1000")
    doomed = workers.start("w1", *slow)
    survivor = workers.start("w2", *slow, "--metrics-port", str(metrics_port), "--metrics-host", "127.0.0.1")
    await workers.wait_started("w1", "w2")

    entry_to_job = {}
    for index, strokes in enumerate(drawings):
        entry_id = await redis_client.xadd(JOBS_STREAM, {"job": job_payload(index, strokes)})
        entry_to_job[entry_id] = f"job-{index}"
    await redis_client.xadd(JOBS_STREAM, {"job": b"not msgpack at all"})  # a malformed job is dropped

    async with asyncio.timeout(10):
        while True:
            if await pending_of(redis_client, "w1"):
                break
            await asyncio.sleep(0.01)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    orphaned = {entry_to_job[entry_id] for entry_id in await pending_of(redis_client, "w1")}
    assert orphaned, "w1 died holding no job; the test proves nothing"

    results: dict[str, list[str]] = {}
    last_id: bytes | str = "0-0"
    async with asyncio.timeout(25):
        while len(results) < len(drawings):
            response = await redis_client.xread({results_stream(GATEWAY): last_id}, block=500)
            for _stream, entries in response or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    result = decode_result(fields[b"result"])
                    worker = msgpack.unpackb(fields[b"result"])["by"]
                    results.setdefault(result.job_id, []).append(worker)
                    assert result.guesses and result.round == 1
    await asyncio.sleep(0.5)  # room for a duplicate to show up, if there were one
    for _stream, entries in await redis_client.xread({results_stream(GATEWAY): last_id}) or []:
        for _entry_id, fields in entries:
            results.setdefault(decode_result(fields[b"result"]).job_id, []).append("late")

    assert sorted(results) == sorted(entry_to_job.values())
    assert all(len(makers) == 1 for makers in results.values()), results
    assert all(results[job_id] == ["w2"] for job_id in orphaned)
    assert await redis_client.xlen(JOBS_STREAM) == 0
    assert (await redis_client.xpending(JOBS_STREAM, WORKER_GROUP))["pending"] == 0

    body = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    )
    claimed = next(line for line in body.splitlines() if line.startswith("doodle_worker_claimed_total"))
    assert float(claimed.split()[-1]) >= len(orphaned)
    assert "doodle_recognition_batch_size_bucket" in body

    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(timeout=15) == 0


def test_worker_without_redis_url_refuses_to_start(workers: Workers) -> None:
    """The worker needs a Redis URL; without one it exits with status 2 and says why."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    completed = subprocess.run(
        [sys.executable, "-m", "server.worker", "--log-format", "json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert b"worker.no_redis_url" in completed.stderr
