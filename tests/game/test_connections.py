"""Dropped connections: held seats, reconnects, seat expiry on Tick, and what that does to rounds."""

from __future__ import annotations

from dataclasses import replace

from game.commands import Disconnect, JoinRoom, LeaveRoom, Reconnect, RecordRecognition, StartGame, Tick
from game.errors import NotInRoom
from game.events import (
    HostChanged,
    LeaveReason,
    PlayerDisconnected,
    PlayerJoined,
    PlayerLeft,
    PlayerRecognized,
    PlayerReconnected,
    PlayerScore,
    RoomClosed,
    RoundEnded,
    RoundResult,
)
from game.rules import RESUME_SECONDS, apply, next_deadline
from game.state import Phase, Role
from tests.game.helpers import SEED, SEED_WORDS, T0, assert_refused, lobby_with, make_settings, play

SUN = SEED_WORDS[0]


def test_disconnect_holds_the_seat() -> None:
    """The member stays, marked disconnected; the seat expires RESUME_SECONDS later."""
    assert RESUME_SECONDS == 30
    state = lobby_with("ben", "cy")
    after, events = apply(state, Disconnect("ben"), T0 + 5)
    ana, ben, cy = state.players
    assert after == replace(state, players=(ana, replace(ben, connected=False, disconnected_at=T0 + 5), cy))
    assert events == [PlayerDisconnected("ben", seat_expires_at=T0 + 35)]
    assert next_deadline(state) is None
    assert next_deadline(after) == T0 + 35
    assert apply(after, Disconnect("ben"), T0 + 6) == (after, [])


def test_reconnect_within_the_seat_restores_it() -> None:
    """Reconnecting gives back exactly the seat that was held."""
    state = lobby_with("ben", "cy")
    dropped = play(state, (Disconnect("ben"), T0 + 5))
    after, events = apply(dropped, Reconnect("ben"), T0 + 34)
    assert after == state
    assert events == [PlayerReconnected("ben")]
    assert next_deadline(after) is None
    assert apply(after, Reconnect("ben"), T0 + 35) == (after, [])


def test_join_from_a_held_seat_is_a_reconnect() -> None:
    """A phone that re-sends JoinRoom after a drop gets its seat back."""
    dropped = play(lobby_with("ben"), (Disconnect("ben"), T0 + 5))
    assert apply(dropped, JoinRoom("ben", "Ben"), T0 + 6) == apply(dropped, Reconnect("ben"), T0 + 6)


def test_connection_commands_for_strangers() -> None:
    """Disconnect and Reconnect name a member, or raise NotInRoom."""
    state = lobby_with("ben")
    assert_refused(state, Disconnect("zed"), T0 + 5, NotInRoom)
    assert_refused(state, Reconnect("zed"), T0 + 5, NotInRoom)


def test_seat_expires_on_the_tick_at_its_deadline() -> None:
    """Tick before the expiry changes nothing; at it, the member leaves with reason timeout."""
    state = play(lobby_with("ben", "cy"), (Disconnect("ben"), T0 + 5))
    assert apply(state, Tick(), T0 + 34.75) == (state, [])
    after, events = apply(state, Tick(), T0 + 35)
    assert after == replace(state, players=(state.players[0], state.players[2]))
    assert events == [PlayerLeft("ben", LeaveReason.TIMEOUT)]
    assert next_deadline(after) is None


def test_reconnect_before_the_expiring_tick_wins() -> None:
    """A seat is held until the Tick that expires it, even if that Tick comes late."""
    state = play(lobby_with("ben"), (Disconnect("ben"), T0 + 5))
    _, events = apply(state, Reconnect("ben"), T0 + 36)
    assert events == [PlayerReconnected("ben")]


def test_expired_player_may_join_again_fresh() -> None:
    """After a timeout the id is not banned; it joins as a new member."""
    state = play(lobby_with("ben"), (Disconnect("ben"), T0 + 5), (Tick(), T0 + 35))
    after, events = apply(state, JoinRoom("ben", "Ben"), T0 + 40)
    assert events == [PlayerJoined("ben", "Ben", Role.PLAYER)]
    assert after.players[-1].joined_at == T0 + 40


def test_host_seat_expiry_hands_the_host_role_over() -> None:
    """The host times out: the longest-present connected player takes over."""
    state = play(lobby_with("ben", "cy"), (Disconnect("ana"), T0 + 5))
    after, events = apply(state, Tick(), T0 + 35)
    assert after.host == "ben"
    assert events == [PlayerLeft("ana", LeaveReason.TIMEOUT), HostChanged("ben")]


def test_last_player_timing_out_closes_the_room() -> None:
    """Only a spectator left connected: the room closes when the last player's seat expires."""
    state = play(lobby_with(), (JoinRoom("sam", "Sam", Role.SPECTATOR), T0 + 1), (Disconnect("ana"), T0 + 5))
    after, events = apply(state, Tick(), T0 + 35)
    assert after.phase is Phase.CLOSED
    assert events == [PlayerLeft("ana", LeaveReason.TIMEOUT), RoomClosed()]


