"""The transition table: every (phase, command) pair is either a row of TRANSITIONS or refused."""

from __future__ import annotations

import pytest

from game.commands import (
    ChangeSettings,
    Command,
    Disconnect,
    JoinRoom,
    KickPlayer,
    LeaveRoom,
    Reconnect,
    RecordRecognition,
    Rematch,
    StartGame,
    Tick,
)
from game.errors import DoodleError, GuessAfterDeadline, RoomNotFound, WrongPhase
from game.rules import TRANSITIONS, apply
from game.state import Phase
from tests.game.helpers import SEED_WORDS, T0, assert_refused, make_settings, states_in_every_phase

STATES = states_in_every_phase()
NOW = {"lobby": T0 + 6, "round": T0 + 14, "round_results": T0 + 31, "game_over": T0 + 61, "closed": T0 + 32}
# One plausible command of each type, sent by the host or a member of the fixture rooms.
SAMPLES: list[Command] = [
    JoinRoom("zoe", "Zoe"),
    LeaveRoom("ben"),
    Disconnect("ben"),
    Reconnect("cy"),
    KickPlayer(by="ana", target="ben"),
    ChangeSettings(by="ana", settings=make_settings(rounds=3)),
    StartGame(by="ana", seed=1),
    RecordRecognition("ana", SEED_WORDS[0], at=T0 + 14),
    Tick(),
    Rematch(by="ana"),
]
PAIRS = [(name, command) for name in STATES for command in SAMPLES]


def test_samples_cover_every_command_type() -> None:
    """Every command type the table knows has a sample here."""
    assert {type(command) for command in SAMPLES} == {command for _, command in TRANSITIONS}


def test_membership_and_tick_allowed_in_every_open_phase_and_nothing_once_closed() -> None:
    """Join, leave, kick, (re)connect and Tick work in every open phase; a closed room takes nothing."""
    for phase in set(Phase) - {Phase.CLOSED}:
        for command_type in (JoinRoom, LeaveRoom, KickPlayer, Disconnect, Reconnect, Tick):
            assert (phase, command_type) in TRANSITIONS
    assert not any(phase is Phase.CLOSED for phase, _ in TRANSITIONS)


def test_host_only_moves_have_one_phase_each() -> None:
    """Settings and start in the lobby, recognition in a round, rematch at game over."""
    assert [phase for phase, command in TRANSITIONS if command is ChangeSettings] == [Phase.LOBBY]
    assert [phase for phase, command in TRANSITIONS if command is StartGame] == [Phase.LOBBY]
    assert [phase for phase, command in TRANSITIONS if command is RecordRecognition] == [Phase.ROUND]
    assert [phase for phase, command in TRANSITIONS if command is Rematch] == [Phase.GAME_OVER]


@pytest.mark.parametrize(("name", "command"), PAIRS, ids=[f"{n}-{type(c).__name__}" for n, c in PAIRS])
def test_every_pair(name: str, command: Command) -> None:
    """Pairs outside the table are refused with the phase's error; pairs in it land where it says."""
    state = STATES[name]
    allowed = TRANSITIONS.get((state.phase, type(command)))
    if allowed is None:
        expected: type[DoodleError] = WrongPhase
        if state.phase is Phase.CLOSED:
            expected = RoomNotFound
        elif isinstance(command, RecordRecognition) and state.phase is Phase.ROUND_RESULTS:
            expected = GuessAfterDeadline
        assert_refused(state, command, NOW[name], expected)
        return
    try:
        after, _ = apply(state, command, NOW[name])
    except (WrongPhase, RoomNotFound):
        pytest.fail("a pair in TRANSITIONS was refused for its phase")
    except DoodleError:
        return  # refused for another reason (e.g. not the host): fine, the phase was accepted
    assert after.phase in allowed
