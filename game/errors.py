"""Every way the game refuses a move, each class carrying the wire error code the server sends.

The rules raise these before building any new state, so a refused move leaves the room untouched.
``server/errors.py`` is the one place that turns them into wire ``Error`` messages, using ``code``.

    DoodleError                 doodle_error
    ├── RoomNotFound            room_not_found
    │   └── InvalidRoomCode     invalid_room_code
    ├── RoomFull                room_full
    │   └── SpectatorsFull      spectators_full
    ├── KickedFromRoom          kicked
    ├── InvalidName             invalid_name
    ├── NameTaken               name_taken
    ├── NotInRoom               not_in_room
    ├── NotAPlayer              not_a_player
    ├── NotHost                 not_host
    ├── CannotKickSelf          cannot_kick_self
    ├── WrongPhase              wrong_phase
    ├── NotEnoughPlayers        not_enough_players
    ├── NotYourTurn             not_your_turn
    ├── GuessAfterDeadline      round_over
    ├── DrawingTooLarge         drawing_too_large
    ├── AlreadyRecognized       already_recognized
    ├── WrongWord               wrong_word
    └── InvalidSettings         invalid_settings
        ├── UnknownWord         unknown_word
        └── UnknownPack         unknown_pack

A subclass refines its parent: catching ``RoomFull`` also catches ``SpectatorsFull``.
"""

from __future__ import annotations

from typing import ClassVar


class DoodleError(Exception):
    """Base of every refused move. ``code`` is the snake_case wire error code."""

    code: ClassVar[str] = "doodle_error"


class RoomNotFound(DoodleError):
    """No open room has this code (never created, expired, or closed when its last player left)."""

    code = "room_not_found"


class InvalidRoomCode(RoomNotFound):
    """The text cannot be a room code at all: wrong length or a character outside the alphabet."""

    code = "invalid_room_code"


class RoomFull(DoodleError):
    """Every player seat is taken (``RoomSettings.max_players``); seats of disconnected players count."""

    code = "room_full"


class SpectatorsFull(RoomFull):
    """Every spectator seat is taken (``RoomSettings.max_spectators``)."""

    code = "spectators_full"


class KickedFromRoom(DoodleError):
    """The host kicked this player id out of this room; it may not come back, in any role."""

    code = "kicked"


class InvalidName(DoodleError):
    """The display name is empty or longer than ``rules.MAX_NAME_LENGTH`` once stripped."""

    code = "invalid_name"


class NameTaken(DoodleError):
    """Another member of the room already uses this name (compared case-insensitively)."""

    code = "name_taken"


class NotInRoom(DoodleError):
    """The player id (the sender, or the target of a kick) is not a member of the room."""

    code = "not_in_room"


class NotAPlayer(DoodleError):
    """A spectator tried something only players do, such as drawing."""

    code = "not_a_player"


class NotHost(DoodleError):
    """Only the host may change settings, start, kick or call a rematch."""

    code = "not_host"


class CannotKickSelf(DoodleError):
    """The host tried to kick themselves; leaving is ``LeaveRoom``."""

    code = "cannot_kick_self"


class WrongPhase(DoodleError):
    """The command is not allowed in the room's current phase (see ``rules.TRANSITIONS``)."""

    code = "wrong_phase"


class NotEnoughPlayers(DoodleError):
    """Starting needs at least ``rules.MIN_PLAYERS`` players."""

    code = "not_enough_players"


class NotYourTurn(DoodleError):
    """The player is not a drawer of this round (joined mid-round), or names another round."""

    code = "not_your_turn"


class GuessAfterDeadline(DoodleError):
    """The round is over: the stroke or recognition came after ``RoundState.ends_at``."""

    code = "round_over"


class DrawingTooLarge(DoodleError):
    """The player's drawing this round already holds the most batches or points one drawing may."""

    code = "drawing_too_large"


class AlreadyRecognized(DoodleError):
    """The player's drawing was already recognized this round; each player scores once per round."""

    code = "already_recognized"


class WrongWord(DoodleError):
    """A recognition named a word other than the round's word (a stale result from an earlier round)."""

    code = "wrong_word"


class InvalidSettings(DoodleError):
    """A setting has the wrong type, is out of range, or contradicts another setting."""

    code = "invalid_settings"


class UnknownWord(InvalidSettings):
    """The settings list a word the recognition model does not know."""

    code = "unknown_word"

    def __init__(self, word: str) -> None:
        super().__init__(f"the model does not know the word {word!r}")
        self.word = word


class UnknownPack(InvalidSettings):
    """The settings name a word pack this server does not offer."""

    code = "unknown_pack"

    def __init__(self, pack: str) -> None:
        super().__init__(f"there is no word pack {pack!r} (list_packs names them)")
        self.pack = pack
