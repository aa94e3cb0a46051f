"""Whole games over real WebSockets, a real redis-server and the real doodle model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from game.commands import Disconnect
from server.app import RunningServer, running_server
from server.clock import FakeClock
from server.config import Settings
from tests.server.wsclient import TestClient, draw, drawing_batches


@pytest.fixture
def clock() -> FakeClock:
    """The gateway's clock: rounds end when a test advances it, not after seconds of waiting."""
    return FakeClock()


@pytest.fixture
async def server(redis_url: str, clock: FakeClock) -> AsyncIterator[RunningServer]:
    # The model in a thread: these tests are not about processes, and children cost seconds to start.
    settings = Settings(port=0, redis_url=redis_url, guess_interval_ms=50, recognition_processes=0)
    async with running_server(settings, clock) as running:
        yield running


async def _room_with(
    server: RunningServer, players: int, spectators: int = 0, use_msgpack: bool = False, **settings: object
) -> tuple[list[TestClient], list[TestClient], str]:
    host = await TestClient.connect(server.url, use_msgpack)
    await host.hello("host", canvas=[256, 256])
    room = await host.request({"type": "create_room", "settings": settings}, "room")
    assert room["type"] == "room", room
    code = room["code"]
    clients = [host]
    for index in range(players - 1):
        player = await TestClient.connect(server.url, use_msgpack)
        await player.hello(f"player{index}", canvas=[256, 256])
        joined = await player.request({"type": "join_room", "code": code, "role": "player"}, "room")
        assert joined["type"] == "room", joined
        clients.append(player)
    watchers = []
    for index in range(spectators):
        spectator = await TestClient.connect(server.url, use_msgpack)
        await spectator.hello(f"tv{index}")
        joined = await spectator.request({"type": "join_room", "code": code, "role": "spectator"}, "room")
        assert joined["type"] == "room", joined
        watchers.append(spectator)
    return clients, watchers, code


async def test_hello_gives_identity_and_secret_token(server: RunningServer) -> None:
    """hello answers welcome with a player id, a token, protocol 1 and the server time."""
    client = await TestClient.connect(server.url)
    welcome = await client.hello("Ana")
    assert welcome["protocol"] == 1
    assert welcome["player_id"].startswith("p_")
    assert welcome["token"].startswith(welcome["player_id"] + ".")
    assert welcome["resumed"] is False
    assert isinstance(welcome["server_time"], int)
    await client.close()


async def test_real_apple_is_recognized_and_cloud_is_not(
    server: RunningServer, clock: FakeClock, apple: list[np.ndarray], cloud: list[np.ndarray]
) -> None:
    """In an apple round, the player drawing a real apple is recognized; the one drawing a cloud is not."""
    (host, player), (tv,), _code = await _room_with(server, 2, 1, words=["apple"], rounds=1, round_seconds=8)
    await host.send({"type": "start_game"})
    started = await player.wait_for("round_started")
    assert started["word"] == "apple" and started["round"] == 1
    assert set(started["drawers"]) == {host.player_id, player.player_id}
    await asyncio.gather(draw(player, apple, 1), draw(host, cloud, 1))
    recognized = await tv.wait_for("recognized")
    assert recognized["player_id"] == player.player_id
    assert recognized["rank"] == 1 and recognized["points"] > 0 and recognized["word"] == "apple"
    await host.wait_for(lambda m: m["type"] == "guess" and m["player_id"] == host.player_id)
    clock.advance(8.01)  # the wake-up comes 5 ms after a deadline
    ended = await host.wait_for("round_ended", timeout=15)
    results = {r["player_id"]: r for r in ended["results"]}
    assert results[player.player_id]["recognized"] is True
    assert results[host.player_id]["recognized"] is False
    clock.advance(5.01)
    over = await player.wait_for("game_over", timeout=15)
    assert over["scores"][0]["player_id"] == player.player_id
    # Spectators see every stroke batch of both drawers, and the guesses of both.
    relayed = tv.of_type("stroke")
    assert len(relayed) == len(drawing_batches(apple, 1)) + len(drawing_batches(cloud, 1))
    assert {g["player_id"] for g in tv.of_type("guess")} == {host.player_id, player.player_id}
    # The drawer gets guesses for their own drawing only; nobody can see the host's guesses but TV and host.
    assert {g["player_id"] for g in player.of_type("guess")} == {player.player_id}
    for client in (host, player, tv):
        await client.close()


