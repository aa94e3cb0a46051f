"""What a room's pub/sub channel carries: typed envelopes, and their msgpack form.

Every gateway with members in a room subscribes to its channel and feeds each envelope to that room's
``RoomView``; the gateway that committed gets the same envelope. Three kinds, told apart by their
first items (each item is one msgpack object; the Lua scripts prepend the version, and the sequence
number of a stroke, to the tail built here)::

    commit: version, ["commit", [[kind, fields], ...]], state     state = RoomState.to_dict()
    stroke: version, seq, ["stroke", player, game, round, stroke, points, end, canvas]
    guess:  0, ["guess", player, game, round, [[word, score], ...]]

A commit carries the whole new state, so no gateway reloads the room on hearing of it; the state blob
is the one the script stores, appended by Lua (so it is packed once). Strokes and guesses change no
state: a stroke carries the room version it was accepted at, a guess version 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import msgpack

from game.events import Event
from game.state import RoomState
from server.event_codec import decode_events, encode_events


@dataclass(frozen=True, slots=True)
class CommitEnvelope:
    """A committed transition: the room at `version` and the events that led there."""

    version: int
    state: RoomState
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class StrokeEnvelope:
    """One accepted batch of points, number `seq` of its round (round numbers restart per game)."""

    version: int
    seq: int
    player_id: str
    game: int
    round: int
    stroke: int
    points: list[list[float]]
    end: bool
    canvas: list[float] | None


@dataclass(frozen=True, slots=True)
class GuessEnvelope:
    """The model's top guesses for a player's drawing of round (`game`, `round`)."""

    player_id: str
    game: int
    round: int
    guesses: tuple[tuple[str, float], ...]


Envelope: TypeAlias = CommitEnvelope | StrokeEnvelope | GuessEnvelope


def commit_tail(events: tuple[Event, ...] | list[Event]) -> bytes:
    """What COMMIT_ROOM publishes between the version and the state."""
    return msgpack.packb(["commit", encode_events(events)], use_bin_type=True)


def stroke_tail(
    player_id: str,
    game: int,
    round_number: int,
    stroke: int,
    points: list[list[float]],
    end: bool,
    canvas: list[float] | None,
) -> bytes:
    """What APPEND_STROKE publishes after the version and the sequence number."""
    return msgpack.packb(
        ["stroke", player_id, game, round_number, stroke, points, end, canvas], use_bin_type=True
    )


def encode_guess(guess: GuessEnvelope) -> bytes:
    """A whole guess envelope (published by the gateway, not by a script)."""
    return msgpack.packb(0) + msgpack.packb(
        ["guess", guess.player_id, guess.game, guess.round, [list(item) for item in guess.guesses]],
        use_bin_type=True,
    )


def decode_envelope(data: bytes) -> Envelope:
    """Parse one published envelope.

    Raises:
        ValueError: not an envelope of this format.
    """
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    try:
        items = list(unpacker)
        if len(items) == 3 and isinstance(items[1], list) and items[1][0] == "commit":
            version, (_kind, events), state = items
            return CommitEnvelope(int(version), RoomState.from_dict(state), decode_events(events))
        if len(items) == 3 and items[2][0] == "stroke":
            version, seq, (_kind, player_id, game, round_number, stroke, points, end, canvas) = items
            return StrokeEnvelope(
                int(version),
                int(seq),
                str(player_id),
                int(game),
                int(round_number),
                int(stroke),
                points,
                bool(end),
                canvas,
            )
        if len(items) == 2 and items[1][0] == "guess":
            _zero, (_kind, player_id, game, round_number, guesses) = items
            return GuessEnvelope(
                str(player_id),
                int(game),
                int(round_number),
                tuple((str(word), float(score)) for word, score in guesses),
            )
    except (TypeError, ValueError, IndexError, KeyError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed envelope: {exc!r}") from exc
    raise ValueError(f"unknown envelope: {items[:2]!r}")
