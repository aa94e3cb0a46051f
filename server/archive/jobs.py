"""The archive's Redis side: who consented in a room, the queue of finished rounds, forget requests.

Keys::

    {room:CODE}:consent             set: players of the room who consented (``record_consent``);
                                    expires with the room
    doodle:archive                  stream: one job per finished round of an archiving room; consumer
                                    group ``archivers`` (see ``archiver.py``)
    {player:ID}:archive_forgotten   string: when the player last asked to be forgotten (seconds); a
                                    pending job drops their drawings of rounds that started before it

A job carries player ids (they live in Redis for the room's life anyway), never names or tokens; the
archive itself never stores them.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from game.events import RoundEnded
from game.state import RoomState
from server.store import room_key

ARCHIVE_STREAM = "doodle:archive"
ARCHIVE_GROUP = "archivers"
# Bounds the stream if no archiver runs at all; far above any real backlog (entries are deleted
# once archived).
STREAM_MAXLEN = 100_000
# A consent set outlives a missing room by this much (the room's own idle TTL is the usual bound).
DEFAULT_CONSENT_TTL_MS = 3600 * 1000
# A forget request must outlive every job that could still hold the player's strokes: a round's
# strokes expire an hour after it, and jobs older than MAX_JOB_AGE_SECONDS are dropped unread.
FORGET_TOMBSTONE_SECONDS = 7 * 24 * 3600
MAX_JOB_AGE_SECONDS = FORGET_TOMBSTONE_SECONDS - 24 * 3600


def consent_key(code: str) -> str:
    return room_key(code) + ":consent"


def forgotten_key(player_id: str) -> str:
    return "{player:" + player_id + "}:archive_forgotten"


# KEYS[1] room hash, KEYS[2] consent set
# ARGV[1] player id, ARGV[2] "1" to consent or "0" to withdraw, ARGV[3] ttl ms if the room has none
RECORD_CONSENT = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[3]) end
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
"""

# KEYS[1] room hash, KEYS[2] consent set
# Re-aligns the consent set's expiry with the room's (commits keep extending the room's TTL).
REFRESH_CONSENT = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
"""

_scripts: weakref.WeakKeyDictionary[aioredis.Redis, dict[str, AsyncScript]] = weakref.WeakKeyDictionary()


def _script(client: aioredis.Redis, source: str) -> AsyncScript:
    """The script registered once per client."""
    registered = _scripts.setdefault(client, {})
    if source not in registered:
        registered[source] = client.register_script(source)
    return registered[source]


@dataclass(frozen=True, slots=True)
class DrawerResult:
    """How one drawer of the round did, as far as the archive cares."""

    player_id: str
    recognized: bool


@dataclass(frozen=True, slots=True)
class ArchiveJob:
    """One finished round of an archiving room, waiting to be written.

    Attributes:
        room: the room code (to find the strokes and the consent set; not written to the archive).
        round: the round number.
        game: the room's game number (rounds restart at 1 after a rematch).
        word: what everyone drew.
        results: every drawer still in the room at the end.
        started_at, ended_at: the round's start and end (seconds since the epoch).
    """

    room: str
    round: int
    word: str
    results: tuple[DrawerResult, ...]
    started_at: float
    ended_at: float
    game: int = 0

    def encode(self) -> dict[FieldT, EncodableT]:
        blob = msgpack.packb(
            {
                "room": self.room,
                "round": self.round,
                "game": self.game,
                "word": self.word,
                "results": [[r.player_id, r.recognized] for r in self.results],
                "started_at": self.started_at,
                "ended_at": self.ended_at,
            },
            use_bin_type=True,
        )
        return {"job": blob}

    @classmethod
    def decode(cls, fields: dict[Any, Any]) -> ArchiveJob:
        """Inverse of ``encode``.

        Raises:
            ValueError: the entry is not a job of this shape.
        """
        try:
            raw = msgpack.unpackb(fields.get(b"job", fields.get("job")), raw=False)
            return cls(
                room=str(raw["room"]),
                round=int(raw["round"]),
                word=str(raw["word"]),
                results=tuple(DrawerResult(str(pid), bool(ok)) for pid, ok in raw["results"]),
                started_at=float(raw["started_at"]),
                ended_at=float(raw["ended_at"]),
                game=int(raw.get("game", 0)),
            )
        except (KeyError, TypeError, ValueError, msgpack.UnpackException) as exc:
            raise ValueError(f"malformed archive job: {exc!r}") from exc


async def record_consent(client: aioredis.Redis, room_code: str, player_id: str, consent: bool) -> None:
    """Record whether a player who takes (or resumes) a seat lets this room keep their drawings.

    Called by the gateway for players only; a spectator never draws and never enters the set.
    Withdrawing (``consent=False``) also applies to rounds already queued but not yet written.
    """
    await _script(client, RECORD_CONSENT)(
        keys=[room_key(room_code), consent_key(room_code)],
        args=[player_id, "1" if consent else "0", DEFAULT_CONSENT_TTL_MS],
    )


def job_for_round(state: RoomState, ended: RoundEnded) -> ArchiveJob:
    """The job for a round that just ended in ``state`` (the state committed with ``ended``)."""
    ended_at = ended.results_until - state.settings.results_seconds
    current = state.round
    if current is not None and current.number == ended.round:
        started_at = current.started_at
    else:  # the room moved on in the same commit; the round lasted at most round_seconds
        started_at = ended_at - state.settings.round_seconds
    return ArchiveJob(
        room=state.code,
        round=ended.round,
        word=ended.word,
        results=tuple(DrawerResult(r.player_id, r.recognized) for r in ended.results),
        started_at=started_at,
        ended_at=ended_at,
        game=state.game_number,
    )


async def enqueue_round(client: aioredis.Redis, state: RoomState, ended: RoundEnded) -> None:
    """Queue a finished round for the archivers (only for a room whose ``archive`` setting is on).

    Call it right after committing the commit that produced ``ended``: the round's strokes are then
    in Redis for an hour, and the job survives this process.
    """
    if not state.settings.archive or not ended.results:
        return
    await _script(client, REFRESH_CONSENT)(keys=[room_key(state.code), consent_key(state.code)], args=[])
    job = job_for_round(state, ended)
    await client.xadd(ARCHIVE_STREAM, job.encode(), maxlen=STREAM_MAXLEN, approximate=True)


async def ensure_group(client: aioredis.Redis) -> None:
    """Create the ``archivers`` group (and the stream) unless it exists; it reads from the start."""
    try:
        await client.xgroup_create(ARCHIVE_STREAM, ARCHIVE_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def mark_forgotten(client: aioredis.Redis, player_id: str, at: float | None = None) -> None:
    """Record a forget request, so queued rounds that started before it drop the player's drawings."""
    when = time.time() if at is None else at
    await client.set(forgotten_key(player_id), repr(when), ex=FORGET_TOMBSTONE_SECONDS)


async def forgotten_at(client: aioredis.Redis, player_ids: Sequence[str]) -> dict[str, float]:
    """When each of these players last asked to be forgotten (absent: never, as far as we know)."""
    if not player_ids:
        return {}
    async with client.pipeline(transaction=False) as pipe:
        for player_id in player_ids:
            pipe.get(forgotten_key(player_id))
        values = await pipe.execute()
    return {pid: float(value) for pid, value in zip(player_ids, values, strict=True) if value is not None}
