"""The game rules: every phase transition of a room, as pure functions of (state, command, now).

Rules of this file:

* ``TRANSITIONS`` is the one table of legal moves. It maps (phase, command type) to the phases the
  room may be in after that command. A pair missing from it is refused before any handler runs.
* A refused move raises a specific ``DoodleError`` and builds nothing. States are frozen, so the
  caller's state is untouched and stays valid.
* ``now`` is the clock (seconds since the epoch, the edge's ``time.time()``). Deadlines are stored as
  absolute times. Only ``Tick`` fires them: the edge asks ``next_deadline(state)`` and applies
  ``Tick()`` then. Every other command is judged against the state as stored, so a recognition is
  on time when its own ``at`` is, however late it is applied.
* A deadline set by a command counts from that command's ``now``, so a late Tick never shortens the
  next round or pause.
* Randomness comes in as the ``StartGame`` seed.

The life of a room::

    lobby -> round -> round_results -> round -> ... -> round_results -> game_over -> (Rematch) lobby
    (any phase) -> closed, when the last player leaves; every command then raises RoomNotFound.

Decisions the product spec left to us:

* ``MIN_PLAYERS`` is 1: a player may start alone (solo practice).
* After the last round the room pauses on its results like after any round; ``GameOver`` comes
  with the Tick at the end of that pause.
* A round ends at its deadline (the Tick at or after ``ends_at``), or at once when every drawer
  is recognized or no drawer is left. Drawers are the players present when it started, including
  disconnected ones until their seat expires.
* Rank is the order in which recognitions are applied (the store serializes them).
* When several deadlines are due in one Tick they fire in time order, a phase deadline before seat
  expiries due at the same time.
* ``JoinRoom`` from a connected member changes nothing (no events); from a member whose seat is
  held, it is a ``Reconnect``. A seat is held until the Tick that expires it.

Example::

    >>> from game.commands import JoinRoom, RecordRecognition, StartGame, Tick
    >>> from game.settings import RoomSettings
    >>> settings = RoomSettings.validated({"rounds": 1}, known_words=["cat", "dog", "sun"])
    >>> room, events = create_room("CDF4HJ", "ana", "Ana", settings, now=100.0)
    >>> room, events = apply(room, JoinRoom("ben", "Ben"), now=101.0)
    >>> room, events = apply(room, StartGame(by="ana", seed=7), now=102.0)
    >>> room.phase.value, room.round.word, room.round.drawers, next_deadline(room)
    ('round', 'sun', ('ana', 'ben'), 122.0)
    >>> room, events = apply(room, RecordRecognition("ben", "sun", at=105.0), now=105.2)
    >>> events
    [PlayerRecognized(player_id='ben', word='sun', rank=1, elapsed_ms=3000, points=135, at=105.0, score=135)]
    >>> room, events = apply(room, Tick(), now=122.0)
    >>> [type(event).__name__ for event in events], room.phase.value
    (['RoundEnded'], 'round_results')
    >>> room, events = apply(room, Tick(), now=next_deadline(room))
    >>> events
    [GameOver(scores=(PlayerScore(player_id='ben', score=135), PlayerScore(player_id='ana', score=0)))]
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, TypeAlias, assert_never

from game.codes import normalize_code
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
from game.errors import (
    AlreadyRecognized,
    CannotKickSelf,
    DoodleError,
    DrawingTooLarge,
    GuessAfterDeadline,
    InvalidName,
    InvalidRoomCode,
    InvalidSettings,
    KickedFromRoom,
    NameTaken,
    NotAPlayer,
    NotEnoughPlayers,
    NotHost,
    NotInRoom,
    NotYourTurn,
    RoomFull,
    RoomNotFound,
    SpectatorsFull,
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
    PlayerDisconnected,
    PlayerJoined,
    PlayerLeft,
    PlayerRecognized,
    PlayerReconnected,
    PlayerScore,
    RoomClosed,
    RoomCreated,
    RoundEnded,
    RoundResult,
    RoundStarted,
    SettingsChanged,
)
from game.scoring import points_for
from game.settings import RoomSettings
from game.state import Phase, Player, PlayerId, Recognition, Role, RoomState, RoundState, Spectator

# A dropped connection keeps its seat (and score) this long; the product spec's number.
RESUME_SECONDS: Final = 30
# One player may start a game alone: solo practice is part of the party.
MIN_PLAYERS: Final = 1
MAX_NAME_LENGTH: Final = 24
# What one player's drawing may hold in one round (docs/protocol.md, "Limits"). Per player, so others
# can never use up an honest player's budget; with max_players they bound the bytes a round keeps
# (and so a snapshot) and the points one recognition reads.
MAX_STROKES_PER_DRAWING: Final = 200  # stroke indices 0..199
MAX_POINTS_PER_DRAWING: Final = 8000
MAX_BATCHES_PER_DRAWING: Final = 2000  # one batch every 60 ms for the longest (120 s) round

Outcome: TypeAlias = tuple[RoomState, list[Event]]


def _to(*phases: Phase) -> frozenset[Phase]:
    return frozenset(phases)


_LOBBY, _ROUND, _RESULTS, _GAME_OVER, _CLOSED = (
    Phase.LOBBY,
    Phase.ROUND,
    Phase.ROUND_RESULTS,
    Phase.GAME_OVER,
    Phase.CLOSED,
)

# (phase, command) -> the phases the room may be in afterwards. Missing pair: WrongPhase (RoomNotFound
# once closed). apply() checks every handler's result against this row, so the table cannot drift.
TRANSITIONS: Final[Mapping[tuple[Phase, type[Command]], frozenset[Phase]]] = {
    # Lobby: members come and go; the host sets the game up and starts it.
    (_LOBBY, JoinRoom): _to(_LOBBY),
    (_LOBBY, LeaveRoom): _to(_LOBBY, _CLOSED),
    (_LOBBY, KickPlayer): _to(_LOBBY),
    (_LOBBY, Disconnect): _to(_LOBBY),
    (_LOBBY, Reconnect): _to(_LOBBY),
    (_LOBBY, ChangeSettings): _to(_LOBBY),
    (_LOBBY, StartGame): _to(_ROUND),
    (_LOBBY, Tick): _to(_LOBBY, _CLOSED),
    # Round: drawers are recognized; it ends at its deadline, or early once no drawer is waiting.
    (_ROUND, JoinRoom): _to(_ROUND),
    (_ROUND, LeaveRoom): _to(_ROUND, _RESULTS, _CLOSED),
    (_ROUND, KickPlayer): _to(_ROUND, _RESULTS),
    (_ROUND, Disconnect): _to(_ROUND),
    (_ROUND, Reconnect): _to(_ROUND),
    (_ROUND, RecordRecognition): _to(_ROUND, _RESULTS),
    (_ROUND, Tick): _to(_ROUND, _RESULTS, _CLOSED),
    # Round results: a pause, then the next round or, after the last one, the game over.
    (_RESULTS, JoinRoom): _to(_RESULTS),
    (_RESULTS, LeaveRoom): _to(_RESULTS, _CLOSED),
    (_RESULTS, KickPlayer): _to(_RESULTS),
    (_RESULTS, Disconnect): _to(_RESULTS),
    (_RESULTS, Reconnect): _to(_RESULTS),
    (_RESULTS, Tick): _to(_RESULTS, _ROUND, _GAME_OVER, _CLOSED),
    # Game over: final scores stay up until the host calls a rematch.
    (_GAME_OVER, JoinRoom): _to(_GAME_OVER),
    (_GAME_OVER, LeaveRoom): _to(_GAME_OVER, _CLOSED),
    (_GAME_OVER, KickPlayer): _to(_GAME_OVER),
    (_GAME_OVER, Disconnect): _to(_GAME_OVER),
    (_GAME_OVER, Reconnect): _to(_GAME_OVER),
    (_GAME_OVER, Rematch): _to(_LOBBY),
    (_GAME_OVER, Tick): _to(_GAME_OVER, _CLOSED),
    # Closed: no rows. The edge deletes the room.
}


def create_room(code: str, host_id: PlayerId, host_name: str, settings: RoomSettings, now: float) -> Outcome:
    """A new room in the lobby, with its creator as host and only player.

    Args:
        code: a canonical code (``codes.new_room_code``).
        settings: resolved settings (``RoomSettings.validated``); their words may not be empty.

    Returns:
        The room and its events: ``RoomCreated``, ``PlayerJoined``.

    Raises:
        InvalidRoomCode: ``code`` is not canonical.
        InvalidSettings: ``settings.words`` is empty.
        InvalidName: the name is empty or too long.
    """
    if normalize_code(code) != code:
        raise InvalidRoomCode(f"{code!r} is not a canonical room code")
    _check_settings_fit(settings, players=1, spectators=0)
    name = _checked_name(host_name)
    state = RoomState(
        code=code,
        host=host_id,
        phase=Phase.LOBBY,
        settings=settings,
        created_at=now,
        players=(Player(host_id, name, score=0, joined_at=now),),
    )
    return state, [RoomCreated(code, host_id, settings), PlayerJoined(host_id, name, Role.PLAYER)]


def apply(state: RoomState, command: Command, now: float) -> Outcome:
    """Apply one command at time ``now``; return the new state and what happened, in order.

    A command that changes nothing (a repeated join, disconnect or reconnect, the same settings, a
    Tick with nothing due) returns the same state and no events.

    Raises:
        RoomNotFound: the room is closed (any command).
        WrongPhase: ``TRANSITIONS`` has no row for (phase, command); ``GuessAfterDeadline`` instead
            for a recognition that arrives during the round's results.
        Then, per command:

        - JoinRoom: KickedFromRoom, InvalidName, RoomFull, SpectatorsFull, NameTaken.
        - LeaveRoom, Disconnect, Reconnect: NotInRoom.
        - KickPlayer: NotInRoom (sender or target), NotHost, CannotKickSelf.
        - ChangeSettings: NotInRoom, NotHost, InvalidSettings (no words; fewer seats than members).
        - StartGame: NotInRoom, NotHost, NotEnoughPlayers.
        - RecordRecognition: NotInRoom, NotAPlayer, NotYourTurn (not a drawer, or ``at`` before the
          round), AlreadyRecognized, GuessAfterDeadline (``at`` after ``ends_at``), WrongWord.
        - Rematch: NotInRoom, NotHost.
        - Tick: nothing else.
    """
    allowed = TRANSITIONS.get((state.phase, type(command)))
    if allowed is None:
        raise _refusal(state, command)
    new_state, events = _dispatch(state, command, now)
    if new_state.phase not in allowed:
        raise AssertionError(f"{type(command).__name__} took {state.phase} to {new_state.phase}")
    return new_state, events


def next_deadline(state: RoomState) -> float | None:
    """When the edge must apply ``Tick()`` next: the earliest of the round's end, the end of the
    results pause and the expiry of every held seat. None when nothing is pending."""
    return min((deadline.at for deadline in _deadlines(state)), default=None)


@dataclass(frozen=True, slots=True)
class Ink:
    """What one player has drawn so far in the current round: stroke batches and their points."""

    batches: int = 0
    points: int = 0


def check_stroke(
    state: RoomState,
    player_id: PlayerId,
    round_number: int,
    now: float,
    ink: Ink = Ink(),
    points: int = 1,
    *,
    game_number: int | None = None,
) -> None:
    """Refuse a stroke batch the server must not accept; return None if it may.

    This is the one stroke rule: ``server/store.py``'s ``APPEND_STROKE`` script makes the same
    checks in the same order with the same errors (tests/server/test_stroke_rule.py runs every case
    through both). Strokes after the player's recognition are accepted (they keep drawing for the
    watchers); ``is_recognition_open`` says whether to run the model on them.

    Args:
        ink: what this player drew in this round before this batch.
        points: the batch's number of points.
        game_number: the game (rematch count) the sender's round belongs to; None: the current one.

    Raises:
        RoomNotFound: the room is closed.
        NotInRoom: the player is not a member.
        NotAPlayer: the member is a spectator.
        GuessAfterDeadline: the round is over: past ``ends_at``, or in its results already.
        WrongPhase: no round is being played.
        NotYourTurn: another round number, or the player is not a drawer of this round.
        DrawingTooLarge: the batch would take the drawing past ``MAX_BATCHES_PER_DRAWING`` batches
            or ``MAX_POINTS_PER_DRAWING`` points.
    """
    if state.phase is Phase.CLOSED:
        raise RoomNotFound(f"room {state.code} is closed")
    _require_player(state, player_id)
    current = state.round
    # A round is named by (game, round number): numbers start again at 1 after a rematch.
    this_round = current is not None and round_number == current.number
    if game_number is not None and game_number != state.game_number:
        this_round = False
    if state.phase is Phase.ROUND_RESULTS and this_round:
        raise GuessAfterDeadline(f"round {round_number} is over")
    if state.phase is not Phase.ROUND or current is None:
        raise WrongPhase(f"no round is being played (phase {state.phase})")
    if not this_round:
        raise NotYourTurn(f"round {round_number} is not the current round {current.number}")
    if player_id not in current.drawers:
        raise NotYourTurn(f"{player_id} is not drawing in round {current.number}; next round")
    if now > current.ends_at:
        raise GuessAfterDeadline(f"round {current.number} is over")
    if ink.batches >= MAX_BATCHES_PER_DRAWING or ink.points + points > MAX_POINTS_PER_DRAWING:
        raise DrawingTooLarge(
            f"a drawing holds at most {MAX_BATCHES_PER_DRAWING} batches and {MAX_POINTS_PER_DRAWING} points"
        )


def is_recognition_open(state: RoomState, player_id: PlayerId, now: float) -> bool:
    """Whether a recognition of this player's drawing at ``now`` would still score."""
    current = state.round
    return (
        state.phase is Phase.ROUND
        and current is not None
        and player_id in current.drawers
        and current.recognition(player_id) is None
        and now <= current.ends_at
    )