async def test_silent_round_ends_at_its_deadline(server: RunningServer, clock: FakeClock) -> None:
    """Nobody draws: the timer alone ends the round and the game."""
    (host,), _, _code = await _room_with(
        server, 1, words=["apple"], rounds=1, round_seconds=5, results_seconds=1
    )
    await host.send({"type": "start_game"})
    started = await host.wait_for("round_started")
    clock.advance(4.9)
    await asyncio.sleep(0.1)
    assert not host.of_type("round_ended")
    clock.advance(0.11)
    ended = await host.wait_for("round_ended", timeout=10)
    assert ended["results"][0]["recognized"] is False
    assert abs(ended["next_at"] - started["ends_at"] - 1000) < 50
    clock.advance(1.01)
    await host.wait_for("game_over", timeout=5)
    await host.close()


async def test_reconnect_resumes_seat_score_and_drawing(
    server: RunningServer, apple: list[np.ndarray]
) -> None:
    """A player who drops mid-round and resumes within 30 s gets the room, strokes and time back."""
    (host, player), _, code = await _room_with(server, 2, words=["apple"], rounds=1, round_seconds=20)
    await host.send({"type": "start_game"})
    await player.wait_for("round_started")
    partial = apple[:1]
    await draw(player, partial, 1)
    await host.wait_for("stroke")  # show_drawings: the host sees the relay, so the stroke is stored
    token = player.token
    await player.close()
    await host.wait_for("player_disconnected")
    again = await TestClient.connect(server.url)
    welcome = await again.hello("ignored", resume=token, canvas=[256, 256])
    assert welcome["resumed"] is True and welcome["player_id"] == player.player_id
    snapshot = await again.wait_for("room")
    # The snapshot comes right after welcome: no room event may arrive before the state it belongs to.
    assert [m["type"] for m in again.inbox[:2]] == ["welcome", "room"]
    assert snapshot["code"] == code and snapshot["phase"] == "round"
    assert snapshot["you"] == {"player_id": player.player_id, "role": "player"}
    assert 0 < snapshot["round"]["ends_at"] - snapshot["server_time"] <= 20_000
    mine = [s for s in snapshot["strokes"] if s["player_id"] == player.player_id]
    assert sum(len(s["points"]) for s in mine) == len(partial[0])
    await host.wait_for("player_reconnected")
    # The resumed player keeps drawing where they left off, and is recognized.
    await draw(again, apple, 1)
    recognized = await host.wait_for("recognized", timeout=15)
    assert recognized["player_id"] == player.player_id
    await host.close()
    await again.close()


async def test_wrong_resume_token_is_refused(server: RunningServer) -> None:
    """A forged token gets invalid_token and the connection can still say hello."""
    client = await TestClient.connect(server.url)
    reply = await client.request({"type": "hello", "name": "x", "resume": "p_000000000000.forged"}, "welcome")
    assert reply["code"] == "invalid_token"
    await client.hello("x")
    await client.close()


async def test_two_gateways_share_one_room(redis_url: str, apple: list[np.ndarray]) -> None:
    """Host on gateway A, player and spectator on gateway B: one room, one game."""
    async with (
        running_server(Settings(port=0, redis_url=redis_url, recognition_processes=0)) as gateway_a,
        running_server(Settings(port=0, redis_url=redis_url, recognition_processes=0)) as gateway_b,
    ):
        host = await TestClient.connect(gateway_a.url)
        await host.hello("host", canvas=[256, 256])
        room = await host.request(
            {"type": "create_room", "settings": {"words": ["apple"], "rounds": 1}}, "room"
        )
        player = await TestClient.connect(gateway_b.url)
        await player.hello("remote", canvas=[256, 256])
        await player.request({"type": "join_room", "code": room["code"]}, "room")
        tv = await TestClient.connect(gateway_b.url)
        await tv.hello("tv")
        await tv.request({"type": "join_room", "code": room["code"], "role": "spectator"}, "room")
        joined = await host.wait_for(lambda m: m["type"] == "player_joined" and m["role"] == "player")
        assert joined["player_id"] == player.player_id
        await host.send({"type": "start_game"})
        await player.wait_for("round_started")
        await draw(player, apple, 1)
        recognized = await host.wait_for("recognized", timeout=15)
        assert recognized["player_id"] == player.player_id
        await tv.wait_for("recognized")
        for client in (host, player, tv):
            await client.close()


