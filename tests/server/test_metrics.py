"""/metrics of real gateways on a real Redis: deployment-wide room counts, recognition counters, build."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator

import numpy as np
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from game import rules
from game.commands import JoinRoom
from game.settings import RoomSettings
from game.state import Phase, Role
from server.app import RunningServer, running_server
from server.census import CENSUS_KEY, CensusWriter, read_census
from server.config import Settings
from tests.server.wsclient import TestClient, draw

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(server: RunningServer) -> Samples:
    """GET /metrics over HTTP; every sample by (name, sorted labels)."""
    url = f"http://127.0.0.1:{server.port}/metrics"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def wait_scrape(server: RunningServer, condition: object, timeout: float = 10.0) -> Samples:
    """Scrape until `condition(samples)` holds (a commit lands a little after the client hears of it)."""
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while True:
            samples = await scrape(server)
            if condition(samples):
                return samples
            await asyncio.sleep(0.05)


@pytest.fixture
async def gateways(redis_url: str) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    """Two gateways on one Redis, reading the census at every scrape."""
    settings = Settings(port=0, redis_url=redis_url, guess_interval_ms=50, census_interval_seconds=0)
    async with running_server(settings) as first, running_server(settings) as second:
        yield first, second


async def test_metrics_count_the_rooms_and_members_of_every_gateway(
    gateways: tuple[RunningServer, RunningServer], apple: list[np.ndarray]
) -> None:
    """Either gateway's /metrics counts rooms, players, spectators and games held on both, and counts
    one recognized drawer once though the model matches the word on several updates."""
    first, second = gateways
    before = await scrape(first)
    host = await TestClient.connect(first.url)
    await host.hello("host", canvas=[256, 256])
    settings = {"words": ["apple"], "rounds": 1, "round_seconds": 8}
    code = (await host.request({"type": "create_room", "settings": settings}, "room"))["code"]
    player = await TestClient.connect(second.url)
    await player.hello("player", canvas=[256, 256])
    await player.request({"type": "join_room", "code": code, "role": "player"}, "room")
    tv = await TestClient.connect(first.url)
    await tv.hello("tv")
    await tv.request({"type": "join_room", "code": code, "role": "spectator"}, "room")

    for server in gateways:
        samples = await scrape(server)
        assert value(samples, "doodle_rooms", phase="lobby") == 1
        assert value(samples, "doodle_rooms", phase="round") == 0
        assert value(samples, "doodle_games_in_play") == 0
        assert value(samples, "doodle_players", connected="true") == 2
        assert value(samples, "doodle_spectators", connected="true") == 1
        assert value(samples, "doodle_local_rooms") >= 1

    await host.send({"type": "start_game"})
    await player.wait_for("round_started")
    samples = await scrape(second)
    assert value(samples, "doodle_rooms", phase="round") == 1
    assert value(samples, "doodle_games_in_play") == 1
    # Draw the apple twice over: the model keeps matching after the first recognition.
    await draw(player, apple, 1)
    await tv.wait_for("recognized")
    await draw(player, apple, 1)
    await host.wait_for("round_ended", timeout=15)
    after = await scrape(second)
    matched = value(after, "doodle_recognition_results_total", mode="embedded", outcome="word_matched")
    matched -= value(before, "doodle_recognition_results_total", mode="embedded", outcome="word_matched")
    recognized = value(after, "doodle_players_recognized_total")
    recognized -= value(before, "doodle_players_recognized_total")
    assert recognized == 1
    assert matched >= 2

    await player.close()
    samples = await wait_scrape(first, lambda s: value(s, "doodle_players", connected="false") == 1)
    assert value(samples, "doodle_players", connected="true") == 1
    assert value(samples, "doodle_census_age_seconds") < 5
    await host.close()
    await tv.close()


async def test_scrapes_within_the_interval_share_one_census_read(redis_url: str) -> None:
    """With a 60 s census interval, a second scrape reuses the first read: one HGETALL, old counts."""
    settings = Settings(port=0, redis_url=redis_url, census_interval_seconds=60)
    client = aioredis.Redis.from_url(redis_url)
    async with running_server(settings) as server:
        await client.config_resetstat()
        assert value(await scrape(server), "doodle_rooms", phase="lobby") == 0
        host = await TestClient.connect(server.url)
        await host.hello("host")
        await host.request({"type": "create_room", "settings": {}}, "room")
        samples = await scrape(server)
        assert value(samples, "doodle_rooms", phase="lobby") == 0
        stats = await client.info("commandstats")
        assert stats["cmdstat_hgetall"]["calls"] == 1
        await host.close()
    await client.aclose()


async def test_every_process_exports_build_uptime_and_process_metrics(
    gateways: tuple[RunningServer, RunningServer],
) -> None:
    """A scrape carries the release, the uptime and the process's memory and CPU."""
    samples = await scrape(gateways[0])
    build = [labels for (name, labels), _value in samples.items() if name == "doodle_build_info"]
    assert len(build) == 1 and dict(build[0])["version"] == "0.1.0"
    assert value(samples, "doodle_uptime_seconds") > 0
    assert value(samples, "process_resident_memory_bytes") > 10_000_000
    assert ("process_cpu_seconds_total", ()) in samples
    assert value(samples, "process_start_time_seconds") < time.time()


async def test_census_keeps_the_newest_line_and_drops_expired_rooms(redis_client: aioredis.Redis) -> None:
    """A late write of an older version loses; an expired room's line goes at the next read, and a new
    room that reuses its code is counted."""
    writer = CensusWriter(redis_client)
    now = time.time()
    state, _ = rules.create_room("CDF4HJ", "p_host", "host", RoomSettings(rounds=1, words=("apple",)), now)
    joined, _ = rules.apply(state, JoinRoom("p_tv", "tv", Role.SPECTATOR), now)
    await writer.record(joined, 2, 600, now)
    await writer.record(state, 1, 600, now)  # arrives late
    census = await read_census(redis_client, now)
    assert census.rooms[Phase.LOBBY] == 1
    assert (census.players_connected, census.spectators_connected) == (1, 1)

    later = now + 601
    assert (await read_census(redis_client, later)).rooms[Phase.LOBBY] == 0
    assert await redis_client.hlen(CENSUS_KEY) == 0
    await writer.record(joined, 5, 600, now)
    await writer.record(state, 1, 600, later)  # the code again, for a new room, after expiry
    census = await read_census(redis_client, later)
    assert census.rooms[Phase.LOBBY] == 1 and census.spectators_connected == 0


def test_a_removed_series_comes_back_when_it_is_counted_again() -> None:
    """Series are looked up once and kept; removing one forgets it, and the next count starts anew."""
    from prometheus_client import CollectorRegistry

    from server.metrics import Metrics

    metrics = Metrics(CollectorRegistry())
    frames = metrics.gauge("doodle_test_frames", "test", ["kind"])
    frames.inc(kind="stroke")
    frames.inc(2, kind="stroke")
    frames.inc(kind="guess")
    assert (frames.value(kind="stroke"), frames.value(kind="guess")) == (3, 1)
    frames.remove(kind="stroke")
    assert frames.value(kind="stroke") == 0
    frames.inc(kind="stroke")
    assert (frames.value(kind="stroke"), frames.value(kind="guess")) == (1, 1)
    with pytest.raises(ValueError):
        frames.inc(colour="red")
