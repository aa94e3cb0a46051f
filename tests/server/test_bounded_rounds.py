"""What one room can make the server hold and do is bounded: per-player drawing caps, a snapshot of
the largest round that does not stall other connections, nesting that cannot crash a connection."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator

import msgpack
import pytest
import redis.asyncio as aioredis

from game.rules import MAX_POINTS_PER_DRAWING
from game.state import Role
from server import messages as wire
from server.app import RunningServer, running_server
from server.config import Settings
from server.gateway import _build_snapshot
from server.store import RoomStore, strokes_key
from tests.server.wsclient import TestClient

BATCH = 500  # points per stroke message (the limit is 512)


@pytest.fixture
async def server(redis_url: str) -> AsyncIterator[RunningServer]:
    # Few guesses (one per player every 10 s): these tests are about strokes, not the model.
    settings = Settings(port=0, redis_url=redis_url, recognition_processes=0, guess_interval_ms=10_000)
    async with running_server(settings) as running:
        yield running


def _batch(stroke: int, index: int) -> dict[str, object]:
    points = [[float((i * 7 + index) % 390), float((i * 13) % 800), float(i)] for i in range(BATCH)]
    return {"type": "stroke", "round": 1, "stroke": stroke, "points": points, "end": False}


async def _full_round(
    server: RunningServer, players: int, fill: int | None = None
) -> tuple[list[TestClient], str]:
    """A room whose first ``fill`` (default: every) players drew the most points a drawing may hold."""
    host = await TestClient.connect(server.url)
    await host.hello("p0", canvas=[400, 800])
    settings = {"words": ["apple"], "rounds": 1, "round_seconds": 120, "max_players": 16}
    code = (await host.request({"type": "create_room", "settings": settings}, "room"))["code"]
    clients = [host]
    for index in range(1, players):
        client = await TestClient.connect(server.url)
        await client.hello(f"p{index}", canvas=[400, 800])
        assert (await client.request({"type": "join_room", "code": code}, "room"))["type"] == "room"
        clients.append(client)
    await host.send({"type": "start_game"})
    for client in clients:
        await client.wait_for("round_started")
    filled = clients[: players if fill is None else fill]
    for client in filled:
        for index in range(MAX_POINTS_PER_DRAWING // BATCH):
            await client.send(_batch(index % 200, index))
    for client in filled:  # the batch past the cap is refused
        reply = await client.request(_batch(0, 99), "error", timeout=60)
        assert reply["code"] == "drawing_too_large", reply
    return clients, code


async def test_one_players_ink_never_refuses_another(server: RunningServer) -> None:
    """The cap is per drawing: after others filled theirs, an honest player's stroke is accepted."""
    clients, _code = await _full_round(server, 3, fill=2)
    honest = clients[2]
    start = len(honest.inbox)
    await honest.send(_batch(0, 0))
    await honest.request({"type": "ping", "id": "after"}, "pong")
    assert [m for m in honest.inbox[start:] if m["type"] == "error"] == []
    for client in clients:
        await client.close()


async def test_a_round_holds_a_bounded_number_of_bytes(
    server: RunningServer, redis_client: aioredis.Redis
) -> None:
    """Sixteen players at the cap: the round's strokes stay within 16 x the per-drawing budget."""
    clients, code = await _full_round(server, 16)
    size = await redis_client.memory_usage(strokes_key(code, 1, 1))
    assert size is not None and size < 16 * MAX_POINTS_PER_DRAWING * 3 * 10  # ~3 msgpack floats a point
    for client in clients:
        await client.close()


async def test_a_large_snapshot_does_not_stall_other_connections(
    server: RunningServer, redis_client: aioredis.Redis
) -> None:
    """A spectator joins the largest round there can be; meanwhile the event loop keeps answering
    (its worst lag stays well under what building that snapshot in one go costs)."""
    clients, code = await _full_round(server, 16)
    store = RoomStore(redis_client, idle_ttl=60, finished_ttl=60)
    state, _ = await store.load(code)
    blobs = await store.round_stroke_blobs(code, 1, 1)
    started = time.perf_counter()
    frame, _own = _build_snapshot(state, blobs, "someone", Role.SPECTATOR, round(time.time() * 1000), "json")
    frame.encoded("json")
    in_one_go = time.perf_counter() - started

    lags: list[float] = []

    async def measure() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    # As `serve` does at start (server/app.py): what is already loaded is frozen for the garbage
    # collector. In a test session that heap is every earlier test's objects too, and one full
    # collection over it, triggered by the snapshot's allocations, stalled the loop 0.3 s.
    gc.freeze()
    try:
        probe = asyncio.create_task(measure())
        tv = await TestClient.connect(server.url)
        await tv.hello("TV")
        await tv.send({"type": "join_room", "code": code, "role": "spectator"})
        room = await tv.wait_for("room", timeout=30)
        probe.cancel()
    finally:
        gc.unfreeze()
    assert sum(len(s["points"]) for s in room["strokes"]) == 16 * MAX_POINTS_PER_DRAWING
    assert max(lags) < max(0.05, in_one_go / 2), (max(lags), in_one_go)
    for client in [*clients, tv]:
        await client.close()


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_pieces_decode_to_the_whole_message(encoding: wire.Encoding) -> None:
    """encode_in_pieces gives what encoding the message in one go gives, for any list length."""
    for count in (0, 1, 15, 16, 70_000):
        message = {"type": "room", "code": "X", "strokes": [{"i": i} for i in range(count)], "z": 1}
        data = wire.encode_in_pieces(message, "strokes", encoding).encoded(encoding)
        decoded = json.loads(data) if encoding == "json" else msgpack.unpackb(data)
        assert decoded == message


@pytest.mark.parametrize("depth", [9, 1100, 30_000])
@pytest.mark.parametrize("binary", [False, True])
async def test_deep_nesting_is_a_bad_message(server: RunningServer, depth: int, binary: bool) -> None:
    """Deeply nested JSON or msgpack, even before hello: bad_message, and the connection goes on."""
    client = await TestClient.connect(server.url)
    if binary:
        frame: str | bytes = b"\x91" * depth + b"\xc0"
    else:
        frame = '{"type": "hello", "name": ' + "[" * depth + "]" * depth + "}"
    await client.ws.send(frame)
    error = await client.wait_for("error")
    assert error["code"] == "bad_message"
    await client.hello("fine after all")
    await client.close()