def test_spectator_seat_expires_too() -> None:
    """Spectators' seats are held and expire the same way."""
    state = play(lobby_with(), (JoinRoom("sam", "Sam", Role.SPECTATOR), T0 + 1), (Disconnect("sam"), T0 + 5))
    assert next_deadline(state) == T0 + 35
    after, events = apply(state, Tick(), T0 + 35)
    assert after == replace(state, spectators=())
    assert events == [PlayerLeft("sam", LeaveReason.TIMEOUT)]


def test_disconnected_player_keeps_score_and_draws_in_the_next_round() -> None:
    """A drop mid-game keeps the score; a player disconnected at round start is still a drawer."""
    state = play(
        lobby_with("ben"),
        (StartGame(by="ana", seed=SEED), T0 + 10),
        (RecordRecognition("ben", SUN, at=T0 + 11), T0 + 11),
        (Disconnect("ben"), T0 + 12),
        (Tick(), T0 + 30),
        (Tick(), T0 + 35),
    )
    assert state.phase is Phase.ROUND and state.round is not None
    assert state.round.drawers == ("ana", "ben")
    assert state.players[1].score == 145
    after, _ = apply(state, Reconnect("ben"), T0 + 36)
    assert after.players[1] == replace(state.players[1], connected=True, disconnected_at=None)


def test_disconnected_drawer_counts_until_their_seat_expires() -> None:
    """Ana is recognized but Ben, disconnected, still counts; his timeout then ends the round."""
    settings = make_settings(rounds=2, round_seconds=60)
    state = play(
        lobby_with("ben", settings=settings),
        (StartGame(by="ana", seed=SEED), T0 + 10),
        (Disconnect("ben"), T0 + 11),
    )
    state, events = apply(state, RecordRecognition("ana", SUN, at=T0 + 12), T0 + 12)
    assert events == [
        PlayerRecognized("ana", SUN, rank=1, elapsed_ms=2000, points=147, at=T0 + 12, score=147)
    ]
    assert state.phase is Phase.ROUND
    assert next_deadline(state) == T0 + 41
    after, events = apply(state, Tick(), T0 + 41)
    assert events == [
        PlayerLeft("ben", LeaveReason.TIMEOUT),
        RoundEnded(
            round=1,
            word=SUN,
            results=(RoundResult("ana", recognized=True, rank=1, elapsed_ms=2000, points=147),),
            scores=(PlayerScore("ana", 147),),
            results_until=T0 + 46,
        ),
    ]
    assert after.phase is Phase.ROUND_RESULTS


def test_late_tick_fires_deadlines_in_time_order_round_end_first() -> None:
    """Round end (T0+30) before Ben's expiry (T0+41): Ben is in the results, then leaves."""
    state = play(lobby_with("ben"), (StartGame(by="ana", seed=SEED), T0 + 10), (Disconnect("ben"), T0 + 11))
    after, events = apply(state, Tick(), T0 + 50)
    assert events == [
        RoundEnded(
            round=1,
            word=SUN,
            results=(
                RoundResult("ana", recognized=False, rank=None, elapsed_ms=None, points=0),
                RoundResult("ben", recognized=False, rank=None, elapsed_ms=None, points=0),
            ),
            scores=(PlayerScore("ana", 0), PlayerScore("ben", 0)),
            results_until=T0 + 55,
        ),
        PlayerLeft("ben", LeaveReason.TIMEOUT),
    ]
    assert after.phase is Phase.ROUND_RESULTS and after.round_results_until == T0 + 55


def test_late_tick_fires_deadlines_in_time_order_expiry_first() -> None:
    """Ben's expiry (T0+35) before the round end (T0+70): he leaves, then the round ends without him."""
    settings = make_settings(rounds=2, round_seconds=60)
    state = play(
        lobby_with("ben", settings=settings),
        (Disconnect("ben"), T0 + 5),
        (StartGame(by="ana", seed=SEED), T0 + 10),
    )
    assert state.round is not None and state.round.drawers == ("ana", "ben")
    assert next_deadline(state) == T0 + 35
    _, events = apply(state, Tick(), T0 + 80)
    assert events == [
        PlayerLeft("ben", LeaveReason.TIMEOUT),
        RoundEnded(
            round=1,
            word=SUN,
            results=(RoundResult("ana", recognized=False, rank=None, elapsed_ms=None, points=0),),
            scores=(PlayerScore("ana", 0),),
            results_until=T0 + 85,
        ),
    ]


def test_leaving_while_disconnected_is_immediate() -> None:
    """LeaveRoom from a held seat removes it at once; no timeout follows."""
    state = play(lobby_with("ben"), (Disconnect("ben"), T0 + 5))
    after, events = apply(state, LeaveRoom("ben"), T0 + 6)
    assert events == [PlayerLeft("ben", LeaveReason.LEFT)]
    assert next_deadline(after) is None
