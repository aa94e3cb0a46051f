"""Rounds: recognition and scoring, early and deadline ends, results pause, game over, rematch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from game.commands import (
    Command,
    JoinRoom,
    KickPlayer,
    LeaveRoom,
    RecordRecognition,
    Rematch,
    StartGame,
    Tick,
)
from game.errors import (
    AlreadyRecognized,
    DoodleError,
    GuessAfterDeadline,
    NotAPlayer,
    NotHost,
    NotInRoom,
    NotYourTurn,
    RoomNotFound,
    WrongPhase,
    WrongWord,
)
from game.events import (
    BackToLobby,
    Event,
    GameOver,
    GameStarted,
    HostChanged,
    LeaveReason,
    PlayerJoined,
    PlayerLeft,
    PlayerRecognized,
    PlayerScore,
    RoundEnded,
    RoundResult,
    RoundStarted,
)
from game.rules import apply, check_stroke, is_recognition_open, next_deadline
from game.state import Phase, Player, Recognition, Role, RoomState, RoundState
from tests.game.helpers import SEED, SEED_WORDS, T0, assert_refused, lobby_with, play

SUN, TREE = SEED_WORDS[0], SEED_WORDS[1]  # the words of rounds 1 and 2 for SEED


def started(*others: str) -> RoomState:
    """Ana's room with `others` (default Ben and Cy), round 1 of 2 started at T0 + 10, ending T0 + 30."""
    return play(lobby_with(*(others or ("ben", "cy"))), (StartGame(by="ana", seed=SEED), T0 + 10))


def test_recognition_scores_at_once() -> None:
    """The first recognition, 3 s in: rank 1, 85 + 50 points, added to the score now."""
    state = started()
    after, events = apply(state, RecordRecognition("ben", SUN, at=T0 + 13), T0 + 13.25)
    assert state.round is not None
    ana, ben, cy = state.players
    assert after == replace(
        state,
        players=(ana, replace(ben, score=135), cy),
        round=replace(state.round, recognitions=(Recognition("ben", 1, 3000, 135, at=T0 + 13),)),
    )
    assert events == [
        PlayerRecognized("ben", SUN, rank=1, elapsed_ms=3000, points=135, at=T0 + 13, score=135)
    ]


def test_round_ends_the_moment_every_drawer_is_recognized() -> None:
    """The last recognition is followed by RoundEnded in the same apply."""
    state = play(
        started(),
        (RecordRecognition("ben", SUN, at=T0 + 13), T0 + 13),
        (RecordRecognition("ana", SUN, at=T0 + 14.7), T0 + 14.75),
    )
    after, events = apply(state, RecordRecognition("cy", SUN, at=T0 + 20), T0 + 20.5)
    assert state.round is not None
    ana, ben, cy = state.players
    assert after == replace(
        state,
        phase=Phase.ROUND_RESULTS,
        players=(ana, ben, replace(cy, score=65)),
        round=replace(
            state.round,
            recognitions=(
                Recognition("ben", 1, 3000, 135, at=T0 + 13),
                Recognition("ana", 2, 4700, 107, at=T0 + 14.7),
                Recognition("cy", 3, 10000, 65, at=T0 + 20),
            ),
        ),
        round_results_until=T0 + 25.5,
    )
    assert events == [
        PlayerRecognized("cy", SUN, rank=3, elapsed_ms=10000, points=65, at=T0 + 20, score=65),
        RoundEnded(
            round=1,
            word=SUN,
            results=(
                RoundResult("ben", recognized=True, rank=1, elapsed_ms=3000, points=135),
                RoundResult("ana", recognized=True, rank=2, elapsed_ms=4700, points=107),
                RoundResult("cy", recognized=True, rank=3, elapsed_ms=10000, points=65),
            ),
            scores=(PlayerScore("ben", 135), PlayerScore("ana", 107), PlayerScore("cy", 65)),
            results_until=T0 + 25.5,
        ),
    ]


def test_round_ends_at_its_deadline_with_nobody_sending_anything() -> None:
    """Tick before ends_at changes nothing; Tick at ends_at ends the round."""
    state = play(started(), (RecordRecognition("ben", SUN, at=T0 + 13), T0 + 13))
    assert next_deadline(state) == T0 + 30
    assert apply(state, Tick(), T0 + 29.75) == (state, [])
    after, events = apply(state, Tick(), T0 + 30)
    assert after == replace(state, phase=Phase.ROUND_RESULTS, round_results_until=T0 + 35)
    assert events == [
        RoundEnded(
            round=1,
            word=SUN,
            results=(
                RoundResult("ben", recognized=True, rank=1, elapsed_ms=3000, points=135),
                RoundResult("ana", recognized=False, rank=None, elapsed_ms=None, points=0),
                RoundResult("cy", recognized=False, rank=None, elapsed_ms=None, points=0),
            ),
            scores=(PlayerScore("ben", 135), PlayerScore("ana", 0), PlayerScore("cy", 0)),
            results_until=T0 + 35,
        )
    ]
    assert next_deadline(after) == T0 + 35


