"""Room state in Redis: every transition is one Lua script, decided atomically, exactly once.

Key layout (every key of a room shares the hash tag ``{room:CODE}``, so each script touches one slot
and rooms shard across a Redis Cluster)::

    {room:CODE}                hash: version, state (msgpack of RoomState.to_dict()), phase, round,
                               ends_at_ms, show_drawings
    {room:CODE}:drawers        set: player ids drawing in the current round (checked per stroke)
    {room:CODE}:strokes:G.N    list: msgpack [player_id, stroke, points, end, canvas], per batch of
                               round N of game G (round numbers restart after a rematch)
    {player:ID}:session        hash: token_sha256, name, room, role, consent (see sessions.py)
    doodle:census              hash: one line per room for deployment-wide metrics (see census.py)

Pub/sub channel ``{room:CODE}`` carries the envelopes of ``server/envelopes.py`` (the new state and
its typed events; an accepted stroke batch), published by the same script that changed the state, so
every gateway sees the room's events in commit order.

Optimistic concurrency: a gateway loads (state, version), applies the pure rules, then commits with
the version it read. Losing a race raises :class:`StaleRoomVersion` and the caller retries on fresh
state; it never silently overwrites.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from game.errors import (
    DoodleError,
    GuessAfterDeadline,
    NotAPlayer,
    NotYourTurn,
    RoomNotFound,
    WrongPhase,
)
from game.events import Event
from game.state import Phase, RoomState
from server.census import CensusWriter
from server.envelopes import GuessEnvelope, commit_tail, encode_guess, stroke_tail


class StaleRoomVersion(DoodleError):
    """Another gateway committed first; reload and apply again."""

    code = "conflict"


class RoomCodeTaken(DoodleError):
    """A new room drew a code that already exists (retry with another code)."""

    code = "conflict"


class DrawingTooLarge(DoodleError):
    """The round's drawing exceeds the per-round stroke budget."""

    code = "drawing_too_large"


def room_key(code: str) -> str:
    return "{room:" + code + "}"


def room_channel(code: str) -> str:
    return "{room:" + code + "}"


def round_id(game_number: int, round_number: int) -> str:
    """Names a round uniquely within a room: round numbers start again at 1 after a rematch, so a
    late stroke of game 1's round 2 must not land in game 2's round 2."""
    return f"{game_number}.{round_number}"


def strokes_key(code: str, game_number: int, round_number: int) -> str:
    return f"{room_key(code)}:strokes:{round_id(game_number, round_number)}"


