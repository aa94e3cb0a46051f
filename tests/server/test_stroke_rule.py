"""One stroke rule: every case goes through game.rules.check_stroke and the APPEND_STROKE script in a
real Redis, and both must give the same answer (accepted, or the same error code)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from game.commands import JoinRoom
from game.errors import DoodleError
from game.rules import MAX_BATCHES_PER_DRAWING, MAX_POINTS_PER_DRAWING, Ink, check_stroke
from game.state import RoomState
from server.store import RoomStore, StrokeEntry, ink_key
from tests.game.helpers import T0, play, states_in_every_phase

NO_INK = Ink()


@dataclass(frozen=True)
class Case:
    phase: str  # a key of states_in_every_phase(), or "round+dan" (dan joined mid-round)
    player_id: str
    round_number: int
    now: float
    expected: str  # "ok" or the wire error code
    ink: Ink = NO_INK
    points: int = 1
    game_number: int | None = None  # None: the room's own game


def _states() -> dict[str, RoomState]:
    states = states_in_every_phase()
    states["round+dan"] = play(states["round"], (JoinRoom("dan", "Dan"), T0 + 14))
    # After the round's deadline but before any Tick: only the clock says the round is over.
    states["round_late"] = states["round"]
    return states


_ENDS = states_in_every_phase()["round"].round.ends_at  # type: ignore[union-attr]
_RESULTS_TICK = T0 + 30

CASES = [
    Case("round", "ana", 1, T0 + 15, "ok"),
    Case("round", "ben", 1, T0 + 15, "ok"),  # recognized already: still draws for the watchers
    Case("round", "cy", 1, _ENDS, "ok"),  # disconnected, at the last instant
    Case("round", "zed", 1, T0 + 15, "not_in_room"),
    Case("round", "kim", 1, T0 + 15, "not_in_room"),  # kicked
    Case("round", "sam", 1, T0 + 15, "not_a_player"),
    Case("round", "ana", 2, T0 + 15, "not_your_turn"),
    Case("round", "ana", 1, T0 + 15, "not_your_turn", game_number=2),  # a round of another game
    Case("round+dan", "dan", 1, T0 + 15, "not_your_turn"),
    Case("round_late", "ana", 1, _ENDS + 0.001, "round_over"),
    Case("round_results", "ana", 1, _RESULTS_TICK + 1, "round_over"),
    Case("round_results", "ana", 2, _RESULTS_TICK + 1, "wrong_phase"),
    Case("round_results", "sam", 1, _RESULTS_TICK + 1, "not_a_player"),
    Case("lobby", "ana", 1, T0 + 6, "wrong_phase"),
    Case("lobby", "sam", 1, T0 + 6, "not_a_player"),
    Case("lobby", "zed", 1, T0 + 6, "not_in_room"),
    Case("game_over", "ana", 2, T0 + 61, "wrong_phase"),
    Case("closed", "ana", 1, T0 + 32, "room_not_found"),
    # The per-drawing caps, per player: what the others drew never counts.
    Case("round", "ana", 1, T0 + 15, "ok", Ink(MAX_BATCHES_PER_DRAWING - 1, 10)),
    Case("round", "ana", 1, T0 + 15, "drawing_too_large", Ink(MAX_BATCHES_PER_DRAWING, 10)),
    Case("round", "ana", 1, T0 + 15, "ok", Ink(5, MAX_POINTS_PER_DRAWING - 8), points=8),
    Case("round", "ana", 1, T0 + 15, "drawing_too_large", Ink(5, MAX_POINTS_PER_DRAWING - 8), points=9),
    Case("round_late", "ana", 1, _ENDS + 1, "round_over", Ink(MAX_BATCHES_PER_DRAWING, 0)),
]


def _rules_answer(state: RoomState, case: Case) -> str:
    game_number = state.game_number if case.game_number is None else case.game_number
    try:
        check_stroke(
            state, case.player_id, case.round_number, case.now, case.ink, case.points, game_number=game_number
        )
    except DoodleError as exc:
        return exc.code
    return "ok"


async def _lua_answer(client: aioredis.Redis, state: RoomState, case: Case) -> str:
    await client.flushall()
    store = RoomStore(client, idle_ttl=600, finished_ttl=60)
    await store.create(state)
    game_number = state.game_number if case.game_number is None else case.game_number
    if case.ink != NO_INK:
        await client.hset(
            ink_key(state.code, game_number, case.round_number),
            mapping={f"{case.player_id}:b": case.ink.batches, f"{case.player_id}:p": case.ink.points},
        )
    entry = StrokeEntry(case.player_id, 0, [[1.0, 1.0, float(i)] for i in range(case.points)], False)
    try:
        await store.append_stroke(state.code, game_number, case.round_number, entry, case.now)
    except DoodleError as exc:
        return exc.code
    return "ok"


def test_the_table_covers_every_answer() -> None:
    """The table is not vacuous: it has accepted cases and every refusal the rule can give."""
    codes = {case.expected for case in CASES}
    assert codes == {
        "ok",
        "not_in_room",
        "not_a_player",
        "not_your_turn",
        "round_over",
        "wrong_phase",
        "room_not_found",
        "drawing_too_large",
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.phase}-{c.player_id}-{c.expected}")
async def test_lua_and_rules_agree(redis_client: aioredis.Redis, case: Case) -> None:
    """Both halves of the stroke rule give the expected answer for the case."""
    state = _states()[case.phase]
    assert _rules_answer(state, case) == case.expected
    assert await _lua_answer(redis_client, state, case) == case.expected


async def test_ink_is_counted_per_player(redis_client: aioredis.Redis) -> None:
    """Accepted batches add to the sender's ink only: another player's full drawing refuses nothing."""
    state = _states()["round"]
    store = RoomStore(redis_client, idle_ttl=600, finished_ttl=60)
    await store.create(state)

    # Batches differ (t): an identical batch again would be a resend, accepted once (test_store).
    def big(batch: int) -> StrokeEntry:
        return StrokeEntry("ana", 0, [[1.0, 1.0, float(batch)]] * 500, False)

    for batch in range(MAX_POINTS_PER_DRAWING // 500):
        await store.append_stroke(state.code, state.game_number, 1, big(batch), T0 + 15)
    with pytest.raises(DoodleError) as refused:
        await store.append_stroke(state.code, state.game_number, 1, big(99), T0 + 15)
    assert refused.value.code == "drawing_too_large"
    ben = StrokeEntry("ben", 0, [[1.0, 1.0, 0.0]] * 500, False)
    assert await store.append_stroke(state.code, state.game_number, 1, ben, T0 + 15) == 17
