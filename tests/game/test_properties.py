"""Random games: whatever players send, in any order, the room stays consistent and serializable."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from game.errors import DoodleError
from game.rules import TRANSITIONS, apply, create_room, next_deadline
from game.state import Phase, Player, Role, RoomState
from tests.game.helpers import CODE, T0, make_settings

IDS = ("ana", "ben", "cy", "dan", "sam", "zoe")
NAMES = ("Ana", "Ben", "Cy", "Dan", "Sam", "Zoe", "BEN")
SETTINGS = (
    make_settings(rounds=2, round_seconds=5, results_seconds=1, max_players=4, max_spectators=2),
    make_settings(rounds=1, round_seconds=5, results_seconds=2, max_players=2, max_spectators=1),
    make_settings(rounds=2, round_seconds=10, results_seconds=1, words=["cat", "dog"]),
)

# Command types and how often to send each: mostly moves that keep a game going.
KIND_WEIGHTS: dict[type[Command], int] = {
    JoinRoom: 4,
    LeaveRoom: 1,
    Disconnect: 2,
    Reconnect: 2,
    KickPlayer: 1,
    ChangeSettings: 1,
    StartGame: 3,
    RecordRecognition: 6,
    Tick: 2,
    Rematch: 2,
}
DTS = (0.0, 0.25, 0.5, 1.0, 1.0, 2.5, 6.0, 31.0)
# Hypothesis costs ~0.1 ms per draw, far more than a move of the game, so each step is one drawn
# integer that seeds the step's choices. Shrinking still removes steps and simplifies the rest.
STEP = st.integers(0, 2**32 - 1)
STEPS = st.integers(10, 50)


def random_step(rng: random.Random, state: RoomState, now: float) -> tuple[float, Command]:
    """The time of the next move and the move: any command, biased towards ones that move the game
    on (sent by the host, naming the round's word, at a deadline)."""
    deadline = next_deadline(state)
    if deadline is not None and rng.random() < 0.4:
        now = max(now, deadline)
    else:
        now += rng.choice(DTS)
    (kind,) = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))
    present = [m.player_id for m in state.members]
    member = rng.choice(present) if present and rng.random() < 0.6 else rng.choice(IDS)
    sender = (state.host or "ana") if rng.random() < 0.75 else member
    command: Command
    if kind is JoinRoom:
        command = JoinRoom(member, rng.choice(NAMES), rng.choice(list(Role)))
    elif kind is LeaveRoom:
        command = LeaveRoom(member)
    elif kind is Disconnect:
        command = Disconnect(member)
    elif kind is Reconnect:
        command = Reconnect(member)
    elif kind is KickPlayer:
        command = KickPlayer(sender, member)
    elif kind is ChangeSettings:
        command = ChangeSettings(sender, rng.choice(SETTINGS))
    elif kind is StartGame:
        command = StartGame(sender, rng.randrange(6))
    elif kind is RecordRecognition:
        current = state.round
        waiting = [d for d in current.drawers if current.recognition(d) is None] if current else []
        if waiting and rng.random() < 0.8:
            member = rng.choice(waiting)
        word = current.word if current is not None and rng.random() < 0.85 else "cat"
        command = RecordRecognition(member, word, now - rng.choice((0.0, 0.0, 0.0, 2.0, 9.0)))
    elif kind is Rematch:
        command = Rematch(sender)
    else:
        command = Tick()
    return now, command


def check_invariants(state: RoomState) -> None:
    ids = [member.player_id for member in state.members]
    assert len(ids) == len(set(ids))
    assert not set(ids) & state.kicked
    names = [player.name.casefold() for player in state.players]  # spectators may share names
    assert len(names) == len(set(names))
    assert all(member.connected == (member.disconnected_at is None) for member in state.members)
    assert RoomState.from_dict(json.loads(json.dumps(state.to_dict(), allow_nan=False))) == state
    if state.phase is Phase.CLOSED:
        assert (state.host, state.players, state.spectators, state.round) == (None, (), (), None)
        assert next_deadline(state) is None
        return
    player_ids = [player.player_id for player in state.players]
    assert state.host in player_ids
    assert 1 <= len(state.players) <= state.settings.max_players
    assert len(state.spectators) <= state.settings.max_spectators
    assert all(player.score >= 0 for player in state.players)
    assert (state.round_results_until is not None) == (state.phase is Phase.ROUND_RESULTS)
    if state.phase is Phase.LOBBY:
        assert state.round is None and state.word_order == ()
        assert all(player.score == 0 for player in state.players)
        return
    assert len(state.word_order) == state.settings.rounds == len(set(state.word_order))
    assert set(state.word_order) <= set(state.settings.words)
    if state.phase is Phase.GAME_OVER:
        assert state.round is None
        return
    current = state.round
    assert current is not None
    assert current.word == state.word_order[current.number - 1]
    assert current.ends_at - current.started_at == state.settings.round_seconds
    assert [r.rank for r in current.recognitions] == list(range(1, len(current.recognitions) + 1))
    assert len({r.player_id for r in current.recognitions}) == len(current.recognitions)
    assert all(current.started_at <= r.at <= current.ends_at for r in current.recognitions)
    if state.phase is Phase.ROUND:
        assert set(current.drawers) <= set(player_ids)
        waiting = [d for d in current.drawers if current.recognition(d) is None]
        assert waiting, "a round with nobody left to recognize must have ended"


def check_deadline(state: RoomState) -> None:
    """Tick before next_deadline does nothing; Tick at it always does something."""
    deadline = next_deadline(state)
    if deadline is None:
        return
    assert apply(state, Tick(), deadline - 0.25) == (state, [])
    after, events = apply(state, Tick(), deadline)
    assert events
    assert after != state


@settings(
    max_examples=60,
    deadline=None,
    database=None,  # keep no .hypothesis/ folder in the repository
    derandomize=True,  # the same examples on every run and machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_random_games_keep_the_invariants(data: st.DataObject) -> None:
    """Apply random commands at random times: refusals change nothing, accepted moves keep every invariant."""
    state, _ = create_room(CODE, "ana", "Ana", SETTINGS[0], T0)
    now = T0
    for _ in range(data.draw(STEPS)):
        now, command = random_step(random.Random(data.draw(STEP)), state, now)
        before = state.to_dict()
        try:
            after, events = apply(state, command, now)
        except DoodleError:
            assert state.to_dict() == before
            continue
        assert apply(state, command, now) == (after, events)  # pure: same input, same output
        assert after.phase in TRANSITIONS[(state.phase, type(command))]
        if after == state:
            assert events == []
        state = after
        check_invariants(state)
        check_deadline(state)
        if state.phase is Phase.CLOSED:
            return


def test_invariant_checker_catches_a_broken_state() -> None:
    """The checker above is not vacuous: a host who is not a player fails it."""
    state, _ = create_room(CODE, "ana", "Ana", SETTINGS[0], T0)
    broken = RoomState(
        code=CODE,
        host="ghost",
        phase=Phase.LOBBY,
        settings=state.settings,
        created_at=T0,
        players=(Player("ana", "Ana", 0, T0),),
    )
    try:
        check_invariants(broken)
    except AssertionError:
        return
    raise AssertionError("check_invariants accepted a host who is not in the room")
