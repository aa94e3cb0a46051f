"""Commands: what the edge asks the rules to do to a room, one frozen dataclass per move.

The server builds them from wire messages (or from its own decisions: ``Disconnect``, ``Tick``,
``RecordRecognition``) and hands them to ``rules.apply(state, command, now)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from game.settings import RoomSettings
from game.state import PlayerId, Role


@dataclass(frozen=True, slots=True)
class JoinRoom:
    """Take a seat as a player or a spectator. Sent again by a member, it changes nothing."""

    player_id: PlayerId
    name: str
    role: Role = Role.PLAYER


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    """Leave for good: the seat and the score are gone."""

    player_id: PlayerId


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The member's connection dropped; their seat is held for ``rules.RESUME_SECONDS``."""

    player_id: PlayerId


@dataclass(frozen=True, slots=True)
class Reconnect:
    """The member is back on a new connection, within their held seat."""

    player_id: PlayerId


@dataclass(frozen=True, slots=True)
class KickPlayer:
    """The host removes a member, who may not rejoin this room."""

    by: PlayerId
    target: PlayerId


@dataclass(frozen=True, slots=True)
class ChangeSettings:
    """The host replaces the settings (lobby only). Build them with ``RoomSettings.validated``."""

    by: PlayerId
    settings: RoomSettings


@dataclass(frozen=True, slots=True)
class StartGame:
    """The host starts a game; ``seed`` shuffles the words, so the edge owns the randomness."""

    by: PlayerId
    seed: int


@dataclass(frozen=True, slots=True)
class RecordRecognition:
    """The server's model recognized ``player_id``'s drawing as ``word`` at time ``at``.

    ``at`` (not the ``now`` of apply) decides whether it beat the deadline, so a result that waited
    in a queue or lost a store race still counts when it is applied a little late.
    """

    player_id: PlayerId
    word: str
    at: float


@dataclass(frozen=True, slots=True)
class Tick:
    """Fire every deadline due at ``now``; the edge sends it at ``rules.next_deadline(state)``."""


@dataclass(frozen=True, slots=True)
class Rematch:
    """The host takes the room from game over back to the lobby, with every score at 0."""

    by: PlayerId


Command: TypeAlias = (
    JoinRoom
    | LeaveRoom
    | Disconnect
    | Reconnect
    | KickPlayer
    | ChangeSettings
    | StartGame
    | RecordRecognition
    | Tick
    | Rematch
)
