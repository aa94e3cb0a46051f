"""Room codes cannot be guessed at speed, rooms cannot be made without limit, and rooms nobody is in
close on their own: real server, real sockets, real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed

from game.rules import RESUME_SECONDS
from server.app import RunningServer, running_server
from server.config import Settings
from server.ratelimit import AddressLimit, SlidingWindow
from server.store import DEADLINES_KEY, RoomStore, room_key
from tests.server.wsclient import TestClient

UNUSED_CODES = [f"CDF4H{last}" for last in "34679CDFHJKM"]


@pytest.fixture
async def server(redis_url: str) -> AsyncIterator[RunningServer]:
    settings = Settings(port=0, redis_url=redis_url, join_attempts_per_minute=5, rooms_per_minute=3)
    async with running_server(settings) as running:
        yield running


async def _host_room(server: RunningServer) -> tuple[TestClient, str]:
    host = await TestClient.connect(server.url)
    await host.hello("host")
    room = await host.request({"type": "create_room", "settings": {"words": ["apple"], "rounds": 1}}, "room")
    return host, room["code"]


def _wrong(codes: list[str], real: str) -> list[str]:
    return [code for code in codes if code != real]


def test_sliding_window_cannot_be_doubled_at_a_boundary() -> None:
    """At most `limit` events in any window, even a burst at the end of one minute and the start of
    the next (a fixed per-minute bucket lets twice the limit through there)."""
    window = SlidingWindow(limit=10, window_s=60.0)
    assert all(window.take(59.9) for _ in range(10))
    assert not any(window.take(60.1) for _ in range(10))
    assert not window.take(119.8)
    assert window.take(120.0)  # the burst at 59.9 has left the window
    window.refund()
    assert window.take(120.0)


async def test_address_limit_is_a_sliding_window_in_redis(redis_client: aioredis.Redis) -> None:
    """The per-address window counts across connections; a refund gives one back."""
    limit = AddressLimit(redis_client, "test", limit=3, window_s=60)
    receipts = [await limit.take("10.0.0.1") for _ in range(3)]
    assert all(receipts) and await limit.take("10.0.0.1") is None
    assert await limit.take("10.0.0.2") is not None  # another address has its own budget
    await limit.refund("10.0.0.1", receipts[0] or "")
    assert await limit.take("10.0.0.1") is not None


async def test_a_correct_code_is_refused_once_rate_limited(server: RunningServer) -> None:
    """Look-ups are limited before they happen: after the budget is spent on wrong codes, even the
    right code gets rate_limited (else a guesser would learn which code exists)."""
    host, code = await _host_room(server)
    guesser = await TestClient.connect(server.url)
    await guesser.hello("guesser")
    answers = []
    for wrong in _wrong(UNUSED_CODES, code)[:5]:
        answers.append((await guesser.request({"type": "join_room", "code": wrong}, "room"))["code"])
    assert answers == ["room_not_found"] * 5
    refused = await guesser.request({"type": "join_room", "code": code}, "room")
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    await guesser.close()
    await host.close()


async def test_successful_joins_do_not_use_the_budget(server: RunningServer) -> None:
    """A party joining one room from one address (one home network) is never throttled."""
    host, code = await _host_room(server)
    guests = []
    for index in range(8):
        guest = await TestClient.connect(server.url)
        await guest.hello(f"guest {index}")
        role = "player" if index < 6 else "spectator"
        room = await guest.request({"type": "join_room", "code": code, "role": role}, "room")
        assert room["type"] == "room", room
        guests.append(guest)
    for guest in [host, *guests]:
        await guest.close()


async def test_many_sockets_from_one_address_share_one_budget(server: RunningServer) -> None:
    """Eight sockets guessing in parallel from one address get 5 look-ups in all, not 5 each."""
    sockets = [await TestClient.connect(server.url) for _ in range(8)]
    for index, client in enumerate(sockets):
        await client.hello(f"g{index}")
    replies = await asyncio.gather(
        *(
            client.request({"type": "join_room", "code": UNUSED_CODES[index]}, "room")
            for index, client in enumerate(sockets)
        )
    )
    codes = sorted(reply["code"] for reply in replies)
    assert codes == ["rate_limited"] * 3 + ["room_not_found"] * 5
    for client in sockets:
        await client.close()


async def test_persistent_guessers_are_closed(server: RunningServer) -> None:
    """A connection that keeps guessing after rate_limited is closed with 1008."""
    guesser = await TestClient.connect(server.url)
    await guesser.hello("guesser")
    for code in UNUSED_CODES:  # 5 look-ups, then refusals until the connection is closed
        await guesser.send({"type": "join_room", "code": code})
    await asyncio.wait_for(guesser._reader, 10)
    assert guesser.ws.close_code == 1008
    errors = [m["code"] for m in guesser.of_type("error")]
    assert errors[:5] == ["room_not_found"] * 5 and set(errors[5:]) == {"rate_limited"}


async def test_room_creation_is_limited(server: RunningServer) -> None:
    """One connection (or address) makes at most rooms_per_minute rooms; then rate_limited."""
    maker = await TestClient.connect(server.url)
    await maker.hello("maker")
    kinds = []
    for _ in range(4):
        reply = await maker.request({"type": "create_room", "settings": {}}, "room")
        kinds.append(reply["type"] if reply["type"] == "room" else reply["code"])
        if reply["type"] == "room":
            await maker.request({"type": "leave_room"}, "left_room")
    assert kinds == ["room", "room", "room", "rate_limited"]
    other = await TestClient.connect(server.url)  # the same address, a new socket
    await other.hello("maker again")
    refused = await other.request({"type": "create_room", "settings": {}}, "room")
    assert refused["code"] == "rate_limited"
    await other.close()
    with pytest.raises(ConnectionClosed):
        for _ in range(5):  # keeps trying after being told: closed
            await maker.send({"type": "create_room", "settings": {}})
            await asyncio.sleep(0.05)
        await asyncio.wait_for(maker._reader, 5)
        await maker.ws.send("{}")
    assert maker.ws.close_code == 1008


async def test_a_dropped_room_closes_with_no_gateway_holding_it(
    server: RunningServer, redis_client: aioredis.Redis
) -> None:
    """Connect, create, drop: nobody holds the room any more, yet its seat timer runs out and the
    room closes (any live gateway ticks due rooms), instead of idling in the lobby for an hour."""
    host, code = await _host_room(server)
    await host.close()
    store = RoomStore(redis_client, idle_ttl=3600, finished_ttl=600)
    for _ in range(50):
        state, version = await store.load(code)
        if not state.players[0].connected:
            break
        await asyncio.sleep(0.1)
    assert code not in server.gateway.rooms  # no local member: no local timer
    deadline = await redis_client.zscore(DEADLINES_KEY, code)
    assert deadline is not None and abs(deadline - (time.time() + RESUME_SECONDS)) < 5
    # Wind the seat's clock forward instead of waiting 30 s: it dropped 31 s ago.
    player = dataclasses.replace(state.players[0], disconnected_at=time.time() - RESUME_SECONDS - 1)
    aged = dataclasses.replace(state, players=(player,))
    await store.commit(aged, version)
    await store.index_deadline(code, time.time() - 1)
    for _ in range(50):
        phase = await redis_client.hget(room_key(code), "phase")
        if phase == b"closed":
            break
        await asyncio.sleep(0.1)
    assert phase == b"closed"
    assert await redis_client.zscore(DEADLINES_KEY, code) is None