async def test_the_newest_connection_of_a_player_wins_on_any_gateway(redis_url: str) -> None:
    """Resuming on gateway B closes the player's older socket on gateway A with 4000 (and the other way
    round on one gateway); the seat moves with the player and nobody sees them leave."""
    async with (
        running_server(Settings(port=0, redis_url=redis_url, recognition_processes=0)) as gateway_a,
        running_server(Settings(port=0, redis_url=redis_url, recognition_processes=0)) as gateway_b,
    ):
        host = await TestClient.connect(gateway_a.url)
        await host.hello("host")
        room = await host.request(
            {"type": "create_room", "settings": {"words": ["apple"], "rounds": 1}}, "room"
        )
        assert room["type"] == "room", room
        phone = await TestClient.connect(gateway_a.url)
        await phone.hello("phone")
        await phone.request({"type": "join_room", "code": room["code"]}, "room")
        await host.wait_for("player_joined")

        moved = await TestClient.connect(gateway_b.url)  # the phone switched networks
        assert (await moved.hello("phone", resume=phone.token))["player_id"] == phone.player_id
        assert (await moved.wait_for("room"))["code"] == room["code"]
        async with asyncio.timeout(5):
            await phone.ws.wait_closed()
        assert phone.ws.close_code == 4000

        back = await TestClient.connect(gateway_b.url)  # and once more, on the same gateway
        await back.hello("phone", resume=phone.token)
        async with asyncio.timeout(5):
            await moved.ws.wait_closed()
        assert moved.ws.close_code == 4000
        await back.send({"type": "ping", "id": "still-here"})
        await back.wait_for("pong")
        assert not host.of_type("player_disconnected")  # the seat never emptied
        for client in (host, back):
            await client.close()


async def test_a_gateway_that_was_wrongly_swept_restores_its_members(redis_url: str) -> None:
    """If another gateway marked one of ours disconnected (we were too busy to refresh our liveness
    key in time), our next sweep marks them connected again: the seat does not expire under them."""
    async with (
        running_server(Settings(port=0, redis_url=redis_url, recognition_processes=0)) as gateway_a,
        running_server(Settings(port=0, redis_url=redis_url, recognition_processes=0)) as gateway_b,
    ):
        host = await TestClient.connect(gateway_b.url)
        await host.hello("host")
        room = await host.request(
            {"type": "create_room", "settings": {"words": ["apple"], "rounds": 1}}, "room"
        )
        player = await TestClient.connect(gateway_a.url)
        await player.hello("busy")
        await player.request({"type": "join_room", "code": room["code"]}, "room")
        await host.wait_for("player_joined")
        assert await gateway_a.gateway.restore_own_connections() == 0
        await gateway_b.gateway.transact(room["code"], lambda state: [Disconnect(player.player_id)])
        await host.wait_for("player_disconnected")
        for _ in range(50):  # until gateway A has seen the commit
            if await gateway_a.gateway.restore_own_connections():
                break
            await asyncio.sleep(0.05)
        back = await host.wait_for("player_reconnected")
        assert back["player_id"] == player.player_id
        for client in (host, player):
            await client.close()


async def test_whole_game_over_msgpack(server: RunningServer, apple: list[np.ndarray]) -> None:
    """Binary frames speak msgpack and get msgpack back, through a whole game."""
    (host, player), (tv,), _code = await _room_with(
        server, 2, 1, use_msgpack=True, words=["apple"], rounds=1, round_seconds=10
    )
    await host.send({"type": "start_game"})
    await player.wait_for("round_started")
    await draw(player, apple, 1)
    await tv.wait_for("recognized", timeout=15)
    assert player.frame_kinds == {bytes} and tv.frame_kinds == {bytes}
    await host.close()
    await player.close()
    await tv.close()


async def test_practice_mode_recognizes_outside_any_room(
    server: RunningServer, apple: list[np.ndarray]
) -> None:
    """`recognize` answers a `guess` carrying the request id, with the real model's top 3."""
    client = await TestClient.connect(server.url)
    await client.hello("solo", canvas=[512, 512])
    strokes = [[[float(x) * 2, float(y) * 2, 0.0] for x, y in stroke[:, :2]] for stroke in apple]
    guess = await client.request({"type": "recognize", "id": "p1", "strokes": strokes}, "guess")
    assert guess["ref"] == "p1" and guess["player_id"] == client.player_id
    assert len(guess["guesses"]) == 3
    assert guess["guesses"][0]["word"] == "apple" and guess["guesses"][0]["score"] > 0.8
    await client.close()


