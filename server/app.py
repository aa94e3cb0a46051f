"""Assemble and run one gateway process: Redis, recognition, the WebSocket server, signals.

:func:`running_server` is what ``doodle-party serve`` and the integration tests both use, so the tests
exercise exactly the production wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from prometheus_client import CollectorRegistry
from websockets.asyncio.server import Server, serve
from websockets.typing import Origin

from inference.recognizer import Recognizer
from server.archive import Archiver, archive_location
from server.census import CensusCollector
from server.clock import Clock
from server.config import Settings
from server.gateway import Gateway
from server.http import make_process_request
from server.messages import KEEPALIVE_PING_INTERVAL_S, KEEPALIVE_PING_TIMEOUT_S
from server.metrics import exposition, with_process_metrics
from server.recognition import (
    LocalRecognition,
    OnResult,
    RecognitionResult,
    RecognitionService,
    StreamRecognition,
    auto_processes,
)
from server.redis_embedded import EmbeddedRedis, RedisUnavailable
from server.runtime import quiet_gc

log = structlog.get_logger("doodle_party.app")


class PortInUse(OSError):
    """Another process listens on the port this server was told to use."""


class RedisLost(RuntimeError):
    """The embedded redis-server died and could not be started again."""


@dataclass
class RunningServer:
    """Handles to a started gateway (for tests and the CLI)."""

    settings: Settings
    server: Server
    gateway: Gateway
    redis_url: str
    embedded: EmbeddedRedis | None = None
    # Set (with the reason) when the server can no longer work: serve_forever then exits with an
    # error, so that a supervisor restarts it, instead of hanging half-alive.
    failed: asyncio.Future[str] | None = None

    @property
    def port(self) -> int:
        return int(next(iter(self.server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        host = self.settings.host if self.settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"ws://{host}:{self.port}/"


def build_recognition(settings: Settings, redis_url: str, on_result: OnResult) -> RecognitionService:
    """The recognition service the settings ask for: in-process, or Redis Stream workers."""
    if settings.recognition == "workers":
        return StreamRecognition(
            redis_url,
            gateway_id=settings.gateway_id,
            on_result=on_result,
            checkpoint=settings.checkpoint,
            guess_interval_ms=settings.guess_interval_ms,
            threshold=settings.recognition_threshold,
        )
    if settings.recognition != "embedded":
        raise ValueError(f"recognition must be 'embedded' or 'workers', not {settings.recognition!r}")
    return LocalRecognition(
        Recognizer.load(settings.checkpoint, settings.model_runtime),
        on_result=on_result,
        max_batch=settings.max_batch,
        max_wait_ms=settings.max_wait_ms,
        guess_interval_ms=settings.guess_interval_ms,
        threshold=settings.recognition_threshold,
        processes=auto_processes() if settings.recognition_processes < 0 else settings.recognition_processes,
        load_model=functools.partial(Recognizer.load, settings.checkpoint, settings.model_runtime),
        nice=settings.recognition_nice,
    )


def check_port_free(host: str, port: int) -> None:
    """Fail fast, before anything else starts (an embedded Redis on the data dir, the model).

    Raises:
        PortInUse: something listens on ``host:port`` already.
    """
    if port == 0:
        return  # any free port
    try:
        for family, kind, proto, _name, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            with socket.socket(family, kind, proto) as probe:
                # As asyncio's server does: a port left in TIME_WAIT by a previous run is free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise PortInUse(
            exc.errno,
            f"port {port} is in use on {host} (is Doodle Party running already?); stop that process "
            "or choose another port with --port N, DOODLE_PORT=N or `make serve PORT=N`",
        ) from None


async def _watch_embedded(embedded: EmbeddedRedis, failed: asyncio.Future[str]) -> None:
    """Start the embedded redis-server again when it dies (rooms come back from its append-only
    file, and clients reconnect to the same port); if it cannot start, fail the server."""
    while True:
        await asyncio.sleep(0.5)
        if embedded.running:
            continue
        code = embedded.process.returncode if embedded.process is not None else None
        log.error("embedded_redis_died", exit_code=code, data_dir=str(embedded.data_dir))
        try:
            await asyncio.to_thread(embedded.restart)
        except RedisUnavailable as exc:
            if not failed.done():
                failed.set_result(f"the embedded redis-server died and did not restart: {exc}")
            return
        log.warning("embedded_redis_restarted", redis_url=embedded.url)


@contextlib.asynccontextmanager
async def running_server(settings: Settings, clock: Clock | None = None) -> AsyncIterator[RunningServer]:
    """Start Redis (embedded unless ``settings.redis_url``), recognition and the WebSocket server.

    Args:
        clock: the gateway's clock (tests pass a ``FakeClock``); default: wall time.

    Raises:
        PortInUse: the port is taken (checked before anything starts).
    """
    check_port_free(settings.host, settings.port)
    embedded: EmbeddedRedis | None = None
    failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    watcher: asyncio.Task[None] | None = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = EmbeddedRedis(data_dir=settings.redis_data_dir)
        await asyncio.to_thread(embedded.start)
        redis_url = embedded.url
        log.info("embedded_redis_started", redis_url=redis_url, data_dir=str(embedded.data_dir))
        watcher = asyncio.create_task(_watch_embedded(embedded, failed), name="embedded-redis-watch")
    client = aioredis.Redis.from_url(redis_url, health_check_interval=30)
    gateway: Gateway | None = None

    async def deliver(result: RecognitionResult) -> None:
        if gateway is not None:
            await gateway.on_recognition(result)

    recognition = build_recognition(settings, redis_url, deliver)
    try:
        await client.ping()
        await recognition.start()
        gateway = Gateway(settings, client, recognition, clock)
        await gateway.start()
        archiver = Archiver(
            client,
            archive_location(settings),
            consumer=settings.gateway_id,
            retention_days=settings.archive_retention_days,
        )
        archiver_stop = asyncio.Event()
        archiving = asyncio.create_task(archiver.run(archiver_stop), name="archiver")

        async def healthz() -> tuple[bool, str]:
            try:
                await client.ping()
            except aioredis.RedisError as exc:
                return False, f"redis unavailable: {exc}"
            return True, "ok"

        # This gateway's scrape: the deployment's census, then the process's own metrics.
        census = CensusCollector(client, settings.census_interval_seconds)
        own = CollectorRegistry(auto_describe=False)
        own.register(census)
        scraped = with_process_metrics(own)

        async def metrics(accept: str | None) -> tuple[bytes, str]:
            await census.refresh()
            return exposition(accept, scraped)

        # A port taken between check_port_free and here fails inside serve(): the gateway and the
        # archiver still stop first, while Redis is up, instead of logging errors about it going away.
        try:
            async with serve(
                gateway.handle,
                settings.host,
                settings.port,
                process_request=make_process_request(healthz, metrics),
                max_size=settings.max_message_bytes,
                # Without a list, any Origin (and native apps, which send none) may connect.
                origins=[*map(Origin, settings.allowed_origins), None] if settings.allowed_origins else None,
                # Per-message deflate costs ~50 KB per connection; our frames are small and mostly numbers.
                compression=None,
                # Stated to clients in docs/asyncapi.json (info.x-limits) and docs/protocol.md.
                ping_interval=KEEPALIVE_PING_INTERVAL_S,
                ping_timeout=KEEPALIVE_PING_TIMEOUT_S,
                # A connection that never finishes its handshake is dropped soon, and does not hold up
                # shutdown (browsers keep idle pre-connected sockets open).
                open_timeout=3,
            ) as server:
                try:
                    yield RunningServer(settings, server, gateway, redis_url, embedded, failed)
                finally:
                    gateway.drain()
                    server.close()
                    await server.wait_closed()
        finally:
            await gateway.aclose()
            archiver_stop.set()
            await archiving
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await recognition.aclose()
        await client.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def serve_forever(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM; rooms stay in Redis for players to resume elsewhere.

    Raises:
        PortInUse: the port is taken.
        RedisLost: the embedded Redis died for good (exit, so that a supervisor restarts us).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    failure: str | None = None
    async with running_server(settings) as running:
        quiet_gc()  # here, not in running_server: tests run many servers in one process
        log.info("serving", url=running.url, gateway_id=settings.gateway_id, recognition=settings.recognition)
        # Last, so that the address is what a person sees at the bottom of the terminal.
        print(
            f"Doodle Party is up: open http://{running.url[5:]} in a browser, or connect to {running.url}",
            flush=True,
        )
        assert running.failed is not None
        stopping = asyncio.create_task(stop.wait())
        waiters: list[asyncio.Future[Any]] = [stopping, running.failed]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if running.failed.done():
            failure = running.failed.result()
            log.error("failed", reason=failure)
        log.info("shutting_down")
    log.info("stopped", gateway_id=settings.gateway_id)
    if failure is not None:
        raise RedisLost(failure)