# KEYS[1] room hash, KEYS[2] drawers set
# ARGV[1] state blob, ARGV[2] phase, ARGV[3] round, ARGV[4] ends_at_ms, ARGV[5] show_drawings,
# ARGV[6] ttl seconds, ARGV[7] channel, ARGV[8] envelope (without version), ARGV[9..] drawer ids
CREATE_ROOM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('CODE_TAKEN') end
redis.call('HSET', KEYS[1], 'version', 1, 'state', ARGV[1], 'phase', ARGV[2], 'round', ARGV[3],
           'ends_at_ms', ARGV[4], 'show_drawings', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

# KEYS[1] room hash, KEYS[2] drawers set, KEYS[3] strokes list of the new round
# ARGV[1] expected version, then as CREATE_ROOM from ARGV[2]:
# ARGV[2] state, ARGV[3] phase, ARGV[4] round, ARGV[5] ends_at_ms, ARGV[6] show_drawings,
# ARGV[7] ttl, ARGV[8] channel, ARGV[9] envelope middle (envelopes.commit_tail), ARGV[10..] drawers
# Publishes: msgpack(new version) .. ARGV[9] .. ARGV[2], the state packed once for both uses.
COMMIT_ROOM = """
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return redis.error_reply('ROOM_NOT_FOUND') end
if version ~= ARGV[1] then return redis.error_reply('STALE') end
local new_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'version', new_version, 'state', ARGV[2], 'phase', ARGV[3], 'round', ARGV[4],
           'ends_at_ms', ARGV[5], 'show_drawings', ARGV[6])
-- The drawers of the current round, rewritten from the state: a player who leaves stops drawing.
redis.call('DEL', KEYS[2])
for i = 10, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[7]) end
redis.call('PUBLISH', ARGV[8], cmsgpack.pack(new_version) .. ARGV[9] .. ARGV[2])
return new_version
"""

# KEYS[1] room hash, KEYS[2] drawers set, KEYS[3] strokes list of round ARGV[1]
# ARGV[1] round, ARGV[2] player id, ARGV[3] now_ms, ARGV[4] entry blob, ARGV[5] channel,
# ARGV[6] envelope tail (envelopes.stroke_tail), ARGV[7] max entries per round, ARGV[8] ttl
APPEND_STROKE = """
local room = redis.call('HMGET', KEYS[1], 'phase', 'round', 'ends_at_ms', 'version')
if not room[1] then return redis.error_reply('ROOM_NOT_FOUND') end
if room[1] ~= 'round' then return redis.error_reply('WRONG_PHASE') end
if room[2] ~= ARGV[1] then return redis.error_reply('WRONG_ROUND') end
if tonumber(ARGV[3]) > tonumber(room[3]) then return redis.error_reply('ROUND_OVER') end
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 0 then return redis.error_reply('NOT_A_DRAWER') end
if redis.call('LLEN', KEYS[3]) >= tonumber(ARGV[7]) then return redis.error_reply('TOO_LARGE') end
local seq = redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[8])
redis.call('PUBLISH', ARGV[5], cmsgpack.pack(tonumber(room[4]), seq) .. ARGV[6])
return seq
"""

_SCRIPT_ERRORS: dict[str, type[DoodleError]] = {
    "STALE": StaleRoomVersion,
    "ROOM_NOT_FOUND": RoomNotFound,
    "CODE_TAKEN": RoomCodeTaken,
    "WRONG_PHASE": WrongPhase,
    "WRONG_ROUND": NotYourTurn,
    "ROUND_OVER": GuessAfterDeadline,
    "NOT_A_DRAWER": NotAPlayer,
    "TOO_LARGE": DrawingTooLarge,
}

_SCRIPT_MESSAGES = {
    "STALE": "room changed concurrently",
    "ROOM_NOT_FOUND": "no such room",
    "CODE_TAKEN": "room code already in use",
    "WRONG_PHASE": "no round is being played",
    "WRONG_ROUND": "that is not the current round",
    "ROUND_OVER": "the round is over",
    "NOT_A_DRAWER": "you are not drawing in this round",
    "TOO_LARGE": "this drawing has too many strokes",
}


def _raise_script_error(exc: ResponseError) -> None:
    name = str(exc).split()[0] if str(exc) else ""
    error = _SCRIPT_ERRORS.get(name)
    if error is None:
        raise exc
    raise error(_SCRIPT_MESSAGES[name]) from exc


@dataclass(frozen=True, slots=True)
class StrokeEntry:
    """One accepted batch of points, as kept for snapshots and the archive."""

    player_id: str
    stroke: int
    points: list[list[float]]
    end: bool
    # The drawer's canvas [w, h] from hello, so viewers can scale the drawing; None when undeclared.
    canvas: list[float] | None = None


def encode_stroke_entry(entry: StrokeEntry) -> bytes:
    return msgpack.packb(
        [entry.player_id, entry.stroke, entry.points, entry.end, entry.canvas], use_bin_type=True
    )


def decode_stroke_entry(data: bytes) -> StrokeEntry:
    return StrokeEntry(*msgpack.unpackb(data, raw=False))


class RoomStore:
    """Loads and commits rooms; appends strokes. One instance per gateway, shared by connections."""

    def __init__(
        self, client: aioredis.Redis, *, idle_ttl: int, finished_ttl: int, max_stroke_entries: int = 4000
    ):
        self.client = client
        self.idle_ttl = idle_ttl
        self.finished_ttl = finished_ttl
        self.max_stroke_entries = max_stroke_entries
        self._create = client.register_script(CREATE_ROOM)
        self._commit = client.register_script(COMMIT_ROOM)
        self._append = client.register_script(APPEND_STROKE)
        self._census = CensusWriter(client)

    def _ttl(self, state: RoomState) -> int:
        """Idle rooms live ``idle_ttl`` after their last change; finished and closed ones less."""
        if state.phase == Phase.CLOSED:
            return min(60, self.finished_ttl)
        return self.finished_ttl if state.phase == Phase.GAME_OVER else self.idle_ttl

    @staticmethod
    def _mirrors(state: RoomState) -> list[Any]:
        current = state.round
        ends_at_ms = int(current.ends_at * 1000) if current is not None else 0
        return [
            state.phase.value,
            round_id(state.game_number, current.number) if current is not None else "0",
            ends_at_ms,
            int(state.settings.show_drawings),
        ]

    async def load(self, code: str) -> tuple[RoomState, int]:
        """Return the room and its version.

        Raises:
            RoomNotFound: no room has this code (or it expired).
        """
        version, blob = await self.client.hmget(room_key(code), ["version", "state"])
        if version is None or blob is None:
            raise RoomNotFound(f"no room with code {code}")
        return RoomState.from_dict(msgpack.unpackb(blob, raw=False)), int(version)

    async def create(self, state: RoomState) -> int:
        """Store a brand-new room at version 1.

        Raises:
            RoomCodeTaken: the code is in use.
        """
        blob = msgpack.packb(state.to_dict(), use_bin_type=True)
        try:
            await self._create(
                keys=[room_key(state.code), room_key(state.code) + ":drawers"],
                args=[blob, *self._mirrors(state), self._ttl(state)],
            )
        except ResponseError as exc:
            _raise_script_error(exc)
        await self._census.record(state, 1, self._ttl(state), time.time())
        return 1

    async def commit(self, state: RoomState, expected_version: int, events: Sequence[Event] = ()) -> int:
        """Replace the room if it is still at ``expected_version``; publish the new state and
        ``events`` in the same step.

        Returns:
            The new version.

        Raises:
            StaleRoomVersion: another gateway committed first.
            RoomNotFound: the room expired meanwhile.
        """
        blob = msgpack.packb(state.to_dict(), use_bin_type=True)
        drawers = list(state.round.drawers) if state.round is not None and state.phase == Phase.ROUND else []
        round_number = state.round.number if state.round is not None else 0
        key = room_key(state.code)
        strokes = strokes_key(state.code, state.game_number, round_number)
        try:
            version = await self._commit(
                keys=[key, key + ":drawers", strokes],
                args=[
                    expected_version,
                    blob,
                    *self._mirrors(state),
                    self._ttl(state),
                    room_channel(state.code),
                    commit_tail(list(events)),
                    *drawers,
                ],
            )
        except ResponseError as exc:
            _raise_script_error(exc)
        await self._census.record(state, int(version), self._ttl(state), time.time())
        return int(version)

    async def append_stroke(
        self,
        code: str,
        game_number: int,
        round_number: int,
        entry: StrokeEntry,
        now: float,
    ) -> int:
        """Accept a batch of points if the round is open for this drawer; publish it atomically.

        Returns:
            The batch's sequence number within the round (1, 2, ...).

        Raises:
            RoomNotFound, WrongPhase, NotYourTurn (wrong round), GuessAfterDeadline, NotAPlayer
            (not drawing this round), DrawingTooLarge.
        """
        key = room_key(code)
        blob = encode_stroke_entry(entry)
        try:
            seq = await self._append(
                keys=[key, key + ":drawers", strokes_key(code, game_number, round_number)],
                args=[
                    round_id(game_number, round_number),
                    entry.player_id,
                    int(now * 1000),
                    blob,
                    room_channel(code),
                    stroke_tail(
                        entry.player_id,
                        game_number,
                        round_number,
                        entry.stroke,
                        entry.points,
                        entry.end,
                        entry.canvas,
                    ),
                    self.max_stroke_entries,
                    self.idle_ttl,
                ],
            )
        except ResponseError as exc:
            _raise_script_error(exc)
        return int(seq)

    async def publish_guess(self, code: str, guess: GuessEnvelope) -> None:
        """Publish a guess, which changes no state (version 0)."""
        await self.client.publish(room_channel(code), encode_guess(guess))

    async def round_strokes(
        self, code: str, game_number: int, round_number: int
    ) -> tuple[list[StrokeEntry], int]:
        """Every accepted batch of a round, in order, and the sequence number of the last one."""
        raw = await self.client.lrange(strokes_key(code, game_number, round_number), 0, -1)
        entries = [decode_stroke_entry(item) for item in raw]
        return entries, len(entries)
