"""Races are decided in Redis, atomically and exactly once (real redis-server, real Lua scripts)."""

from __future__ import annotations

import asyncio
import time

import msgpack
import pytest
import redis.asyncio as aioredis

from game import rules
from game.commands import JoinRoom, LeaveRoom, RecordRecognition, StartGame
from game.errors import GuessAfterDeadline, NotInRoom, NotYourTurn, RoomFull, RoomNotFound, WrongPhase
from game.settings import RoomSettings
from game.state import Phase, Role
from inference.recognizer import Recognizer
from server.config import Settings
from server.envelopes import CommitEnvelope, decode_envelope
from server.gateway import Gateway
from server.recognition import LocalRecognition
from server.store import (
    RoomCodeTaken,
    RoomStore,
    StaleRoomVersion,
    StrokeEntry,
    room_channel,
    room_key,
)

WORDS = ("apple", "cloud", "star")


def _gateway(redis_url: str, client: aioredis.Redis, recognizer: Recognizer) -> Gateway:
    """A gateway with the real model (these tests drive its commit loop directly)."""

    async def ignore(result: object) -> None:
        pass

    return Gateway(Settings(redis_url=redis_url), client, LocalRecognition(recognizer, on_result=ignore))


def _store(client: aioredis.Redis) -> RoomStore:
    return RoomStore(client, idle_ttl=600, finished_ttl=60)


async def _room_in_round(store: RoomStore, code: str = "CDF4HJ") -> tuple[int, float]:
    now = time.time()
    settings = RoomSettings(rounds=1, round_seconds=20, words=("apple",))
    state, _ = rules.create_room(code, "p_host", "host", settings, now)
    await store.create(state)
    state, _ = rules.apply(state, JoinRoom("p_guest", "guest", Role.PLAYER), now)
    version = await store.commit(state, 1)
    state, _ = rules.apply(state, StartGame("p_host", seed=1), now)
    version = await store.commit(state, version)
    assert state.round is not None
    return version, state.round.ends_at


async def test_commit_with_a_stale_version_raises(redis_client: aioredis.Redis) -> None:
    """Two commits from the same version: the second raises StaleRoomVersion and changes nothing."""
    store = _store(redis_client)
    version, _ends_at = await _room_in_round(store)
    state, loaded = await store.load("CDF4HJ")
    assert loaded == version
    first, _ = rules.apply(state, RecordRecognition("p_host", "apple", time.time()), time.time())
    second, _ = rules.apply(state, RecordRecognition("p_guest", "apple", time.time()), time.time())
    assert await store.commit(first, version) == version + 1
    with pytest.raises(StaleRoomVersion):
        await store.commit(second, version)
    stored, _ = await store.load("CDF4HJ")
    assert stored == first


async def test_tampered_version_is_detected(redis_client: aioredis.Redis) -> None:
    """Someone else bumps the version in Redis: our commit is refused."""
    store = _store(redis_client)
    version, _ = await _room_in_round(store)
    state, _ = await store.load("CDF4HJ")
    await redis_client.hincrby(room_key("CDF4HJ"), "version", 1)
    with pytest.raises(StaleRoomVersion):
        await store.commit(state, version)


async def test_creating_an_existing_code_raises(redis_client: aioredis.Redis) -> None:
    """A new room that draws a code in use is refused (the caller draws again)."""
    store = _store(redis_client)
    await _room_in_round(store)
    state, _ = rules.create_room(
        "CDF4HJ", "p_other", "other", RoomSettings(words=WORDS, rounds=1), time.time()
    )
    with pytest.raises(RoomCodeTaken):
        await store.create(state)


async def test_missing_room_raises_room_not_found(redis_client: aioredis.Redis) -> None:
    store = _store(redis_client)
    with pytest.raises(RoomNotFound):
        await store.load("XXXXXX")


async def test_stroke_checks_phase_round_drawer_and_deadline(redis_client: aioredis.Redis) -> None:
    """APPEND_STROKE decides in Redis: wrong round, stranger, after the deadline (the whole table of
    cases, beside game.rules.check_stroke, is in test_stroke_rule.py)."""
    store = _store(redis_client)
    _version, ends_at = await _room_in_round(store)
    entry = StrokeEntry("p_guest", 0, [[1.0, 2.0, 0.0]], False)
    assert await store.append_stroke("CDF4HJ", 1, 1, entry, time.time()) == 1
    with pytest.raises(NotYourTurn):
        await store.append_stroke("CDF4HJ", 1, 2, entry, time.time())
    with pytest.raises(NotYourTurn):  # the same round number in another game (after a rematch)
        await store.append_stroke("CDF4HJ", 2, 1, entry, time.time())
    with pytest.raises(NotInRoom):
        await store.append_stroke("CDF4HJ", 1, 1, StrokeEntry("p_stranger", 0, [], False), time.time())
    with pytest.raises(GuessAfterDeadline):
        await store.append_stroke("CDF4HJ", 1, 1, entry, ends_at + 0.001)
    # The very last millisecond still counts.
    second = StrokeEntry("p_guest", 0, [[3.0, 4.0, 16.0]], False)
    assert await store.append_stroke("CDF4HJ", 1, 1, second, ends_at) == 2
    entries, seq = await store.round_strokes("CDF4HJ", 1, 1)
    assert seq == 2 and entries == [entry, second]


