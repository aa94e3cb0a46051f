"""The hot path's Redis commands over one connection of their own, pipelined: the commands of one
event-loop tick go out in one write, and each reply goes to its caller as it comes back.

A stroke batch costs the gateway one Lua call (`APPEND_STROKE`) and a guess one PUBLISH. Sent one by
one, each is a socket write, a read and a wake-up; and through redis-py's `Pipeline` each tick also
paid for a connection taken from the pool and given back, the commands packed in Python, a retry
wrapper and a reply loop (about 125 µs of CPU per one-command tick; here about 55, most of it the
socket: `benchmarks/bench_redis_pipe.py`). Commands are packed and replies parsed by hiredis, redis-py's
own C parser. Redis answers in the order it was asked, so replies are matched to callers by a queue.
Callers still await their own reply, and each gets its own error: a refused stroke does not fail its
neighbours.

Order: commands queued in one tick run in queue order, and a caller that awaits its reply before
queueing the next (one connection's read loop) keeps its own order across ticks.

The connection is opened on first use with the redis-py client's own settings (URL, password,
database) and opened again on the next command after it is lost; callers waiting on a lost one get
`redis.exceptions.ConnectionError`, as they would from redis-py.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from dataclasses import dataclass
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError

__all__ = ["CLIENT_NAME", "TickPipeline"]

CLIENT_NAME = "doodle-tick-pipeline"


@dataclass(slots=True)
class _Call:
    command: tuple[Any, ...]
    script: AsyncScript | None  # run again through redis-py (which loads it) when Redis lost it
    future: asyncio.Future[Any]


class _ReplyProtocol(asyncio.Protocol):
    """Feeds what Redis sends to hiredis and hands each whole reply to `on_reply`."""

    def __init__(self, pipeline: TickPipeline) -> None:
        self.pipeline = pipeline
        self.reader = hiredis.Reader(protocolError=InvalidResponse, replyError=ResponseError)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            self.pipeline._on_reply(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pipeline._on_lost(self, exc)


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
        self._protocol: _ReplyProtocol | None = None
        self._connecting: asyncio.Task[_ReplyProtocol] | None = None
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
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
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
        if self._protocol is not None:
            self._write(self._protocol, batch)
        else:  # batches that wait for the connection are written in the order they waited
            self._spawn(self._connect_and_write(batch))

    def _write(self, protocol: _ReplyProtocol, batch: list[_Call]) -> None:
        assert protocol.transport is not None
        protocol.transport.write(b"".join([hiredis.pack_command(call.command) for call in batch]))
        self._waiting.extend(batch)
        self.pipelines += 1
        self.commands += len(batch)

    async def _connect_and_write(self, batch: list[_Call]) -> None:
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        connecting = self._connecting
        try:
            protocol = await asyncio.shield(connecting)
        except Exception as exc:
            if self._connecting is connecting:
                self._connecting = None  # the next batch tries again
            for call in batch:
                if not call.future.done():
                    call.future.set_exception(_connection_error(exc))
            return
        if self._protocol is protocol:
            self._write(protocol, batch)
        else:  # lost between connecting and writing: try again
            self._spawn(self._connect_and_write(batch))

    async def _connect(self) -> _ReplyProtocol:
        """Open the connection and log in as the redis-py client would (password, database); the
        login is answered before anything else is written."""
        settings = self.client.connection_pool.connection_kwargs
        loop = asyncio.get_running_loop()
        timeout = settings.get("socket_connect_timeout")
        if settings.get("path"):
            opening = loop.create_unix_connection(lambda: _ReplyProtocol(self), settings["path"])
        else:
            opening = loop.create_connection(
                lambda: _ReplyProtocol(self),
                settings.get("host", "localhost"),
                settings.get("port", 6379),
                ssl=_ssl_context(self.client, settings),
            )
        transport, protocol = await asyncio.wait_for(opening, timeout)
        login: list[tuple[Any, ...]] = []
        if settings.get("password") is not None:
            user = settings.get("username")
            login.append(("AUTH", user, settings["password"]) if user else ("AUTH", settings["password"]))
        if settings.get("db"):
            login.append(("SELECT", settings["db"]))
        # Named, so that an operator's CLIENT LIST tells it from the pool's connections.
        login.append(("CLIENT", "SETNAME", settings.get("client_name") or CLIENT_NAME))
        calls = [_Call(command, None, loop.create_future()) for command in login]
        transport.write(b"".join([hiredis.pack_command(call.command) for call in calls]))
        self._waiting.extend(calls)
        try:
            await asyncio.gather(*(call.future for call in calls))
        except BaseException:
            transport.close()
            raise
        self._protocol = protocol
        return protocol

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

    def _on_lost(self, protocol: _ReplyProtocol, exc: Exception | None) -> None:
        # The current connection, or one lost while logging in (not current yet).
        if self._protocol in (protocol, None):
            self._protocol = None
            self._connecting = None
            self._fail_waiting(_connection_error(exc or EOFError("Redis closed the connection")))

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


def _connection_error(exc: BaseException) -> RedisConnectionError:
    if isinstance(exc, RedisConnectionError):
        return exc
    error = RedisConnectionError(f"Redis connection failed: {exc!r}")
    error.__cause__ = exc
    return error


def _ssl_context(client: aioredis.Redis, settings: dict[str, Any]) -> ssl.SSLContext | None:
    """TLS as the client's `rediss://` URL asks: verified against the given or default CAs."""
    if not issubclass(client.connection_pool.connection_class, SSLConnection):
        return None
    context = ssl.create_default_context(cafile=settings.get("ssl_ca_certs"))
    requirement = settings.get("ssl_cert_reqs", "required")
    if requirement in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = bool(settings.get("ssl_check_hostname", True))
    if settings.get("ssl_certfile"):
        context.load_cert_chain(settings["ssl_certfile"], settings.get("ssl_keyfile"))
    return context
