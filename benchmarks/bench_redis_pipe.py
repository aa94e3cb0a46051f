"""CPU per hot-path Redis command: `server.tick_pipeline.TickPipeline` against a redis-py pipeline
per tick (what TickPipeline did before it had a connection of its own).

Each "tick" queues `--concurrency` EVALSHA calls of a stroke-sized script (RPUSH + PUBLISH of a
200-byte entry, like APPEND_STROKE's writes) and awaits their replies, as the gateway's read loops
do; one tick follows the other. Reported: this process's CPU microseconds per command (the gateway's
side; Redis's own CPU is not counted) and wall microseconds, both ways in one run against one
embedded redis-server.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_redis_pipe.py --commands 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import uvloop

from server.redis_embedded import EmbeddedRedis
from server.tick_pipeline import TickPipeline

SCRIPT = "redis.call('RPUSH', KEYS[1], ARGV[1]); redis.call('PUBLISH', KEYS[1], ARGV[1]); return 1"
ENTRY = b"p" * 200


class RedisPyTick:
    """The reference: the calls of one tick in one redis-py `Pipeline` (pool checkout, packing and
    reply loop in Python)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.queued: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []

    def call(self, *command: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self.queued:
            loop.call_soon(lambda: loop.create_task(self.send()))
        self.queued.append((command, future))
        return future

    async def send(self) -> None:
        batch, self.queued = self.queued, []
        async with self.client.pipeline(transaction=False) as pipe:
            for command, _future in batch:
                pipe.execute_command(*command)
            replies = await pipe.execute(raise_on_error=False)
        for (_command, future), reply in zip(batch, replies, strict=True):
            future.set_result(reply)


async def measure(
    name: str, call: Callable[[], Awaitable[Any]], commands: int, concurrency: int
) -> dict[str, Any]:
    for _ in range(200):  # warm up
        await call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(commands // concurrency):
        await asyncio.gather(*(call() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "path": name,
        "concurrency": concurrency,
        "cpu_us_per_command": round(1e6 * cpu / commands, 1),
        "wall_us_per_command": round(1e6 * wall / commands, 1),
    }


async def run(url: str, commands: int) -> list[dict[str, Any]]:
    client = aioredis.Redis.from_url(url)
    script = client.register_script(SCRIPT)
    await script(keys=["bench:k"], args=[ENTRY])  # loaded once
    reference, tick = RedisPyTick(client), TickPipeline(client)
    rows = []
    for concurrency in (1, 4, 16):
        rows.append(
            await measure(
                "redis-py pipeline per tick",
                lambda: reference.call("EVALSHA", script.sha, 1, "bench:k", ENTRY),
                commands,
                concurrency,
            )
        )
        rows.append(
            await measure(
                "TickPipeline (own connection, hiredis)",
                lambda: tick.run_script(script, ["bench:k"], [ENTRY]),
                commands,
                concurrency,
            )
        )
        await client.delete("bench:k")
    await tick.aclose()
    await client.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20000, help="commands per row")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here too")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    with EmbeddedRedis() as server:
        rows = uvloop.run(run(server.url, args.commands))
    for row in rows:
        print(
            f"{row['path']:<40} concurrency {row['concurrency']:>2}: "
            f"{row['cpu_us_per_command']:>6} CPU µs/command, {row['wall_us_per_command']:>6} wall µs/command"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