def scoreboard(state: RoomState) -> tuple[PlayerScore, ...]:
    """Every player's score, highest first; ties keep join order."""
    ranked = sorted(state.players, key=lambda player: -player.score)
    return tuple(PlayerScore(player.player_id, player.score) for player in ranked)


# --- dispatch ------------------------------------------------------------------------------------


def _dispatch(state: RoomState, command: Command, now: float) -> Outcome:
    match command:
        case JoinRoom():
            return _join(state, command, now)
        case LeaveRoom():
            _require_member(state, command.player_id)
            return _remove(state, command.player_id, LeaveReason.LEFT, now)
        case KickPlayer():
            return _kick(state, command, now)
        case Disconnect():
            return _disconnect(state, command, now)
        case Reconnect():
            return _reconnect(state, command)
        case ChangeSettings():
            return _change_settings(state, command)
        case StartGame():
            return _start_game(state, command, now)
        case RecordRecognition():
            return _record_recognition(state, command, now)
        case Tick():
            return _tick(state, now)
        case Rematch():
            return _rematch(state, command)
        case _:
            assert_never(command)


def _refusal(state: RoomState, command: Command) -> DoodleError:
    if state.phase is Phase.CLOSED:
        return RoomNotFound(f"room {state.code} is closed")
    if isinstance(command, RecordRecognition) and state.phase is Phase.ROUND_RESULTS:
        # Same code as a recognition applied before the Tick but with `at` past the deadline.
        return GuessAfterDeadline("the round is over")
    return WrongPhase(f"{type(command).__name__} is not allowed in phase {state.phase}")


