"""The one place that turns an exception into a wire ``error``.

Exception tree (all carry a wire ``code``)::

    DoodleError (game.errors)
    ├── game rule errors: RoomFull, NotHost, WrongPhase, ... (game/errors.py)
    ├── BadMessage -> UnknownType, OutOfCanvas (server/messages.py)
    ├── StaleRoomVersion, RoomCodeTaken (server/store.py)
    ├── InvalidToken (server/sessions.py)
    ├── ArchiveError -> CloudSupportMissing, ArchiveBusy (server/archive/errors.py)
    └── HelloFirst, AlreadyInRoom, RateLimited -> TooManyLookups, TooManyRooms (here)

Anything that is not a DoodleError is a bug: the gateway logs it and closes the socket with 1011.
"""

from __future__ import annotations

from game.errors import DoodleError


class HelloFirst(DoodleError):
    """A message other than hello/ping arrived before hello."""

    code = "hello_first"


class AlreadyInRoom(DoodleError):
    """create_room/join_room while already seated in a room."""

    code = "already_in_room"


class RateLimited(DoodleError):
    """The connection sends faster than allowed, or guesses room codes."""

    code = "rate_limited"


class TooManyLookups(RateLimited):
    """Too many ``join_room`` look-ups from this connection or address: guessing room codes."""


class TooManyRooms(RateLimited):
    """Too many rooms created from this connection or address."""


def error_for_exception(exc: DoodleError) -> tuple[str, str]:
    """The wire (code, message) for a DoodleError; the message is for humans, the code for programs."""
    message = str(exc) or exc.code.replace("_", " ")
    return exc.code, message
