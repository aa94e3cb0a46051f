"""The embedded redis-server: a restart never runs two servers on one append-only file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from server.redis_embedded import PIDFILE, DataDirInUse, EmbeddedRedis

REPO = Path(__file__).resolve().parents[2]

_OWNER = """
import sys, time
from pathlib import Path
import redis
from server.redis_embedded import EmbeddedRedis
server = EmbeddedRedis(data_dir=Path(sys.argv[1])).start()
redis.Redis.from_url(server.url).set("kept", "yes")
print(server.process.pid, flush=True)
time.sleep(60)
"""


def test_a_restart_stops_the_server_a_killed_gateway_left(tmp_path: Path) -> None:
    """The redis-server of a SIGKILLed owner keeps running (own session); the next start on the same
    data dir stops it first (SIGTERM, so it finishes its writes) and then has its data."""
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None
        leftover = int(owner.stdout.readline())
        owner.kill()
        owner.wait(10)
        assert Path(f"/proc/{leftover}").exists()  # it outlived its owner
        with EmbeddedRedis(data_dir=tmp_path) as server:
            assert not Path(f"/proc/{leftover}").exists()
            client = redis.Redis.from_url(server.url)
            assert client.get("kept") == b"yes"
            client.close()
    finally:
        owner.kill()


def test_a_relative_data_dir_is_stopped_on_restart_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make serve` uses the relative default `.doodle-party/redis`: the pidfile is still written
    (where the next start looks for it), so a restart after SIGKILL stops the leftover."""
    relative = ".doodle-party/redis"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, relative], cwd=tmp_path, stdout=subprocess.PIPE, env=env
    )
    try:
        assert owner.stdout is not None
        leftover = int(owner.stdout.readline())
        owner.kill()
        owner.wait(10)
        assert (tmp_path / relative / PIDFILE).read_text().strip() == str(leftover)
        monkeypatch.chdir(tmp_path)
        with EmbeddedRedis(data_dir=Path(relative)) as server:
            assert not Path(f"/proc/{leftover}").exists()
            assert server.data_dir == (tmp_path / relative).resolve()
            client = redis.Redis.from_url(server.url)
            assert client.get("kept") == b"yes"
            client.close()
    finally:
        owner.kill()
        with contextlib.suppress(OSError, ValueError):
            os.kill(leftover, signal.SIGKILL)


def test_restart_keeps_the_port_and_the_data(tmp_path: Path) -> None:
    """A redis-server that died is started again on the same port, with what it had written."""
    with EmbeddedRedis(data_dir=tmp_path) as server:
        url = server.url
        client = redis.Redis.from_url(url)
        client.set("kept", "yes")
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        assert not server.running
        server.restart()
        assert server.running and server.url == url
        assert client.get("kept") == b"yes"
        client.close()


def test_a_second_server_on_a_data_dir_in_use_is_refused_and_the_first_keeps_running(
    tmp_path: Path,
) -> None:
    """Two `serve` in one directory: the second says so, instead of stopping the first one's Redis
    as a leftover (and having its own stopped in turn by the first one's watcher)."""
    with EmbeddedRedis(data_dir=tmp_path) as first:
        with pytest.raises(
            DataDirInUse, match=f"in use by another Doodle Party process \\(pid {os.getpid()}\\)"
        ):
            EmbeddedRedis(data_dir=tmp_path).start()
        assert first.running and redis.Redis(port=first.port).ping()
    with EmbeddedRedis(data_dir=tmp_path) as again:  # free once the first stopped
        assert redis.Redis(port=again.port).ping()


def test_clients_use_the_unix_socket_in_the_data_dir_and_tcp_still_answers(tmp_path: Path) -> None:
    """The URL names the server's Unix socket (cheaper per command than loopback TCP); the TCP port
    answers too, for an operator's redis-cli; a data dir too deep for a socket's path uses TCP."""
    with EmbeddedRedis(data_dir=tmp_path) as server:
        assert server.url == f"unix://{tmp_path.resolve() / 'redis.sock'}?db=0"
        assert (tmp_path / "redis.sock").is_socket()
        redis.Redis.from_url(server.url).set("via", "socket")
        assert redis.Redis(port=server.port).get("via") == b"socket"
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with EmbeddedRedis(data_dir=deep) as server:
        assert server.unix_socket is None and server.url == f"redis://127.0.0.1:{server.port}/0"
        assert redis.Redis.from_url(server.url).ping()


def test_a_start_compacts_an_append_only_file_that_outgrew_its_data(tmp_path: Path) -> None:
    """Redis compacts its file only when it doubles within one server's life; a server restarted
    often would replay an ever longer history at every start. A start compacts it instead, and the
    data stays."""
    data_dir = tmp_path / "redis"
    limit = 256 * 1024
    with EmbeddedRedis(data_dir=data_dir, aof_compact_min_bytes=limit) as server:
        client = redis.Redis.from_url(server.url)
        for index in range(5_000):  # one small key written again and again: a long file, little data
            client.set("drawing", f"{index:01000d}")
        client.close()
    aof = data_dir / "appendonly.aof"
    grown = aof.stat().st_size
    assert grown > 2 * limit
    with EmbeddedRedis(data_dir=data_dir, aof_compact_min_bytes=limit) as server:
        client = redis.Redis.from_url(server.url)
        deadline = time.monotonic() + 10
        while client.info("persistence")["aof_rewrite_in_progress"] or aof.stat().st_size >= grown:
            assert time.monotonic() < deadline, "the append-only file was not compacted"
            time.sleep(0.05)
        assert aof.stat().st_size < limit
        assert client.get("drawing") == f"{4_999:01000d}".encode()
        client.close()
    with EmbeddedRedis(data_dir=data_dir, aof_compact_min_bytes=limit) as server:  # small: left alone
        assert not server._compact_if_grown()
