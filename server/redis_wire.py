"""A connection to Redis of the gateway's own, for its hot path: the commands of every stroke and
guess, pipelined per tick (`server.tick_pipeline`).

redis-py serves everything else. On this path its per-call machinery (a connection taken from the
pool and given back, commands packed in Python, a retry wrapper, a reply loop) was a large share of
the gateway's CPU (docs/benchmarks.md); here commands are packed and replies parsed by hiredis,
redis-py's own C parser, and each reply is handed to a callback as it arrives. The connection opens
with the redis-py client's settings (host and port or Unix socket, TLS, user, password, database),
so it goes wherever the rest of the gateway goes.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Callable
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError

__all__ = ["RespConnection", "connection_error"]


class RespConnection(asyncio.Protocol):
    """One Redis connection: `write` commands; each reply goes to `on_reply` in order, and
    `on_lost` is called once when the connection ends."""

    def __init__(self, on_reply: Callable[[Any], None], on_lost: Callable[[RespConnection, Exception], None]):
        self._on_reply = on_reply
        self._on_lost = on_lost
        self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=ResponseError)
        self._login: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def open(
        cls,
        client: aioredis.Redis,
        name: str,
        on_reply: Callable[[Any], None],
        on_lost: Callable[[RespConnection, Exception], None],
    ) -> RespConnection:
        """Connect and log in as `client` would; the connection is named `name` (CLIENT LIST).

        Raises:
            redis.exceptions.ConnectionError: no connection, or the login was refused.
        """
        settings = client.connection_pool.connection_kwargs
        loop = asyncio.get_running_loop()
        connection = cls(on_reply, on_lost)
        try:
            if settings.get("path"):
                opening = loop.create_unix_connection(lambda: connection, settings["path"])
            else:
                opening = loop.create_connection(
                    lambda: connection,
                    settings.get("host", "localhost"),
                    settings.get("port", 6379),
                    ssl=_ssl_context(client),
                )
            await asyncio.wait_for(opening, settings.get("socket_connect_timeout"))
            login: list[tuple[Any, ...]] = []
            if settings.get("password") is not None:
                user = settings.get("username")
                login.append(("AUTH", user, settings["password"]) if user else ("AUTH", settings["password"]))
            if settings.get("db"):
                login.append(("SELECT", settings["db"]))
            login.append(("CLIENT", "SETNAME", settings.get("client_name") or name))
            answers = [loop.create_future() for _ in login]
            connection._login.extend(answers)
            connection.write(login)
            for reply in await asyncio.gather(*answers):
                if isinstance(reply, Exception):
                    raise reply
        except Exception as exc:
            connection.close()
            raise connection_error(exc) from exc
        return connection

    def write(self, commands: list[tuple[Any, ...]]) -> None:
        """Send `commands` in one write."""
        assert self.transport is not None
        self.transport.write(b"".join([hiredis.pack_command(command) for command in commands]))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if self._login:
                self._login.popleft().set_result(reply)
            else:
                self._on_reply(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        error = connection_error(exc or EOFError("Redis closed the connection"))
        while self._login:
            self._login.popleft().set_exception(error)
        self._on_lost(self, error)


def connection_error(exc: BaseException) -> RedisConnectionError:
    """`exc` as the error redis-py raises for a failed connection."""
    if isinstance(exc, RedisConnectionError):
        return exc
    error = RedisConnectionError(f"Redis connection failed: {exc!r}")
    error.__cause__ = exc
    return error


def _ssl_context(client: aioredis.Redis) -> ssl.SSLContext | None:
    """The TLS context redis-py itself builds for `client` (a `rediss://` URL, with every `ssl_*`
    option it takes), or None without TLS. Making a connection object opens no socket."""
    connection = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
    return connection.ssl_context.get() if isinstance(connection, SSLConnection) else None