def test_late_tick_does_not_shorten_the_results_pause() -> None:
    """The pause counts from the Tick that ends the round."""
    after, _ = apply(started(), Tick(), T0 + 31.5)
    assert after.round_results_until == T0 + 36.5


def test_next_round_after_the_pause_includes_players_who_joined_meanwhile() -> None:
    """Dan joined during round 1 and waited; round 2 has a new word and Dan draws."""
    state = play(started(), (JoinRoom("dan", "Dan"), T0 + 12), (Tick(), T0 + 30))
    assert state.round is not None and state.round.drawers == ("ana", "ben", "cy")
    assert apply(state, Tick(), T0 + 34.75) == (state, [])
    after, events = apply(state, Tick(), T0 + 35)
    round_two = RoundState(2, TREE, started_at=T0 + 35, ends_at=T0 + 55, drawers=("ana", "ben", "cy", "dan"))
    assert after == replace(state, phase=Phase.ROUND, round=round_two, round_results_until=None)
    assert events == [RoundStarted(2, TREE, 20_000, T0 + 35, T0 + 55, ("ana", "ben", "cy", "dan"))]
    assert after.words_played == (SUN, TREE)


def test_game_over_at_the_end_of_the_last_results_pause() -> None:
    """After the last round: RoundEnded, the pause, then GameOver with the final scores."""
    state = play(
        started(),
        (RecordRecognition("cy", SUN, at=T0 + 12), T0 + 12),
        (Tick(), T0 + 30),
        (Tick(), T0 + 35),
        (RecordRecognition("ben", TREE, at=T0 + 36), T0 + 36),
    )
    state, events = apply(state, Tick(), T0 + 55)
    assert [type(event) for event in events] == [RoundEnded]
    assert state.phase is Phase.ROUND_RESULTS and state.round_results_until == T0 + 60
    after, events = apply(state, Tick(), T0 + 60)
    _, ben, cy = state.players
    assert (ben.score, cy.score) == (145, 140)
    assert after == replace(state, phase=Phase.GAME_OVER, round=None, round_results_until=None)
    assert events == [
        GameOver(scores=(PlayerScore("ben", 145), PlayerScore("cy", 140), PlayerScore("ana", 0)))
    ]
    assert after.words_played == (SUN, TREE)
    assert next_deadline(after) is None


def game_over() -> RoomState:
    """A finished two-round game of Ana and Ben: Ben scored 150 in round 1, nobody in round 2."""
    return play(
        lobby_with("ben"),
        (StartGame(by="ana", seed=SEED), T0 + 10),
        (RecordRecognition("ben", SUN, at=T0 + 10), T0 + 10),
        (Tick(), T0 + 30),
        (Tick(), T0 + 35),
        (Tick(), T0 + 55),
        (Tick(), T0 + 60),
    )


def test_rematch_back_to_lobby_with_scores_reset() -> None:
    """Rematch: lobby, scores 0, the game's words forgotten; the next game is game 2."""
    state = game_over()
    assert state.phase is Phase.GAME_OVER and state.players[1].score == 150
    after, events = apply(state, Rematch(by="ana"), T0 + 70)
    assert after == replace(
        state, phase=Phase.LOBBY, players=tuple(replace(p, score=0) for p in state.players), word_order=()
    )
    assert events == [BackToLobby()]
    again, events = apply(after, StartGame(by="ana", seed=1), T0 + 80)
    assert again.game_number == 2
    assert events[0] == GameStarted(rounds=2, game_number=2)


def test_rematch_refusals() -> None:
    """Only the host, only from game over."""
    assert_refused(game_over(), Rematch(by="ben"), T0 + 70, NotHost)
    assert_refused(started(), Rematch(by="ana"), T0 + 11, WrongPhase)
    assert_refused(lobby_with("ben"), Rematch(by="ana"), T0 + 11, WrongPhase)