async def test_a_resent_batch_is_stored_once(redis_client: aioredis.Redis) -> None:
    """The same batch again (a client resending after a resume) returns 0 and stores nothing."""
    store = _store(redis_client)
    await _room_in_round(store)
    entry = StrokeEntry("p_guest", 0, [[1.0, 2.0, 0.0]], False)
    assert await store.append_stroke("CDF4HJ", 1, 1, entry, time.time()) == 1
    assert await store.append_stroke("CDF4HJ", 1, 1, entry, time.time()) == 0
    # The same points closing the stroke are a different batch.
    closing = StrokeEntry("p_guest", 0, [[1.0, 2.0, 0.0]], True)
    assert await store.append_stroke("CDF4HJ", 1, 1, closing, time.time()) == 2
    entries, seq = await store.round_strokes("CDF4HJ", 1, 1)
    assert seq == 2 and entries == [entry, closing]


async def test_stroke_in_the_lobby_is_wrong_phase(redis_client: aioredis.Redis) -> None:
    store = _store(redis_client)
    state, _ = rules.create_room("CDF4HJ", "p_host", "host", RoomSettings(words=WORDS, rounds=1), time.time())
    await store.create(state)
    with pytest.raises(WrongPhase):
        await store.append_stroke("CDF4HJ", 1, 1, StrokeEntry("p_host", 0, [], False), time.time())


async def test_commit_publishes_in_the_same_step(redis_client: aioredis.Redis) -> None:
    """Subscribers see every commit's new state and typed events with its version, in commit order."""
    store = _store(redis_client)
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(room_channel("CDF4HJ"))
    await _room_in_round(store)
    state, version = await store.load("CDF4HJ")
    joined, events = rules.apply(state, JoinRoom("p_late", "Late", Role.SPECTATOR), time.time())
    await store.commit(joined, version, events)
    envelopes = []
    async with asyncio.timeout(5):
        while len(envelopes) < 3:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                envelopes.append(decode_envelope(message["data"]))
    assert [e.version for e in envelopes] == [2, 3, 4]
    assert isinstance(envelopes[-1], CommitEnvelope)
    assert envelopes[-1].state == joined and envelopes[-1].events == tuple(events)
    await pubsub.aclose()


async def test_two_recognitions_in_the_same_instant_get_ranks_once(
    redis_url: str, recognizer: Recognizer
) -> None:
    """Two gateways record two players' recognitions concurrently: ranks 1 and 2, exactly once each."""
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    store = _store(clients[0])
    await _room_in_round(store)
    gateways = [_gateway(redis_url, client, recognizer) for client in clients]
    at = time.time()

    def recognize(player_id: str):  # type: ignore[no-untyped-def]
        return lambda state: [RecordRecognition(player_id, "apple", at)]

    for _repeat in range(3):  # the same recognition delivered twice must not count twice
        await asyncio.gather(
            gateways[0].transact("CDF4HJ", recognize("p_host"), before_deadlines=True),
            gateways[1].transact("CDF4HJ", recognize("p_guest"), before_deadlines=True),
            return_exceptions=True,
        )
    state, _ = await store.load("CDF4HJ")
    # Both recognized: the round ended early, with one recognition per player.
    assert state.phase == Phase.ROUND_RESULTS
    assert state.round is not None
    assert sorted(r.rank for r in state.round.recognitions) == [1, 2]
    assert {r.player_id for r in state.round.recognitions} == {"p_host", "p_guest"}
    for client in clients:
        await client.aclose()


async def test_two_joins_for_the_last_seat(redis_url: str, recognizer: Recognizer) -> None:
    """Two gateways seat two players in the last free seat at once: one gets it, one gets room_full."""
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    store = _store(clients[0])
    settings = RoomSettings(max_players=2, words=WORDS, rounds=1)
    state, _ = rules.create_room("CDF4HJ", "p_host", "host", settings, time.time())
    await store.create(state)
    gateways = [_gateway(redis_url, client, recognizer) for client in clients]
    results = await asyncio.gather(
        gateways[0].transact("CDF4HJ", lambda s: [JoinRoom("p_a", "a", Role.PLAYER)]),
        gateways[1].transact("CDF4HJ", lambda s: [JoinRoom("p_b", "b", Role.PLAYER)]),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], RoomFull)
    state, _ = await store.load("CDF4HJ")
    assert len(state.players) == 2
    blob = await clients[0].hget(room_key("CDF4HJ"), "state")
    assert msgpack.unpackb(blob)["code"] == "CDF4HJ"
    for client in clients:
        await client.aclose()


async def test_rooms_expire_idle_finished_and_closed(redis_client: aioredis.Redis) -> None:
    """Every commit sets the room's expiry: long while playing, shorter when over or closed."""
    store = _store(redis_client)
    version, _ = await _room_in_round(store)
    assert 590 <= await redis_client.ttl(room_key("CDF4HJ")) <= 600
    state, _ = await store.load("CDF4HJ")
    state, _ = rules.apply(state, LeaveRoom("p_guest"), time.time())
    state, _ = rules.apply(state, LeaveRoom("p_host"), time.time())
    assert state.phase == Phase.CLOSED
    await store.commit(state, version)
    assert 0 < await redis_client.ttl(room_key("CDF4HJ")) <= 60