# --- membership ----------------------------------------------------------------------------------


def _join(state: RoomState, command: JoinRoom, now: float) -> Outcome:
    """Raises KickedFromRoom, InvalidName, RoomFull, SpectatorsFull, NameTaken."""
    member = state.member(command.player_id)
    if member is not None:
        # A phone that lost its socket joins again: the same seat, not a new member.
        return (state, []) if member.connected else _reconnect(state, Reconnect(command.player_id))
    if command.player_id in state.kicked:
        raise KickedFromRoom(f"{command.player_id} was kicked from room {state.code}")
    name = _checked_name(command.name)
    role = Role(command.role)
    if role is Role.SPECTATOR and len(state.spectators) >= state.settings.max_spectators:
        raise SpectatorsFull(f"room {state.code} has {state.settings.max_spectators} spectators already")
    if role is Role.PLAYER and len(state.players) >= state.settings.max_players:
        raise RoomFull(f"room {state.code} has {state.settings.max_players} players already")
    # Names tell players apart on the scoreboard. Spectators score nothing and several screens in
    # one room are all called "TV", so a spectator's name is never refused, nor blocks a player's.
    if role is Role.PLAYER and any(other.name.casefold() == name.casefold() for other in state.players):
        raise NameTaken(f"someone in room {state.code} is called {name!r} already")
    if role is Role.SPECTATOR:
        spectator = Spectator(command.player_id, name, joined_at=now)
        state = replace(state, spectators=(*state.spectators, spectator))
    else:
        player = Player(command.player_id, name, score=0, joined_at=now)
        state = replace(state, players=(*state.players, player))
    return state, [PlayerJoined(command.player_id, name, role)]


