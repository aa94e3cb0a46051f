"""Gateways in separate processes over one Redis: one room across processes, a crash, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis

from server.app import running_server
from server.config import Settings
from server.gateway import alive_key
from server.sessions import session_key
from tests.server.wsclient import TestClient, draw

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def gateway_process(redis_url: str) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """`doodle-party serve` in its own process on the test Redis; yields its URL once it is healthy.

    The wait runs in a thread: a gateway of this test process must keep beating meanwhile, or the new
    one would rightly find it dead."""
    port = _free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "DOODLE_LOG_LEVEL": "warning"}
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it does not wait for it
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def wait_healthy() -> None:
        for _attempt in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                if process.poll() is not None:
                    raise AssertionError(f"gateway exited with {process.returncode}") from None
                time.sleep(0.1)

    try:
        await asyncio.to_thread(wait_healthy)
        yield f"ws://127.0.0.1:{port}/", process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_one_game_across_two_processes(redis_url: str, apple: list[np.ndarray]) -> None:
    """Host in the test process; player and spectator on a separate `doodle-party serve` process."""
    async with gateway_process(redis_url) as (remote_url, _process):
        async with running_server(Settings(port=0, redis_url=redis_url)) as local:
            host = await TestClient.connect(local.url)
            await host.hello("host", canvas=[256, 256])
            settings = {"words": ["apple"], "rounds": 1}
            room = await host.request({"type": "create_room", "settings": settings}, "room")
            player = await TestClient.connect(remote_url, use_msgpack=True)
            await player.hello("remote", canvas=[256, 256])
            assert (await player.request({"type": "join_room", "code": room["code"]}, "room"))[
                "type"
            ] == "room"
            tv = await TestClient.connect(remote_url)
            await tv.hello("tv")
            await tv.request({"type": "join_room", "code": room["code"], "role": "spectator"}, "room")
            await host.send({"type": "start_game"})
            started = await player.wait_for("round_started")
            assert started["word"] == "apple"
            await draw(player, apple, 1)
            recognized = await host.wait_for("recognized", timeout=15)
            assert recognized["player_id"] == player.player_id
            assert (await tv.wait_for("recognized"))["player_id"] == player.player_id
            assert tv.of_type("stroke"), "the spectator on the other process saw the strokes"
            for client in (host, player, tv):
                await client.close()


async def test_players_resume_on_another_gateway_after_a_crash(
    redis_url: str, apple: list[np.ndarray]
) -> None:
    """A gateway dies mid-round (SIGKILL): its player resumes on another gateway with seat and strokes."""
    async with gateway_process(redis_url) as (url, doomed):
        player = await TestClient.connect(url)
        await player.hello("doomed", canvas=[256, 256])
        settings = {"words": ["apple"], "rounds": 1}
        room = await player.request({"type": "create_room", "settings": settings}, "room")
        await player.send({"type": "start_game"})
        await player.wait_for("round_started")
        await draw(player, apple[:1], 1)
        await player.wait_for("guess")  # the first stroke reached the server (and Redis)
        doomed.send_signal(signal.SIGKILL)
        await asyncio.to_thread(doomed.wait, 10)
        async with running_server(Settings(port=0, redis_url=redis_url)) as survivor:
            again = await TestClient.connect(survivor.url)
            welcome = await again.hello("doomed", resume=player.token, canvas=[256, 256])
            assert welcome["resumed"] is True
            snapshot = await again.wait_for("room")
            assert snapshot["code"] == room["code"] and snapshot["phase"] == "round"
            assert sum(len(s["points"]) for s in snapshot["strokes"]) == len(apple[0])
            await draw(again, apple, 1)
            recognized = await again.wait_for("recognized", timeout=15)
            assert recognized["player_id"] == player.player_id
            await again.close()


async def test_members_of_a_killed_gateway_are_marked_disconnected(redis_url: str) -> None:
    """A gateway SIGKILLed with a player on it: once its liveness key expires, a gateway that shares
    the room marks the player disconnected, so the others see it and the seat's 30 s start."""
    async with running_server(Settings(port=0, redis_url=redis_url)) as survivor:
        host = await TestClient.connect(survivor.url)
        await host.hello("host")
        room = await host.request(
            {"type": "create_room", "settings": {"words": ["apple"], "rounds": 1}}, "room"
        )
        async with gateway_process(redis_url) as (url, doomed):
            player = await TestClient.connect(url)
            await player.hello("doomed")
            await player.request({"type": "join_room", "code": room["code"]}, "room")
            await host.wait_for("player_joined")
            assert await survivor.gateway.sweep_dead_connections() == 0  # its gateway is alive
            doomed.send_signal(signal.SIGKILL)
            await asyncio.to_thread(doomed.wait, 10)
        redis = aioredis.Redis.from_url(redis_url)
        try:
            holder = await redis.hget(session_key(player.player_id), "connection")
            doomed_key = alive_key(holder.decode().partition(" ")[0])
            for _ in range(
                int(Settings().alive_ttl_seconds / 0.2) + 25
            ):  # until the dead gateway's key expires
                if not await redis.exists(doomed_key):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"{doomed_key} never expired")
        finally:
            await redis.aclose()
        # The survivor's own sweep (every sweep_seconds) may get there before this call: either way, once.
        await survivor.gateway.sweep_dead_connections()
        gone = await host.wait_for("player_disconnected", timeout=Settings().sweep_seconds + 5)
        assert gone["player_id"] == player.player_id
        assert await survivor.gateway.sweep_dead_connections() == 0
        assert [m["player_id"] for m in host.of_type("player_disconnected")] == [player.player_id]
        await host.close()


async def test_sigterm_closes_with_1001_and_holds_seats(redis_url: str) -> None:
    """A gateway stopped with SIGTERM closes sockets with 1001; the room stays, the seat held."""
    async with gateway_process(redis_url) as (url, process):
        player = await TestClient.connect(url)
        await player.hello("leaving", canvas=[256, 256])
        settings = {"words": ["apple"], "rounds": 1}
        room = await player.request({"type": "create_room", "settings": settings}, "room")
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(player._reader, 15)
        assert player.ws.close_code == 1001
        assert await asyncio.to_thread(process.wait, 15) == 0
    async with running_server(Settings(port=0, redis_url=redis_url)) as survivor:
        watcher = await TestClient.connect(survivor.url)
        await watcher.hello("watcher")
        join = {"type": "join_room", "code": room["code"], "role": "spectator"}
        snapshot = await watcher.request(join, "room")
        assert snapshot["players"] == [
            {"player_id": player.player_id, "name": "leaving", "score": 0, "connected": False}
        ]
        await watcher.close()
