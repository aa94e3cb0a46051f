"""The census: rooms, players, spectators and games in play across the whole deployment, for /metrics.

A gateway only knows the rooms its own connections are in; an operator asks about all of them. So
every stored room also has one line in the Redis hash ``doodle:census``::

    doodle:census   hash: room code -> "version expires_at_ms phase players_connected players_away
                                        spectators_connected spectators_away"

:class:`CensusWriter` writes a room's line after each create and commit (``RoomStore``); a scrape reads the
whole hash with one HGETALL, at most once per ``census_interval_seconds`` (:class:`CensusCollector`),
instead of scanning the keyspace for rooms. The line is written by a separate call, not inside the
room's Lua script: the hash lives in another Redis Cluster slot than the room. A line that a lost
write left stale is put right by the room's next commit, or dropped once the room's expiry passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from prometheus_client import Metric
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from game.state import Phase, RoomState

__all__ = ["CENSUS_KEY", "Census", "CensusCollector", "CensusWriter", "read_census"]

log = structlog.get_logger(__name__)

CENSUS_KEY = "doodle:census"

# Phases counted in `doodle_rooms`; a closed room is gone for the players and is not counted.
COUNTED_PHASES = (Phase.LOBBY, Phase.ROUND, Phase.ROUND_RESULTS, Phase.GAME_OVER)
# A game is in play from its first round until game over.
IN_PLAY = (Phase.ROUND, Phase.ROUND_RESULTS)

# Write a room's line unless the stored one is newer. Two gateways' commits are ordered by the room's
# version, but their census writes may arrive in either order. A stored line whose room has expired
# loses to any write, so a new room that reuses an old code is counted.
# KEYS[1] census hash
# ARGV[1] room code, ARGV[2] room version, ARGV[3] line (starts with the version), ARGV[4] now in ms
RECORD = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
    local version, expires_at = string.match(old, '^(%d+) (%d+)')
    if tonumber(expires_at) > tonumber(ARGV[4]) and tonumber(version) > tonumber(ARGV[2]) then
        return 0
    end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# Drop lines of expired rooms, each only if it is still the line that was read (a commit may have
# renewed it since).
# KEYS[1] census hash
# ARGV[1], ARGV[2], ...: room code, line read; repeated
PRUNE = """
local removed = 0
for i = 1, #ARGV, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
        redis.call('HDEL', KEYS[1], ARGV[i])
        removed = removed + 1
    end
end
return removed
"""


def census_line(state: RoomState, version: int, expires_at_ms: int) -> str:
    """One room's line in the census hash."""
    players_connected = sum(1 for player in state.players if player.connected)
    spectators_connected = sum(1 for spectator in state.spectators if spectator.connected)
    return " ".join(
        str(value)
        for value in (
            version,
            expires_at_ms,
            state.phase.value,
            players_connected,
            len(state.players) - players_connected,
            spectators_connected,
            len(state.spectators) - spectators_connected,
        )
    )