def _kick(state: RoomState, command: KickPlayer, now: float) -> Outcome:
    """Raises NotInRoom (sender or target), NotHost, CannotKickSelf."""
    _require_host(state, command.by)
    if command.target == command.by:
        raise CannotKickSelf("the host cannot kick themselves")
    _require_member(state, command.target)
    state = replace(state, kicked=state.kicked | {command.target})
    return _remove(state, command.target, LeaveReason.KICKED, now)


def _disconnect(state: RoomState, command: Disconnect, now: float) -> Outcome:
    """Raises NotInRoom. A second Disconnect changes nothing (the seat timer keeps its start)."""
    member = _require_member(state, command.player_id)
    if not member.connected:
        return state, []
    state = _with_member(state, replace(member, connected=False, disconnected_at=now))
    return state, [PlayerDisconnected(command.player_id, seat_expires_at=now + RESUME_SECONDS)]


def _reconnect(state: RoomState, command: Reconnect) -> Outcome:
    """Raises NotInRoom (never joined, or the seat already expired). Connected: changes nothing."""
    member = _require_member(state, command.player_id)
    if member.connected:
        return state, []
    state = _with_member(state, replace(member, connected=True, disconnected_at=None))
    return state, [PlayerReconnected(command.player_id)]


def _remove(state: RoomState, player_id: PlayerId, reason: LeaveReason, now: float) -> Outcome:
    """Take a member out: hand the host role over, close an empty room, end a round left waiting."""
    events: list[Event] = [PlayerLeft(player_id, reason)]
    if state.spectator(player_id) is not None:
        spectators = tuple(s for s in state.spectators if s.player_id != player_id)
        return replace(state, spectators=spectators), events
    players = tuple(p for p in state.players if p.player_id != player_id)
    if not players:
        # Spectators alone do not keep a room open; they learn it from RoomClosed.
        closed = replace(
            state,
            phase=Phase.CLOSED,
            host=None,
            players=(),
            spectators=(),
            round=None,
            round_results_until=None,
        )
        return closed, [*events, RoomClosed()]
    state = replace(state, players=players)
    if state.host == player_id:
        host = _successor(players)
        state = replace(state, host=host)
        events.append(HostChanged(host))
    current = state.round
    if state.phase is Phase.ROUND and current is not None and player_id in current.drawers:
        current = replace(current, drawers=tuple(d for d in current.drawers if d != player_id))
        state = replace(state, round=current)
        if _everyone_recognized(current):
            state, ended = _end_round(state, now)
            events.extend(ended)
    return state, events


