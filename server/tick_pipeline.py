"""Redis commands issued in one event-loop tick go out as one pipeline: one write, one read, one wake-up.

A stroke batch costs the gateway one Lua call (`APPEND_STROKE`) and a guess one PUBLISH. Sent one by
one, each is a socket write, a read and a wake-up of the connection's reader; on a busy gateway these
were the largest share of its CPU (docs/benchmarks.md, "Capacity levers"). Callers still await their
own reply, and each gets its own error: a refused stroke does not fail its neighbours in the pipeline.

Order: commands queued in one tick run in queue order, and a caller that awaits its reply before
queueing the next (one connection's read loop) keeps its own order across ticks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

__all__ = ["TickPipeline"]

_Queued = tuple[tuple[Any, ...], AsyncScript | None, "asyncio.Future[Any]"]


class TickPipeline:
    """Queues commands until the current tick ends, then sends them in one pipeline.

    Args:
        client: the Redis client whose connection pool the pipelines use.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._queued: list[_Queued] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self.pipelines = 0
        self.commands = 0

    async def run_script(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> Any:
        """EVALSHA `script` in this tick's pipeline (loaded on first use, or after a Redis restart).

        Raises:
            redis.exceptions.ResponseError: the script's error reply, for this call only.
        """
        return await self._queue(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    async def publish(self, channel: str, message: bytes) -> int:
        """PUBLISH in this tick's pipeline; returns the number of subscribers that got it."""
        return int(await self._queue(("PUBLISH", channel, message), None))

    def _queue(self, command: tuple[Any, ...], script: AsyncScript | None) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)  # after every callback ready in this tick has queued its own
        self._queued.append((command, script, future))
        return future

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _send(self, batch: list[_Queued]) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for command, _script, _future in batch:
                    pipe.execute_command(*command)
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:  # the gateway is closing
            for _command, _script, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # the connection failed: every caller of this pipeline learns it
            for _command, _script, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.pipelines += 1
        self.commands += len(batch)
        for (command, script, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue  # its caller was cancelled
            if isinstance(reply, NoScriptError) and script is not None:
                # Redis lost its scripts (restarted): the script object loads it and runs the call
                # once more, in queue order.
                key_count = int(command[2])
                keys, args = list(command[3 : 3 + key_count]), list(command[3 + key_count :])
                try:
                    reply = await script(keys=keys, args=args)
                except Exception as exc:
                    reply = exc
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