async def test_word_packs_are_listed_and_a_room_plays_one(server: RunningServer) -> None:
    """list_packs (even before hello) names every pack with its words; a room made with a pack plays it."""
    client = await TestClient.connect(server.url)
    listed = await client.request({"type": "list_packs", "id": "p1"}, "packs")
    assert listed["ref"] == "p1" and listed["default"] == "classic"
    packs = {pack["name"]: pack for pack in listed["packs"]}
    assert [w["word"] for w in packs["classic"]["words"]][:3] == ["apple", "book", "bowtie"]
    assert all(
        w["difficulty"] in ("easy", "medium", "hard", "unrated") for p in packs.values() for w in p["words"]
    )
    await client.hello("host")
    default_room = await client.request({"type": "create_room", "settings": {}}, "room")
    assert default_room["settings"]["pack"] == "classic"
    assert default_room["settings"]["words"] == [w["word"] for w in packs["classic"]["words"]]
    await client.request({"type": "leave_room"}, "left_room")
    other = next(name for name in packs if name != "classic")
    room = await client.request({"type": "create_room", "settings": {"pack": other}}, "room")
    assert room["settings"]["pack"] == other
    assert room["settings"]["words"] == [w["word"] for w in packs[other]["words"]]
    refused = await client.request({"type": "update_settings", "settings": {"pack": "nope"}}, "error")
    assert refused["code"] == "unknown_pack"


async def test_practice_ids_of_different_players_do_not_collide(
    server: RunningServer, apple: list[np.ndarray]
) -> None:
    """Two players practicing at once with the same request ids each get every guess they asked for."""
    clients = [await TestClient.connect(server.url) for _ in range(2)]
    for index, client in enumerate(clients):
        await client.hello(f"solo{index}", canvas=[512, 512])
    strokes = [[[float(x) * 2, float(y) * 2, 0.0] for x, y in stroke[:, :2]] for stroke in apple]
    for attempt in range(3):
        guesses = await asyncio.gather(
            *(
                client.request({"type": "recognize", "id": f"r{attempt}", "strokes": strokes}, "guess")
                for client in clients
            )
        )
        assert [guess["ref"] for guess in guesses] == [f"r{attempt}"] * 2
        assert [guess["player_id"] for guess in guesses] == [client.player_id for client in clients]
    for client in clients:
        await client.close()


async def test_snapshot_during_results_carries_game_results_and_next_round(
    server: RunningServer, clock: FakeClock
) -> None:
    """A player resuming in the results pause gets the game number, the round's results and next_at."""
    (host, player), _, _code = await _room_with(
        server, 2, words=["apple", "cloud"], rounds=2, round_seconds=5, results_seconds=5
    )
    lobby = host.of_type("room")[0]
    assert lobby["game"] == 0 and lobby["next_at"] is None and lobby["results"] is None
    await host.send({"type": "start_game"})
    await player.wait_for("round_started")
    clock.advance(5.01)
    ended = await player.wait_for("round_ended", timeout=10)
    token = player.token
    await player.close()  # a close with 1000: the seat is still held
    again = await TestClient.connect(server.url)
    await again.hello("player0", resume=token)
    snapshot = await again.wait_for("room")
    assert snapshot["phase"] == "round_results"
    assert snapshot["game"] == 1
    assert snapshot["next_at"] == ended["next_at"]
    assert snapshot["results"] == ended["results"]
    assert snapshot["round"]["round"] == 1
    await again.close()
    await host.close()


async def test_resent_stroke_batch_is_taken_once(server: RunningServer) -> None:
    """A batch sent twice (a client unsure whether it arrived before a drop) is stored and relayed once."""
    (host, player), _, _code = await _room_with(server, 2, words=["apple"], rounds=1, round_seconds=20)
    await host.send({"type": "start_game"})
    await player.wait_for("round_started")
    batch = {"type": "stroke", "round": 1, "stroke": 0, "points": [[10, 10, 0], [20, 25, 16]], "end": False}
    await player.send(batch)
    await host.wait_for("stroke")
    token = player.token
    await player.close()
    again = await TestClient.connect(server.url)
    await again.hello("player0", resume=token, canvas=[256, 256])
    first = await again.wait_for("room")
    assert [s["points"] for s in first["strokes"] if s["player_id"] == again.player_id] == [batch["points"]]
    await again.send(batch)  # the resend: accepted without an error, and not stored again
    follow_up = {**batch, "points": [[30, 40, 33]], "end": True}
    await again.send(follow_up)
    await host.wait_for(lambda m: m["type"] == "stroke" and m["end"] is True)
    assert len(host.of_type("stroke")) == 2
    assert again.of_type("error") == []
    late = await TestClient.connect(server.url)
    await late.hello("late")
    snapshot = await late.request({"type": "join_room", "code": first["code"], "role": "spectator"}, "room")
    assert [s["points"] for s in snapshot["strokes"]] == [batch["points"], follow_up["points"]]
    for client in (again, host, late):
        await client.close()