def _successor(players: tuple[Player, ...]) -> PlayerId:
    """The longest-present connected player, else the longest-present one (join order breaks ties)."""
    _, chosen = min(enumerate(players), key=lambda item: (not item[1].connected, item[1].joined_at, item[0]))
    return chosen.player_id


def _checked_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= MAX_NAME_LENGTH or not cleaned.isprintable():
        raise InvalidName(f"a name has 1 to {MAX_NAME_LENGTH} printable characters, got {name!r}")
    return cleaned


# --- host commands -------------------------------------------------------------------------------


def _change_settings(state: RoomState, command: ChangeSettings) -> Outcome:
    """Raises NotInRoom, NotHost, InvalidSettings (no words, or fewer seats than members)."""
    _require_host(state, command.by)
    _check_settings_fit(command.settings, players=len(state.players), spectators=len(state.spectators))
    if command.settings == state.settings:
        return state, []
    return replace(state, settings=command.settings), [SettingsChanged(command.settings)]


def _check_settings_fit(settings: RoomSettings, players: int, spectators: int) -> None:
    if not settings.words:
        raise InvalidSettings("settings have no words; resolve them with RoomSettings.validated")
    if settings.max_players < players:
        raise InvalidSettings(f"max_players {settings.max_players} is below the {players} players here")
    if settings.max_spectators < spectators:
        raise InvalidSettings(f"max_spectators {settings.max_spectators} is below the {spectators} here")


