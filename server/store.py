"""Room state in Redis: every transition is one Lua script, decided atomically, exactly once.

Key layout (every key of a room shares the hash tag ``{room:CODE}``, so each script touches one slot
and rooms shard across a Redis Cluster)::

    {room:CODE}                hash: version, state (msgpack of RoomState.to_dict()), phase, round,
                               ends_at_ms, show_drawings
    {room:CODE}:roles          hash: player id -> "drawer" | "player" | "spectator", rewritten by
                               every commit (what APPEND_STROKE checks a stroke's sender against)
    {room:CODE}:strokes:G.N    list: msgpack [player_id, stroke, points, end, canvas], per batch of
                               round N of game G (round numbers restart after a rematch)
    {room:CODE}:ink:G.N        hash: "<player id>:b" batches and "<player id>:p" points drawn in
                               round N of game G (the per-drawing caps of game.rules.check_stroke)
    {player:ID}:session        hash: token_sha256, name, room, role, consent (see sessions.py)
    doodle:census              hash: one line per room for deployment-wide metrics (see census.py)

Besides ``doodle:census`` (above), one more key is not a room's: ``doodle:deadlines``, a sorted set of
room code -> its next deadline (``rules.next_deadline``; seconds), written after each commit. Every
gateway ticks the rooms that are due, so a room's timers run even when no gateway holds a member of
it (everybody dropped).

Pub/sub channel ``{room:CODE}`` carries the envelopes of ``server/envelopes.py`` (the new state and
its typed events; an accepted stroke batch), published by the same script that changed the state, so
every gateway sees the room's events in commit order.

Optimistic concurrency: a gateway loads (state, version), applies the pure rules, then commits with
the version it read. Losing a race raises :class:`StaleRoomVersion` and the caller retries on fresh
state; it never silently overwrites.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from game.errors import (
    DoodleError,
    DrawingTooLarge,
    GuessAfterDeadline,
    NotAPlayer,
    NotInRoom,
    NotYourTurn,
    RoomNotFound,
    WrongPhase,
)
from game.events import Event
from game.rules import MAX_BATCHES_PER_DRAWING, MAX_POINTS_PER_DRAWING
from game.state import Phase, RoomState
from server.census import CensusWriter
from server.envelopes import GuessEnvelope, commit_tail, encode_guess, stroke_tail
from server.tick_pipeline import TickPipeline

__all__ = ["DrawingTooLarge", "RoomCodeTaken", "RoomStore", "StaleRoomVersion"]


class StaleRoomVersion(DoodleError):
    """Another gateway committed first; reload and apply again."""

    code = "conflict"


class RoomCodeTaken(DoodleError):
    """A new room drew a code that already exists (retry with another code)."""

    code = "conflict"


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


DEADLINES_KEY = "doodle:deadlines"
STROKE_READ_SLICE = 500


def ink_key(code: str, game_number: int, round_number: int) -> str:
    return f"{room_key(code)}:ink:{round_id(game_number, round_number)}"


def roles_key(code: str) -> str:
    return f"{room_key(code)}:roles"


# KEYS[1] room hash, KEYS[2] roles hash
# ARGV[1] state blob, ARGV[2] phase, ARGV[3] round, ARGV[4] ends_at_ms, ARGV[5] show_drawings,
# ARGV[6] ttl seconds, ARGV[7..] pairs of player id, role (see RoomStore._roles)
CREATE_ROOM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('CODE_TAKEN') end
redis.call('HSET', KEYS[1], 'version', 1, 'state', ARGV[1], 'phase', ARGV[2], 'round', ARGV[3],
           'ends_at_ms', ARGV[4], 'show_drawings', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV >= 7 then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
return 1
"""

# KEYS[1] room hash, KEYS[2] roles hash, KEYS[3] strokes list of the new round, KEYS[4] its ink hash
# ARGV[1] expected version, then as CREATE_ROOM from ARGV[2]:
# ARGV[2] state, ARGV[3] phase, ARGV[4] round, ARGV[5] ends_at_ms, ARGV[6] show_drawings,
# ARGV[7] ttl, ARGV[8] channel, ARGV[9] envelope middle (envelopes.commit_tail),
# ARGV[10..] pairs of player id, role (see RoomStore._roles)
# Publishes: msgpack(new version) .. ARGV[9] .. ARGV[2], the state packed once for both uses.
COMMIT_ROOM = """
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return redis.error_reply('ROOM_NOT_FOUND') end
if version ~= ARGV[1] then return redis.error_reply('STALE') end
local new_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'version', new_version, 'state', ARGV[2], 'phase', ARGV[3], 'round', ARGV[4],
           'ends_at_ms', ARGV[5], 'show_drawings', ARGV[6])
-- Who may draw, rewritten from the state: a player who leaves stops drawing at once.
redis.call('DEL', KEYS[2])
for i = 10, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[7])
if #ARGV >= 10 then redis.call('EXPIRE', KEYS[2], ARGV[7]) end
for i = 3, 4 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[7]) end
end
redis.call('PUBLISH', ARGV[8], cmsgpack.pack(new_version) .. ARGV[9] .. ARGV[2])
return new_version
"""