class CensusWriter:
    """Writes rooms' census lines; one per `RoomStore`, with its script registered once."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._record = client.register_script(RECORD)

    async def record(self, state: RoomState, version: int, ttl_seconds: int, now: float) -> None:
        """Write the line of a room just stored at `version`, living `ttl_seconds` from `now`.

        A Redis failure is logged, not raised: the room itself is stored, and its next commit or its
        expiry puts the census right.
        """
        expires_at_ms = int((now + ttl_seconds) * 1000)
        line = census_line(state, version, expires_at_ms)
        try:
            await self._record(keys=[CENSUS_KEY], args=[state.code, version, line, int(now * 1000)])
        except RedisError as exc:
            log.warning("census.record_failed", room_id=state.code, error=repr(exc))


@dataclass(frozen=True, slots=True)
class Census:
    """Counts over every live room of the deployment.

    Attributes:
        rooms: live rooms by phase (every phase of ``COUNTED_PHASES`` present, maybe 0).
        games_in_play: rooms whose game is between its first round and game over.
        players_connected, players_away: seated players with an open connection, and those whose
            connection dropped while their seat is held.
        spectators_connected, spectators_away: the same for spectators.
        read_at: when the hash was read (seconds since the epoch).
    """

    rooms: dict[Phase, int]
    games_in_play: int
    players_connected: int
    players_away: int
    spectators_connected: int
    spectators_away: int
    read_at: float


async def read_census(client: aioredis.Redis, now: float, prune: AsyncScript | None = None) -> Census:
    """Read the census hash, count its live rooms and drop the lines of expired ones.

    Args:
        prune: the registered ``PRUNE`` script; registered here when None.

    Raises:
        redis.exceptions.RedisError: Redis failed.
    """
    raw: dict[bytes, bytes] = await client.hgetall(CENSUS_KEY)
    rooms = dict.fromkeys(COUNTED_PHASES, 0)
    totals = [0, 0, 0, 0]
    expired: list[bytes] = []
    now_ms = now * 1000
    for code, line in raw.items():
        fields = line.split()
        if len(fields) != 7 or int(fields[1]) <= now_ms:
            expired += [code, line]
            continue
        phase = Phase(fields[2].decode())
        if phase not in rooms:
            continue
        rooms[phase] += 1
        for index, count in enumerate(fields[3:]):
            totals[index] += int(count)
    if expired:
        prune = prune or client.register_script(PRUNE)
        await prune(keys=[CENSUS_KEY], args=expired)
    return Census(
        rooms=rooms,
        games_in_play=sum(rooms[phase] for phase in IN_PLAY),
        players_connected=totals[0],
        players_away=totals[1],
        spectators_connected=totals[2],
        spectators_away=totals[3],
        read_at=now,
    )


class CensusCollector(Collector):
    """Exports the newest census; :meth:`refresh` reads Redis again once the last read is old enough.

    Args:
        client: the deployment's Redis.
        interval_seconds: the least time between two reads (a scrape interval): scrapes in between,
            from several Prometheus servers say, share one read.
    """

    def __init__(self, client: aioredis.Redis, interval_seconds: float) -> None:
        self._client = client
        self._interval = interval_seconds
        self._census: Census | None = None
        self._lock = asyncio.Lock()
        self._prune = client.register_script(PRUNE)

    async def refresh(self) -> None:
        """Read the census unless the last read is younger than the interval. A Redis failure keeps the
        last counts (``doodle_census_age_seconds`` grows) and is logged, not raised: a scrape still
        answers with every other metric."""
        async with self._lock:
            now = time.time()
            if self._census is not None and now - self._census.read_at < self._interval:
                return
            try:
                self._census = await read_census(self._client, now, self._prune)
            except RedisError as exc:
                log.warning("census.read_failed", error=repr(exc))

    def collect(self) -> Iterable[Metric]:
        census = self._census
        if census is None:
            return
        rooms = GaugeMetricFamily(
            "doodle_rooms", "Live rooms of the whole deployment, by phase (from Redis).", labels=["phase"]
        )
        for phase, count in census.rooms.items():
            rooms.add_metric([phase.value], count)
        yield rooms
        yield GaugeMetricFamily(
            "doodle_games_in_play",
            "Rooms of the whole deployment whose game has started and is not over (phase round or "
            "round_results).",
            value=census.games_in_play,
        )
        for name, what, connected, away in (
            ("doodle_players", "Players", census.players_connected, census.players_away),
            ("doodle_spectators", "Spectators", census.spectators_connected, census.spectators_away),
        ):
            family = GaugeMetricFamily(
                name,
                f"{what} seated in the deployment's live rooms; connected=false: connection lost, seat "
                "held for a resume.",
                labels=["connected"],
            )
            family.add_metric(["true"], connected)
            family.add_metric(["false"], away)
            yield family
        yield GaugeMetricFamily(
            "doodle_census_age_seconds",
            "Seconds since the room counts above were read from Redis.",
            value=time.time() - census.read_at,
        )