def _start_game(state: RoomState, command: StartGame, now: float) -> Outcome:
    """Raises NotInRoom, NotHost, NotEnoughPlayers."""
    _require_host(state, command.by)
    if len(state.players) < MIN_PLAYERS:
        raise NotEnoughPlayers(
            f"starting needs {MIN_PLAYERS} players, room {state.code} has {len(state.players)}"
        )
    words = list(state.settings.words)
    random.Random(command.seed).shuffle(words)
    state = replace(
        state, game_number=state.game_number + 1, word_order=tuple(words[: state.settings.rounds])
    )
    state, started = _start_round(state, 1, now)
    return state, [GameStarted(rounds=len(state.word_order), game_number=state.game_number), *started]


def _rematch(state: RoomState, command: Rematch) -> Outcome:
    """Raises NotInRoom, NotHost."""
    _require_host(state, command.by)
    players = tuple(replace(player, score=0) for player in state.players)
    state = replace(
        state, phase=Phase.LOBBY, players=players, word_order=(), round=None, round_results_until=None
    )
    return state, [BackToLobby()]


# --- rounds --------------------------------------------------------------------------------------


def _record_recognition(state: RoomState, command: RecordRecognition, now: float) -> Outcome:
    """Raises NotInRoom, NotAPlayer, NotYourTurn, AlreadyRecognized, GuessAfterDeadline, WrongWord."""
    current = _round_of(state)
    player = _require_player(state, command.player_id)
    if command.player_id not in current.drawers:
        raise NotYourTurn(f"{command.player_id} is not drawing in round {current.number}")
    if current.recognition(command.player_id) is not None:
        raise AlreadyRecognized(f"{command.player_id} was already recognized in round {current.number}")
    if command.at > current.ends_at:
        raise GuessAfterDeadline(f"round {current.number} ended before this recognition")
    if command.at < current.started_at:
        # A result computed before this round began belongs to an earlier round.
        raise NotYourTurn(f"this recognition predates round {current.number}")
    if command.word != current.word:
        raise WrongWord(f"round {current.number} is not about {command.word!r}")
    duration_ms = current.duration_ms
    elapsed_ms = min(duration_ms, max(0, round((command.at - current.started_at) * 1000)))
    rank = len(current.recognitions) + 1
    points = points_for(rank, elapsed_ms, duration_ms)
    recognition = Recognition(command.player_id, rank, elapsed_ms, points, command.at)
    scored = replace(player, score=player.score + points)
    current = replace(current, recognitions=(*current.recognitions, recognition))
    state = replace(_with_member(state, scored), round=current)
    events: list[Event] = [
        PlayerRecognized(command.player_id, current.word, rank, elapsed_ms, points, command.at, scored.score)
    ]
    if _everyone_recognized(current):
        state, ended = _end_round(state, now)
        events.extend(ended)
    return state, events


def _start_round(state: RoomState, number: int, now: float) -> Outcome:
    settings = state.settings
    current = RoundState(
        number=number,
        word=state.word_order[number - 1],
        started_at=now,
        ends_at=now + settings.round_seconds,
        drawers=tuple(player.player_id for player in state.players),
    )
    state = replace(state, phase=Phase.ROUND, round=current, round_results_until=None)
    started = RoundStarted(
        round=number,
        word=current.word,
        duration_ms=settings.round_seconds * 1000,
        started_at=current.started_at,
        ends_at=current.ends_at,
        drawers=current.drawers,
    )
    return state, [started]