def test_recognition_applied_late_counts_if_it_was_on_time() -> None:
    """`at` decides: recognized exactly at ends_at, applied after it but before the Tick."""
    after, events = apply(started(), RecordRecognition("ana", SUN, at=T0 + 30), T0 + 30.5)
    assert events == [
        PlayerRecognized("ana", SUN, rank=1, elapsed_ms=20_000, points=60, at=T0 + 30, score=60)
    ]
    assert after.phase is Phase.ROUND


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (RecordRecognition("zed", SUN, at=T0 + 15), NotInRoom),
        (RecordRecognition("sam", SUN, at=T0 + 15), NotAPlayer),
        (RecordRecognition("dan", SUN, at=T0 + 15), NotYourTurn),  # joined mid-round
        (RecordRecognition("ben", SUN, at=T0 + 15), AlreadyRecognized),
        (RecordRecognition("ana", SUN, at=T0 + 30.25), GuessAfterDeadline),
        (RecordRecognition("ana", SUN, at=T0 + 9), NotYourTurn),  # predates the round
        (RecordRecognition("ana", "moon", at=T0 + 15), WrongWord),
    ],
)
def test_recognition_refusals_in_a_round(command: Command, error: type[DoodleError]) -> None:
    """Each illegal recognition raises its own error and changes nothing."""
    state = play(
        started(),
        (JoinRoom("sam", "Sam", Role.SPECTATOR), T0 + 11),
        (JoinRoom("dan", "Dan"), T0 + 12),
        (RecordRecognition("ben", SUN, at=T0 + 13), T0 + 13),
    )
    assert_refused(state, command, T0 + 16, error)


def test_recognition_outside_a_round() -> None:
    """In the lobby and game over: WrongPhase. In the results pause: the round is over."""
    assert_refused(lobby_with("ben"), RecordRecognition("ben", SUN, at=T0 + 5), T0 + 5, WrongPhase)
    results = play(started(), (Tick(), T0 + 30))
    assert_refused(results, RecordRecognition("ben", SUN, at=T0 + 29), T0 + 31, GuessAfterDeadline)
    assert_refused(game_over(), RecordRecognition("ben", SUN, at=T0 + 61), T0 + 61, WrongPhase)


def test_leaving_drawer_ends_the_round_if_everyone_left_is_recognized() -> None:
    """Ana and Ben are recognized; when Cy leaves nobody is still drawing, so the round ends."""
    state = play(
        started(),
        (RecordRecognition("ben", SUN, at=T0 + 13), T0 + 13),
        (RecordRecognition("ana", SUN, at=T0 + 14.7), T0 + 14.7),
    )
    after, events = apply(state, LeaveRoom("cy"), T0 + 16)
    assert state.round is not None
    assert after == replace(
        state,
        phase=Phase.ROUND_RESULTS,
        players=state.players[:2],
        round=replace(state.round, drawers=("ana", "ben")),
        round_results_until=T0 + 21,
    )
    assert events == [
        PlayerLeft("cy", LeaveReason.LEFT),
        RoundEnded(
            round=1,
            word=SUN,
            results=(
                RoundResult("ben", recognized=True, rank=1, elapsed_ms=3000, points=135),
                RoundResult("ana", recognized=True, rank=2, elapsed_ms=4700, points=107),
            ),
            scores=(PlayerScore("ben", 135), PlayerScore("ana", 107)),
            results_until=T0 + 21,
        ),
    ]


def test_recognized_drawer_who_leaves_keeps_their_rank_taken() -> None:
    """Ben was first and left; Cy, recognized next, is rank 2. Ben is not in the results."""
    state = play(started(), (RecordRecognition("ben", SUN, at=T0 + 13), T0 + 13), (LeaveRoom("ben"), T0 + 14))
    state, events = apply(state, RecordRecognition("cy", SUN, at=T0 + 15), T0 + 15)
    assert events == [PlayerRecognized("cy", SUN, rank=2, elapsed_ms=5000, points=105, at=T0 + 15, score=105)]
    _, events = apply(state, Tick(), T0 + 30)
    assert events == [
        RoundEnded(
            round=1,
            word=SUN,
            results=(
                RoundResult("cy", recognized=True, rank=2, elapsed_ms=5000, points=105),
                RoundResult("ana", recognized=False, rank=None, elapsed_ms=None, points=0),
            ),
            scores=(PlayerScore("cy", 105), PlayerScore("ana", 0)),
            results_until=T0 + 35,
        )
    ]


def test_round_ends_when_no_drawer_remains() -> None:
    """Every drawer left; Dan, who joined mid-round, keeps the room open and becomes host."""
    state = play(started("ben"), (JoinRoom("dan", "Dan"), T0 + 12), (LeaveRoom("ana"), T0 + 13))
    after, events = apply(state, LeaveRoom("ben"), T0 + 14)
    assert events == [
        PlayerLeft("ben", LeaveReason.LEFT),
        HostChanged("dan"),
        RoundEnded(round=1, word=SUN, results=(), scores=(PlayerScore("dan", 0),), results_until=T0 + 19),
    ]
    assert after.phase is Phase.ROUND_RESULTS and after.host == "dan"


