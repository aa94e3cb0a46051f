"""Faults are recovered, or reported in one line: a dead embedded Redis, a busy port, an outage
longer than the seat window, Ctrl-C. Real processes, real signals, real sockets."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis.asyncio as aioredis
import structlog

from inference.processes import ProcessPool
from server.app import running_server
from server.config import Settings
from server.logs import _finite_numbers
from server.store import RoomStore
from tests.server.wsclient import TestClient

REPO = Path(__file__).resolve().parents[2]
ROOM = {"type": "create_room", "settings": {"words": ["apple"], "rounds": 1}}


def _serve(cwd: Path, port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), "DOODLE_LOG_FORMAT": "json", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
    raise AssertionError("the server never became healthy")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_busy_port_is_reported_in_one_line_before_redis_starts(tmp_path: Path) -> None:
    """A second `serve` on a port in use exits 1 with one line, and starts no embedded Redis."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _serve(tmp_path, port)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"port {port}" in lines[0] and "in use" in lines[0], err
    assert not (tmp_path / ".doodle-party").exists()  # no redis-server touched the data dir


def test_ctrl_c_stops_cleanly_with_a_stopped_line(tmp_path: Path) -> None:
    """SIGINT (with recognition child processes, after a HEAD /healthz): no traceback anywhere, the
    log is JSON throughout, and it ends with `stopped`."""
    port = _free_port()
    process = _serve(tmp_path, port, DOODLE_RECOGNITION_PROCESSES="2")
    try:
        _wait_healthy(port, process)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError:
            pass  # websockets answers HEAD with nothing; what matters is the log
        # Ctrl-C in a terminal reaches the server's process group: the recognition children too
        # (the embedded redis-server runs in a session of its own, and is stopped in order).
        group = os.getpgid(process.pid)
        process.send_signal(signal.SIGINT)
        for child in _children(process.pid):
            if os.getpgid(child) == group:
                os.kill(child, signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    events = [json.loads(line, parse_constant=_refuse)["event"] for line in err.splitlines() if line]
    assert events[-1] == "stopped", events


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (the forkserver and the recognition processes)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            children = (task / "children").read_text().split()
            found += [int(child) for child in children]
            todo += [int(child) for child in children]
    return found


def test_log_lines_never_hold_nan() -> None:
    """A statistic with no samples yet (NaN) is logged as null: every line stays JSON."""
    event = _finite_numbers(None, "info", {"event": "recognition.stats", "p50": math.nan, "x": 1.5})
    line = structlog.processors.JSONRenderer()(None, "info", event)
    assert json.loads(str(line), parse_constant=_refuse) == {
        "event": "recognition.stats",
        "p50": None,
        "x": 1.5,
    }


def _ignore_sigint_probe() -> int:
    return os.getpid()


async def test_recognition_children_ignore_ctrl_c() -> None:
    """SIGINT to a pool's child neither kills it nor prints a traceback: the owner stops it."""
    pool = ProcessPool(1)
    try:
        pid = await asyncio.wait_for(pool.run(_ignore_sigint_probe), 60)
        os.kill(pid, signal.SIGINT)
        await asyncio.sleep(0.5)
        assert await asyncio.wait_for(pool.run(_ignore_sigint_probe), 60) == pid
        assert pool.restarts == 0
    finally:
        await pool.aclose()


async def test_a_killed_embedded_redis_is_restarted_with_the_rooms(tmp_path: Path) -> None:
    """SIGKILL the embedded redis-server: it is started again on its port, /healthz recovers, and
    the room is still there (append-only file), joinable and resumable."""
    settings = Settings(port=0, redis_data_dir=tmp_path / "redis", recognition_processes=0)
    async with running_server(settings) as running:
        host = await TestClient.connect(running.url)
        await host.hello("host")
        room = await host.request(ROOM, "room")
        await asyncio.sleep(1.2)  # appendfsync everysec: let the last second reach the file
        assert running.embedded is not None and running.embedded.process is not None
        running.embedded.process.kill()
        client = aioredis.Redis.from_url(running.redis_url)
        for _ in range(100):
            await asyncio.sleep(0.1)
            try:
                if await client.ping():
                    break
            except (aioredis.ConnectionError, OSError):
                continue
        state, _version = await RoomStore(client, idle_ttl=60, finished_ttl=60).load(room["code"])
        assert [p.player_id for p in state.players] == [host.player_id]
        await client.aclose()
        again = await TestClient.connect(running.url)
        welcome = await again.hello("host", resume=host.token)
        assert welcome["resumed"] is True
        snapshot = await again.wait_for("room")
        assert snapshot["code"] == room["code"]
        tv = await TestClient.connect(running.url)
        await tv.hello("TV")
        joined = await tv.request({"type": "join_room", "code": room["code"], "role": "spectator"}, "room")
        assert joined["type"] == "room"
        assert running.failed is not None and not running.failed.done()
        for each in (again, tv):
            await each.close()


async def test_seats_wait_for_a_gateway_to_come_back(redis_url: str) -> None:
    """A gateway shuts down and the next one comes up later: the seat's 30 s start when a gateway
    could take the resume (its sweep), not when the sockets closed, and the player resumes."""
    settings = Settings(port=0, redis_url=redis_url)
    async with running_server(settings) as first:
        host = await TestClient.connect(first.url)
        await host.hello("host")
        room = await host.request(ROOM, "room")
    stopped_at = time.time()
    await asyncio.sleep(2.0)  # the outage
    store_client = aioredis.Redis.from_url(redis_url)
    store = RoomStore(store_client, idle_ttl=60, finished_ttl=60)
    state, _ = await store.load(room["code"])
    assert state.players[0].connected  # no gateway up: no seat window running
    async with running_server(settings) as second:
        state, _ = await store.load(room["code"])
        seat = state.players[0]
        assert not seat.connected and seat.disconnected_at is not None
        assert seat.disconnected_at >= stopped_at + 2.0
        again = await TestClient.connect(second.url)
        welcome = await again.hello("host", resume=host.token)
        assert welcome["resumed"] is True
        assert (await again.wait_for("room"))["code"] == room["code"]
        await again.close()
    await store_client.aclose()


async def test_welcome_says_resumed_only_with_a_seat(redis_url: str) -> None:
    """A token whose seat is gone gets `resumed: false` at once (no snapshot to wait for)."""
    async with running_server(Settings(port=0, redis_url=redis_url)) as running:
        host = await TestClient.connect(running.url)
        await host.hello("host")
        await host.request(ROOM, "room")
        await host.request({"type": "leave_room"}, "left_room")
        await host.close()
        again = await TestClient.connect(running.url)
        welcome = await again.hello("host", resume=host.token)
        assert welcome["resumed"] is False and welcome["player_id"] == host.player_id
        await asyncio.sleep(0.3)
        assert again.of_type("room") == []
        await again.close()