def _end_round(state: RoomState, now: float) -> Outcome:
    current = _round_of(state)
    results_until = now + state.settings.results_seconds
    state = replace(state, phase=Phase.ROUND_RESULTS, round_results_until=results_until)
    ended = RoundEnded(current.number, current.word, round_results(current), scoreboard(state), results_until)
    return state, [ended]


def round_results(current: RoundState) -> tuple[RoundResult, ...]:
    """How every drawer of a round did: the recognized by rank, then the others in join order."""
    recognized = [r for r in current.recognitions if r.player_id in current.drawers]
    waiting = [d for d in current.drawers if current.recognition(d) is None]
    return (
        *(RoundResult(r.player_id, True, r.rank, r.elapsed_ms, r.points) for r in recognized),
        *(RoundResult(d, False, None, None, 0) for d in waiting),
    )


def _everyone_recognized(current: RoundState) -> bool:
    # True for a round with no drawers left: nobody is still drawing, so it is over.
    return all(current.recognition(d) is not None for d in current.drawers)


def _game_over(state: RoomState) -> Outcome:
    state = replace(state, phase=Phase.GAME_OVER, round=None, round_results_until=None)
    return state, [GameOver(scoreboard(state))]


# --- deadlines -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Deadline:
    at: float
    # None: the phase's deadline (round end or results pause); else the member whose seat expires.
    seat_of: PlayerId | None


def _deadlines(state: RoomState) -> list[_Deadline]:
    """Pending deadlines; the phase's first, then seats in join order (players, then spectators)."""
    found: list[_Deadline] = []
    if state.phase is Phase.ROUND and state.round is not None:
        found.append(_Deadline(state.round.ends_at, None))
    if state.phase is Phase.ROUND_RESULTS and state.round_results_until is not None:
        found.append(_Deadline(state.round_results_until, None))
    for member in state.members:
        if member.disconnected_at is not None:
            found.append(_Deadline(member.disconnected_at + RESUME_SECONDS, member.player_id))
    return found


def _tick(state: RoomState, now: float) -> Outcome:
    """Fire every deadline due at ``now``, earliest first. Nothing due: the same state, no events."""
    events: list[Event] = []
    while True:
        due = [deadline for deadline in _deadlines(state) if deadline.at <= now]
        if not due:
            return state, events
        first = min(due, key=lambda deadline: deadline.at)  # min keeps list order among equal times
        if first.seat_of is None:
            state, fired = _phase_deadline(state, now)
        else:
            state, fired = _remove(state, first.seat_of, LeaveReason.TIMEOUT, now)
        events.extend(fired)


def _phase_deadline(state: RoomState, now: float) -> Outcome:
    if state.phase is Phase.ROUND:
        return _end_round(state, now)
    finished = _round_of(state)
    if finished.number < len(state.word_order):
        return _start_round(state, finished.number + 1, now)
    return _game_over(state)


# --- lookups -------------------------------------------------------------------------------------


def _round_of(state: RoomState) -> RoundState:
    if state.round is None:
        raise AssertionError(f"phase {state.phase} without a round")
    return state.round


def _require_member(state: RoomState, player_id: PlayerId) -> Player | Spectator:
    member = state.member(player_id)
    if member is None:
        raise NotInRoom(f"{player_id} is not in room {state.code}")
    return member


def _require_player(state: RoomState, player_id: PlayerId) -> Player:
    member = _require_member(state, player_id)
    if not isinstance(member, Player):
        raise NotAPlayer(f"{player_id} is spectating room {state.code}")
    return member


def _require_host(state: RoomState, player_id: PlayerId) -> None:
    _require_member(state, player_id)
    if player_id != state.host:
        raise NotHost(f"only the host of room {state.code} may do that")


def _with_member(state: RoomState, member: Player | Spectator) -> RoomState:
    if isinstance(member, Player):
        players = tuple(member if p.player_id == member.player_id else p for p in state.players)
        return replace(state, players=players)
    spectators = tuple(member if s.player_id == member.player_id else s for s in state.spectators)
    return replace(state, spectators=spectators)
