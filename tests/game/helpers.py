"""Shared test data and drivers for the game rules: a fake clock is just explicit `now` values."""

from __future__ import annotations

import pytest

from game.commands import Command, Disconnect, JoinRoom, KickPlayer, RecordRecognition, StartGame, Tick
from game.errors import DoodleError
from game.rules import apply, create_room
from game.settings import RoomSettings
from game.state import Role, RoomState

# A fixed clock origin; every time in the tests is T0 plus a few (binary-exact) seconds.
T0 = 1_700_000_000.0
CODE = "CDF4HJ"
WORDS = ("apple", "bicycle", "cat", "dog", "house", "moon", "sun", "tree")
# random.Random(7).shuffle(list(WORDS)) starts with these; see test_rounds for the reference check.
SEED = 7
SEED_WORDS = ("sun", "tree", "cat")


def make_settings(**raw: object) -> RoomSettings:
    """Settings as the server builds them from a client message, over WORDS."""
    return RoomSettings.validated(raw, WORDS)


def new_room(settings: RoomSettings | None = None, now: float = T0) -> RoomState:
    """A lobby created by Ana ("ana") at `now`."""
    state, _ = create_room(CODE, "ana", "Ana", settings or make_settings(rounds=2), now)
    return state


def lobby_with(*player_ids: str, settings: RoomSettings | None = None) -> RoomState:
    """Ana's lobby joined by each id (name = id capitalized), one second apart from T0 + 1."""
    state = new_room(settings)
    for offset, player_id in enumerate(player_ids, start=1):
        state, _ = apply(state, JoinRoom(player_id, player_id.capitalize()), T0 + offset)
    return state


def play(state: RoomState, *moves: tuple[Command, float]) -> RoomState:
    """Apply (command, now) pairs in order; return the final state."""
    for command, now in moves:
        state, _ = apply(state, command, now)
    return state


def assert_refused(state: RoomState, command: Command, now: float, error: type[DoodleError]) -> DoodleError:
    """`command` raises exactly `error` (not a subclass) and the state is untouched."""
    before = state.to_dict()
    with pytest.raises(error) as caught:
        apply(state, command, now)
    assert type(caught.value) is error
    assert state.to_dict() == before
    return caught.value


def states_in_every_phase() -> dict[str, RoomState]:
    """A room with every kind of member and field set, in each phase."""
    lobby = play(
        lobby_with("ben", "cy"),
        (JoinRoom("sam", "Sam ☃", Role.SPECTATOR), T0 + 3.5),
        (JoinRoom("kim", "Kim"), T0 + 4),
        (KickPlayer(by="ana", target="kim"), T0 + 4.5),
        (Disconnect("cy"), T0 + 5.125),
    )
    in_round = play(
        lobby,
        (StartGame(by="ana", seed=SEED), T0 + 10),
        (RecordRecognition("ben", SEED_WORDS[0], at=T0 + 13.3), T0 + 13.4),
    )
    results = play(in_round, (Tick(), T0 + 30))
    game_over = play(results, (Tick(), T0 + 35), (Tick(), T0 + 55), (Tick(), T0 + 60))
    closed = play(lobby_with(), (Disconnect("ana"), T0 + 1), (Tick(), T0 + 31))
    return {
        "lobby": lobby,
        "round": in_round,
        "round_results": results,
        "game_over": game_over,
        "closed": closed,
    }