# The Lua half of game.rules.check_stroke: the same checks in the same order, the same errors
# (_SCRIPT_ERRORS); tests/server/test_stroke_rule.py runs every case through both.
# KEYS[1] room hash, KEYS[2] roles hash, KEYS[3] strokes list of round ARGV[1], KEYS[4] its ink hash
# ARGV[1] round id, ARGV[2] player id, ARGV[3] now_ms, ARGV[4] entry blob, ARGV[5] channel,
# ARGV[6] envelope tail (envelopes.stroke_tail), ARGV[7] points in this batch, ARGV[8] max batches
# per drawing, ARGV[9] max points per drawing, ARGV[10] ttl
# KEYS[5] digests of the round's accepted batches, ARGV[11] this batch's digest: a batch accepted
# before (a client resending after a resume) returns 0 and changes nothing, not even the budget.
APPEND_STROKE = """
local room = redis.call('HMGET', KEYS[1], 'phase', 'round', 'ends_at_ms', 'version')
if not room[1] or room[1] == 'closed' then return redis.error_reply('ROOM_NOT_FOUND') end
local role = redis.call('HGET', KEYS[2], ARGV[2])
if not role then return redis.error_reply('NOT_IN_ROOM') end
if role == 'spectator' then return redis.error_reply('NOT_A_PLAYER') end
if room[1] == 'round_results' and room[2] == ARGV[1] then return redis.error_reply('ROUND_OVER') end
if room[1] ~= 'round' then return redis.error_reply('WRONG_PHASE') end
if room[2] ~= ARGV[1] then return redis.error_reply('WRONG_ROUND') end
if role ~= 'drawer' then return redis.error_reply('NOT_A_DRAWER') end
if tonumber(ARGV[3]) > tonumber(room[3]) then return redis.error_reply('ROUND_OVER') end
if redis.call('SISMEMBER', KEYS[5], ARGV[11]) == 1 then return 0 end
local ink = redis.call('HMGET', KEYS[4], ARGV[2] .. ':b', ARGV[2] .. ':p')
local batches, points = tonumber(ink[1] or '0'), tonumber(ink[2] or '0')
if batches >= tonumber(ARGV[8]) or points + tonumber(ARGV[7]) > tonumber(ARGV[9]) then
  return redis.error_reply('TOO_LARGE')
end
redis.call('HINCRBY', KEYS[4], ARGV[2] .. ':b', 1)
redis.call('HINCRBY', KEYS[4], ARGV[2] .. ':p', ARGV[7])
redis.call('EXPIRE', KEYS[4], ARGV[10])
redis.call('SADD', KEYS[5], ARGV[11])
redis.call('EXPIRE', KEYS[5], ARGV[10])
local seq = redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[10])
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
    "NOT_IN_ROOM": NotInRoom,
    "NOT_A_PLAYER": NotAPlayer,
    "NOT_A_DRAWER": NotYourTurn,
    "TOO_LARGE": DrawingTooLarge,
}

_SCRIPT_MESSAGES = {
    "STALE": "room changed concurrently",
    "ROOM_NOT_FOUND": "no such room",
    "CODE_TAKEN": "room code already in use",
    "WRONG_PHASE": "no round is being played",
    "WRONG_ROUND": "that is not the current round",
    "ROUND_OVER": "the round is over",
    "NOT_IN_ROOM": "you are not in this room",
    "NOT_A_PLAYER": "spectators do not draw",
    "NOT_A_DRAWER": "you are not drawing in this round; next round",
    "TOO_LARGE": (
        f"a drawing holds at most {MAX_BATCHES_PER_DRAWING} batches and {MAX_POINTS_PER_DRAWING} points"
    ),
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

    def __init__(self, client: aioredis.Redis, *, idle_ttl: int, finished_ttl: int):
        self.client = client
        self.idle_ttl = idle_ttl
        self.finished_ttl = finished_ttl
        self._create = client.register_script(CREATE_ROOM)
        self._commit = client.register_script(COMMIT_ROOM)
        self._append = client.register_script(APPEND_STROKE)
        self._census = CensusWriter(client)
        # Appends and guesses of one tick share a write on a connection of their own: the per-stroke
        # hot path.
        self._tick = TickPipeline(client)

    async def aclose(self) -> None:
        """Close the hot path's own connection (the client's pool is its owner's to close)."""
        await self._tick.aclose()

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

    @staticmethod
    def _roles(state: RoomState) -> list[str]:
        """The roles mirror as (player id, role) pairs: who APPEND_STROKE lets draw."""
        drawers = state.round.drawers if state.round is not None and state.phase == Phase.ROUND else ()
        pairs: list[str] = []
        for player in state.players:
            pairs += [player.player_id, "drawer" if player.player_id in drawers else "player"]
        for spectator in state.spectators:
            pairs += [spectator.player_id, "spectator"]
        return pairs

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
                keys=[room_key(state.code), roles_key(state.code)],
                args=[blob, *self._mirrors(state), self._ttl(state), *self._roles(state)],
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
        round_number = state.round.number if state.round is not None else 0
        key = room_key(state.code)
        strokes = strokes_key(state.code, state.game_number, round_number)
        ink = ink_key(state.code, state.game_number, round_number)
        try:
            version = await self._commit(
                keys=[key, roles_key(state.code), strokes, ink],
                args=[
                    expected_version,
                    blob,
                    *self._mirrors(state),
                    self._ttl(state),
                    room_channel(state.code),
                    commit_tail(list(events)),
                    *self._roles(state),
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
            The batch's sequence number within the round (1, 2, ...), or 0 when this very batch (same
            player, stroke, points and end) was accepted before: nothing is stored or published again,
            so a client may resend batches it is unsure of after a resume.

        Raises:
            What ``game.rules.check_stroke`` raises for the same case: RoomNotFound, NotInRoom,
            NotAPlayer, GuessAfterDeadline, WrongPhase, NotYourTurn, DrawingTooLarge.
        """
        key = room_key(code)
        blob = encode_stroke_entry(entry)
        try:
            seq = await self._tick.run_script(
                self._append,
                [
                    key,
                    roles_key(code),
                    strokes_key(code, game_number, round_number),
                    ink_key(code, game_number, round_number),
                    strokes_key(code, game_number, round_number) + ":seen",
                ],
                [
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
                    len(entry.points),
                    MAX_BATCHES_PER_DRAWING,
                    MAX_POINTS_PER_DRAWING,
                    self.idle_ttl,
                    hashlib.sha1(blob).hexdigest(),
                ],
            )
        except ResponseError as exc:
            _raise_script_error(exc)
        return int(seq)

    async def publish_guess(self, code: str, guess: GuessEnvelope) -> None:
        """Publish a guess, which changes no state (version 0)."""
        await self._tick.publish(room_channel(code), encode_guess(guess))

    async def index_deadline(self, code: str, deadline: float | None) -> None:
        """Record the room's next deadline (None: nothing pending, or the room is gone)."""
        if deadline is None:
            await self.client.zrem(DEADLINES_KEY, code)
        else:
            await self.client.zadd(DEADLINES_KEY, {code: deadline})

    async def due_rooms(self, now: float, limit: int = 100) -> list[str]:
        """Codes of rooms whose recorded deadline is at or before ``now``, earliest first."""
        codes = await self.client.zrangebyscore(DEADLINES_KEY, "-inf", now, start=0, num=limit)
        return [code.decode() for code in codes]

    async def round_stroke_blobs(self, code: str, game_number: int, round_number: int) -> list[bytes]:
        """Every accepted batch of a round, still encoded (see encode_stroke_entry), in order. Read
        in slices, so one large round does not hold up the event loop in one reply."""
        key = strokes_key(code, game_number, round_number)
        blobs: list[bytes] = []
        while True:
            chunk = await self.client.lrange(key, len(blobs), len(blobs) + STROKE_READ_SLICE - 1)
            blobs += chunk
            if len(chunk) < STROKE_READ_SLICE:
                return blobs

    async def round_strokes(
        self, code: str, game_number: int, round_number: int
    ) -> tuple[list[StrokeEntry], int]:
        """Every accepted batch of a round, in order, and the sequence number of the last one."""
        raw = await self.client.lrange(strokes_key(code, game_number, round_number), 0, -1)
        entries = [decode_stroke_entry(item) for item in raw]
        return entries, len(entries)
