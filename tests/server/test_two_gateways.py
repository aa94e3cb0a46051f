"""Two gateways in one process over one Redis: what one gateway learns about a room, the other learns too."""

from __future__ import annotations

import asyncio

import numpy as np

from server.app import running_server
from server.clock import FakeClock
from server.config import Settings
from tests.server.wsclient import TestClient, draw


async def test_rematch_on_two_gateways_starts_every_drawing_afresh(
    redis_url: str, apple: list[np.ndarray]
) -> None:
    """Host on gateway A, player on gateway B, both recognized in a one-round game of apple; after
    `rematch` and `start_game`, B's first tiny stroke of game 2 is judged on its own, not on top of
    game 1's drawing (which B once kept: its drawings were keyed by round, not by game and round)."""
    settings = Settings(port=0, redis_url=redis_url, recognition_processes=0, guess_interval_ms=50)
    clock = FakeClock()  # one time for both gateways; the results pause passes when the test says
    async with (
        running_server(settings, clock) as gateway_a,
        running_server(settings.with_overrides({"gateway_id": "b"}), clock) as gateway_b,
    ):
        host = await TestClient.connect(gateway_a.url)
        await host.hello("host", canvas=[256, 256])
        room = await host.request(
            {"type": "create_room", "settings": {"words": ["apple"], "rounds": 1, "round_seconds": 20}},
            "room",
        )
        player = await TestClient.connect(gateway_b.url)
        await player.hello("player", canvas=[256, 256])
        joined = await player.request({"type": "join_room", "code": room["code"]}, "room")
        assert joined["type"] == "room", joined

        await host.send({"type": "start_game"})
        await player.wait_for("round_started")
        # The player first, the host last: gateway A then commits the round's end, and B only hears of it.
        await draw(player, apple, 1)
        await host.wait_for(lambda m: m["type"] == "recognized" and m["player_id"] == player.player_id, 15)
        await draw(host, apple, 1)
        await host.wait_for(lambda m: m["type"] == "recognized" and m["player_id"] == host.player_id, 15)
        await player.wait_for("round_ended", timeout=15)
        clock.advance(5.01)
        await player.wait_for("game_over", timeout=15)

        await host.request({"type": "rematch"}, "back_to_lobby")
        await player.wait_for("back_to_lobby")
        start = len(player.inbox)
        await host.send({"type": "start_game"})
        started = await player.wait_for("round_started", start=start)
        assert started["game"] == 2 and started["round"] == 1
        mark = len(player.inbox)
        # Two points, a dot: nobody draws an apple like that.
        dot = {
            "type": "stroke",
            "round": 1,
            "stroke": 0,
            "points": [[128, 128, 0], [130, 129, 16]],
            "end": True,
        }
        await player.send(dot)
        guess = await player.wait_for(
            lambda m: m["type"] == "guess" and m["player_id"] == player.player_id, timeout=10, start=mark
        )
        assert guess["round"] == 1
        await asyncio.sleep(0.5)  # a recognition is committed after its guess is published
        assert not [m for m in player.inbox[mark:] if m["type"] == "recognized"], player.inbox[mark:]
        assert guess["guesses"][0]["word"] != "apple" or guess["guesses"][0]["score"] < 0.5, guess
        for client in (host, player):
            await client.close()
