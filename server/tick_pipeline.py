"""The hot path's Redis commands, pipelined on a connection of their own (`server.redis_wire`):
the commands of one event-loop tick go out in one write, and each reply goes to its caller as it
comes back.

A stroke batch costs the gateway one Lua call (`APPEND_STROKE`) and a guess one PUBLISH. Sent one by
one, each is a socket write, a read and a wake-up; through redis-py's `Pipeline`, each tick also paid
for a pool checkout, packing in Python and a reply loop: about 120 µs of CPU per one-command tick,
against about 60 here, most of it the socket (`benchmarks/bench_redis_pipe.py`). Redis answers in
the order it was asked, so replies are matched to callers by a queue. Callers await their own reply,
and each gets its own error: a refused stroke does not fail its neighbours.

Order: commands queued in one tick run in queue order, and a caller that awaits its reply before
queueing the next (one connection's read loop) keeps its own order across ticks.

The connection opens on first use and again on the next command after it is lost; callers waiting
on a lost one get `redis.exceptions.ConnectionError`, as they would from redis-py.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from server.redis_wire import RespConnection, connection_error

__all__ = ["CLIENT_NAME", "TickPipeline"]

CLIENT_NAME = "doodle-tick-pipeline"


@dataclass(slots=True)
class _Call:
    command: tuple[Any, ...]
    script: AsyncScript | None  # run again through redis-py (which loads it) when Redis lost it
    future: asyncio.Future[Any]


class TickPipeline:
    """Queues commands until the current tick ends, then writes them together on its connection.

    Args:
        client: the redis-py client whose settings the connection uses, and which loads a script
            that Redis lost (a restart) before the call is run again.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._queued: list[_Call] = []
        self._waiting: collections.deque[_Call] = collections.deque()  # written, reply not yet read
        self._connection: RespConnection | None = None
        self._connecting: asyncio.Task[RespConnection] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reruns: asyncio.Task[None] | None = None
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

    async def aclose(self) -> None:
        """Close the connection; callers still waiting get a connection error."""
        for task in list(self._tasks):
            task.cancel()
        if self._connection is not None:
            self._connection.close()
        self._fail_waiting(RedisConnectionError("the pipeline was closed"))

    # ------------------------------------------------------------------ sending

    def _queue(self, command: tuple[Any, ...], script: AsyncScript | None) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)  # after every callback ready in this tick has queued its own
        self._queued.append(_Call(command, script, future))
        return future

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        if self._connection is not None:
            self._write(self._connection, batch)
        else:  # batches that wait for the connection are written in the order they waited
            self._spawn(self._connect_and_write(batch))

    def _write(self, connection: RespConnection, batch: list[_Call]) -> None:
        connection.write([call.command for call in batch])
        self._waiting.extend(batch)
        self.pipelines += 1
        self.commands += len(batch)

    async def _connect_and_write(self, batch: list[_Call]) -> None:
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        connecting = self._connecting
        try:
            connection = await asyncio.shield(connecting)
        except Exception as exc:
            if self._connecting is connecting:
                self._connecting = None  # the next batch tries again
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(connection_error(exc))
            return
        if self._connection is connection:
            self._write(connection, batch)
        else:  # lost between connecting and writing: try again
            self._spawn(self._connect_and_write(batch))

    async def _connect(self) -> RespConnection:
        connection = await RespConnection.open(self.client, CLIENT_NAME, self._on_reply, self._on_lost)
        self._connection = connection
        return connection

    # ------------------------------------------------------------------ replies

    def _on_reply(self, reply: Any) -> None:
        call = self._waiting.popleft()
        if call.future.done():
            return  # its caller was cancelled
        if isinstance(reply, ResponseError) and call.script is not None and str(reply).startswith("NOSCRIPT"):
            # Redis lost its scripts (restarted): redis-py loads the script and runs the call once
            # more; such calls are run again one at a time, in the order they were answered.
            self._rerun(call)
        elif isinstance(reply, Exception):
            call.future.set_exception(reply)
        else:
            call.future.set_result(reply)

    def _rerun(self, call: _Call) -> None:
        previous = self._reruns

        async def rerun() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            command, script = call.command, call.script
            assert script is not None
            key_count = int(command[2])
            keys, args = list(command[3 : 3 + key_count]), list(command[3 + key_count :])
            try:
                reply = await script(keys=keys, args=args)
            except Exception as exc:
                if not call.future.done():
                    call.future.set_exception(exc)
            else:
                if not call.future.done():
                    call.future.set_result(reply)

        self._reruns = self._spawn(rerun())

    def _on_lost(self, connection: RespConnection, exc: Exception) -> None:
        if self._connection is connection:
            self._connection = None
            self._connecting = None
            self._fail_waiting(exc)

    def _fail_waiting(self, exc: Exception) -> None:
        waiting, self._waiting = self._waiting, collections.deque()
        for call in waiting:
            if not call.future.done():
                call.future.set_exception(exc)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