def test_kicking_the_last_unrecognized_drawer_ends_the_round() -> None:
    """A kick removes a drawer just like leaving does."""
    state = play(started("ben"), (RecordRecognition("ana", SUN, at=T0 + 11), T0 + 11))
    after, events = apply(state, KickPlayer(by="ana", target="ben"), T0 + 12)
    assert [type(event) for event in events] == [PlayerLeft, RoundEnded]
    assert after.phase is Phase.ROUND_RESULTS and after.kicked == frozenset({"ben"})


def test_check_stroke() -> None:
    """The server's per-stroke gate: returns when accepted, else raises the specific refusal."""
    state = play(
        started(), (JoinRoom("sam", "Sam", Role.SPECTATOR), T0 + 11), (JoinRoom("dan", "Dan"), T0 + 12)
    )
    check_stroke(state, "ben", 1, T0 + 15)  # accepted: no exception
    check_stroke(state, "ben", 1, T0 + 30)  # ends_at itself is still on time
    for player_id, round_number, now, error in [
        ("zed", 1, T0 + 15, NotInRoom),
        ("sam", 1, T0 + 15, NotAPlayer),
        ("ben", 2, T0 + 15, NotYourTurn),
        ("dan", 1, T0 + 15, NotYourTurn),
        ("ben", 1, T0 + 30.25, GuessAfterDeadline),
    ]:
        with pytest.raises(error):
            check_stroke(state, player_id, round_number, now)
    results = play(state, (Tick(), T0 + 30))
    with pytest.raises(GuessAfterDeadline):
        check_stroke(results, "ben", 1, T0 + 30.5)
    with pytest.raises(WrongPhase):
        check_stroke(results, "ben", 2, T0 + 30.5)
    with pytest.raises(WrongPhase):
        check_stroke(lobby_with("ben"), "ben", 1, T0 + 5)
    closed = play(lobby_with(), (LeaveRoom("ana"), T0 + 1))
    with pytest.raises(RoomNotFound):
        check_stroke(closed, "ana", 1, T0 + 2)


def test_check_stroke_accepts_strokes_after_recognition() -> None:
    """A recognized player may keep drawing for the watchers; the model need not look."""
    state = play(started(), (RecordRecognition("ben", SUN, at=T0 + 13), T0 + 13))
    check_stroke(state, "ben", 1, T0 + 14)
    assert not is_recognition_open(state, "ben", T0 + 14)


def test_is_recognition_open() -> None:
    """Open for a drawer not yet recognized, in a round, up to ends_at."""
    state = play(started(), (JoinRoom("dan", "Dan"), T0 + 12))
    assert is_recognition_open(state, "ana", T0 + 30)
    assert not is_recognition_open(state, "ana", T0 + 30.25)
    assert not is_recognition_open(state, "dan", T0 + 15)
    assert not is_recognition_open(state, "zed", T0 + 15)
    assert not is_recognition_open(lobby_with("ben"), "ben", T0 + 15)


def test_a_whole_solo_game_event_by_event() -> None:
    """One player, two rounds: every event of the game, in order."""
    log: list[Event] = []
    state = lobby_with()
    moves: list[tuple[Command, float]] = [
        (StartGame(by="ana", seed=SEED), T0 + 10),
        (RecordRecognition("ana", SUN, at=T0 + 14), T0 + 14),
        (Tick(), T0 + 19),
        (Tick(), T0 + 40),
        (Tick(), T0 + 60),
    ]
    for command, now in moves:
        state, events = apply(state, command, now)
        log.extend(events)
    assert log == [
        GameStarted(rounds=2, game_number=1),
        RoundStarted(1, SUN, 20_000, T0 + 10, T0 + 30, ("ana",)),
        PlayerRecognized("ana", SUN, rank=1, elapsed_ms=4000, points=130, at=T0 + 14, score=130),
        RoundEnded(
            1,
            SUN,
            (RoundResult("ana", True, 1, 4000, 130),),
            (PlayerScore("ana", 130),),
            results_until=T0 + 19,
        ),
        RoundStarted(2, TREE, 20_000, T0 + 19, T0 + 39, ("ana",)),
        RoundEnded(
            2,
            TREE,
            (RoundResult("ana", False, None, None, 0),),
            (PlayerScore("ana", 130),),
            results_until=T0 + 45,
        ),
        GameOver((PlayerScore("ana", 130),)),
    ]
    assert state == RoomState(
        code=state.code,
        host="ana",
        phase=Phase.GAME_OVER,
        settings=state.settings,
        created_at=T0,
        players=(Player("ana", "Ana", score=130, joined_at=T0),),
        game_number=1,
        word_order=(SUN, TREE),
    )


def test_mid_round_joiner_is_announced_as_a_player() -> None:
    """Joining during a round is allowed; the joiner waits for the next round."""
    _, events = apply(started(), JoinRoom("dan", "Dan"), T0 + 12)
    assert events == [PlayerJoined("dan", "Dan", Role.PLAYER)]