@pytest.mark.parametrize("use_msgpack", [False, True], ids=["json", "msgpack"])
async def test_grouped_strokes_come_in_the_room_order_as_strokes_frames(
    server: RunningServer, clock: FakeClock, apple: list[np.ndarray], use_msgpack: bool
) -> None:
    """A viewer that asked for `group_strokes` gets the same relays, in the same order among the
    room's other frames, as one that did not: grouped into `strokes` frames, sent every relay interval
    (the fake clock's) or at once when another frame for it comes (a guess)."""
    (host,), (plain,), code = await _room_with(
        server, 1, 1, use_msgpack, words=["apple"], rounds=1, round_seconds=20
    )
    grouped = await TestClient.connect(server.url, use_msgpack)
    await grouped.hello("tv-grouped", group_strokes=True)
    joined = await grouped.request({"type": "join_room", "code": code, "role": "spectator"}, "room")
    assert joined["type"] == "room", joined
    await host.send({"type": "start_game"})
    await grouped.wait_for("round_started")
    batches = drawing_batches(apple, 1)
    await draw(host, apple, 1)
    await plain.wait_for(lambda m: m["type"] == "stroke" and len(plain.of_type("stroke")) == len(batches))
    await plain.wait_for("guess")
    clock.advance(0.05)  # the relay interval: what is still held goes out
    await grouped.wait_for(lambda m: m["type"] == "strokes" and m["items"][-1] == plain.of_type("stroke")[-1])

    def relays_and_guesses(client: TestClient) -> list[dict[str, object]]:
        seen: list[dict[str, object]] = []
        for message in client.inbox:
            if message["type"] in ("stroke", "guess"):
                seen.append(message)
            elif message["type"] == "strokes":
                seen.extend(message["items"])
        return seen

    assert grouped.of_type("stroke") == []
    assert len(grouped.of_type("strokes")) < len(batches)  # grouped: fewer frames than batches
    # Both saw the room's channel in its one order; guesses that came mid-drawing are where they were.
    plain_seen = relays_and_guesses(plain)
    assert relays_and_guesses(grouped)[: len(plain_seen)] == plain_seen
    for client in (host, plain, grouped):
        await client.close()


async def test_group_strokes_must_be_a_boolean(server: RunningServer) -> None:
    client = await TestClient.connect(server.url)
    reply = await client.request({"type": "hello", "name": "Ana", "group_strokes": "yes"}, "welcome")
    assert reply["type"] == "error" and reply["code"] == "bad_message"
    assert "group_strokes" in reply["message"]
    await client.close()


async def test_grouped_strokes_leave_early_once_a_group_is_large() -> None:
    """A group whose relays reach 16 KiB is queued at once, without waiting for the relay interval, so
    no `strokes` frame grows without bound; what follows starts the next group."""
    from server import messages as wire
    from server.gateway import MAX_GROUPED_RELAY_BYTES, Client
    from server.ratelimit import TokenBucket

    client = Client(ws=None, connection_id="c1", limiter=TokenBucket(60, 120))  # type: ignore[arg-type]
    client.encoding, client.group_strokes = "msgpack", True
    points = [[float(i % 200), float(i // 3), float(i)] for i in range(512)]
    relays = [wire.WireFrame(wire.stroke_relay_message("p1", 1, 1, n, points, True, None)) for n in range(3)]
    assert len(relays[0].encoded("msgpack")) * 2 >= MAX_GROUPED_RELAY_BYTES
    assert client.hold_relay(relays[0]) is True  # the first held: the gateway books the interval
    assert client.unsent == []
    client.hold_relay(relays[1])  # past 16 KiB: out now
    [sent] = client.unsent
    assert sent.message["type"] == "strokes"
    assert [relay["stroke"] for relay in sent.message["items"]] == [0, 1]
    client.unsent.clear()
    assert client.hold_relay(relays[2]) is True and client.unsent == []
    client.send({"type": "pong", "server_time": 1})  # any other frame sends what is held first
    assert [frame.message["type"] for frame in client.unsent] == ["strokes", "pong"]
