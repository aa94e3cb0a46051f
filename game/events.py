"""Events: what happened to a room, one frozen dataclass per kind, in the order it happened.

``rules.apply`` returns them with the new state; the gateway maps each to wire messages. Times are
absolute seconds since the epoch; durations are integer milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from game.settings import RoomSettings
from game.state import PlayerId, Role


class LeaveReason(StrEnum):
    LEFT = "left"
    KICKED = "kicked"
    # The connection dropped and the seat expired after rules.RESUME_SECONDS.
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class PlayerScore:
    """One line of a scoreboard."""

    player_id: PlayerId
    score: int


@dataclass(frozen=True, slots=True)
class RoundResult:
    """How one drawer did in a round; ``rank`` and ``elapsed_ms`` are None if not recognized."""

    player_id: PlayerId
    recognized: bool
    rank: int | None
    elapsed_ms: int | None
    points: int


@dataclass(frozen=True, slots=True)
class RoomCreated:
    code: str
    host: PlayerId
    settings: RoomSettings


@dataclass(frozen=True, slots=True)
class PlayerJoined:
    player_id: PlayerId
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class PlayerLeft:
    player_id: PlayerId
    reason: LeaveReason


@dataclass(frozen=True, slots=True)
class PlayerDisconnected:
    """The seat is held until ``seat_expires_at``."""

    player_id: PlayerId
    seat_expires_at: float


@dataclass(frozen=True, slots=True)
class PlayerReconnected:
    player_id: PlayerId


@dataclass(frozen=True, slots=True)
class HostChanged:
    host: PlayerId


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    settings: RoomSettings


@dataclass(frozen=True, slots=True)
class GameStarted:
    rounds: int
    game_number: int


@dataclass(frozen=True, slots=True)
class RoundStarted:
    """Every drawer draws ``word`` until ``ends_at``."""

    round: int
    word: str
    duration_ms: int
    started_at: float
    ends_at: float
    drawers: tuple[PlayerId, ...]


@dataclass(frozen=True, slots=True)
class PlayerRecognized:
    """``points`` were added to the player's score, which is now ``score``."""

    player_id: PlayerId
    word: str
    rank: int
    elapsed_ms: int
    points: int
    at: float
    score: int


@dataclass(frozen=True, slots=True)
class RoundEnded:
    """A round is over; its results show until ``results_until``.

    Attributes:
        results: every drawer still in the room: recognized ones by rank, then the others in join
            order.
        scores: every player's total, highest first (ties in join order).
    """

    round: int
    word: str
    results: tuple[RoundResult, ...]
    scores: tuple[PlayerScore, ...]
    results_until: float


@dataclass(frozen=True, slots=True)
class GameOver:
    """Final scores, highest first (ties in join order)."""

    scores: tuple[PlayerScore, ...]


@dataclass(frozen=True, slots=True)
class BackToLobby:
    """A rematch: the room is in the lobby again with every score at 0."""


@dataclass(frozen=True, slots=True)
class RoomClosed:
    """The last player left; spectators alone do not keep a room open."""


Event: TypeAlias = (
    RoomCreated
    | PlayerJoined
    | PlayerLeft
    | PlayerDisconnected
    | PlayerReconnected
    | HostChanged
    | SettingsChanged
    | GameStarted
    | RoundStarted
    | PlayerRecognized
    | RoundEnded
    | GameOver
    | BackToLobby
    | RoomClosed
)
