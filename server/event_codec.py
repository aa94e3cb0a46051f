"""Game events as plain data for the room channel, and back: what every gateway learns from a commit.

A commit publishes the typed events that ``game.rules.apply`` returned, so that each gateway's
``RoomView`` acts on the same typed events as the gateway that committed, not on wire dicts. Each
event becomes ``[kind, {field: value}]``: the dataclass name and its fields, read back with the field
types declared in ``game/events.py`` (str, int, float, bool, enums, tuples and nested dataclasses;
``RoomSettings`` through its own ``to_dict``/``from_dict``).

A payload that does not match those types raises ``ValueError``: a corrupt publish, not a refused move.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from game import events as game_events
from game.events import Event
from game.settings import RoomSettings

# Every event class, by name: the tag on the wire.
EVENT_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Event)}


def encode_events(events: Sequence[Event]) -> list[list[Any]]:
    """Events as msgpack-ready lists ``[kind, fields]``."""
    return [[type(event).__name__, _plain(event)] for event in events]


def decode_events(data: Any) -> tuple[Event, ...]:
    """Inverse of :func:`encode_events`.

    Raises:
        ValueError: an unknown kind, or a field of the wrong type.
    """
    if not isinstance(data, list | tuple):
        raise ValueError(f"events: expected a list, got {type(data).__name__}")
    decoded = []
    for item in data:
        if not isinstance(item, list | tuple) or len(item) != 2 or item[0] not in EVENT_TYPES:
            raise ValueError(f"events: not a known [kind, fields] pair: {item!r}")
        decoded.append(_typed(EVENT_TYPES[item[0]], item[1], item[0]))
    return tuple(decoded)


def _plain(value: Any) -> Any:
    if isinstance(value, RoomSettings):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {spec.name: _plain(getattr(value, spec.name)) for spec in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


@cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(game_events))


def _typed(kind: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _typed(inner, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (inner, _ellipsis) = typing.get_args(kind)
        return tuple(_typed(inner, item, where) for item in value)
    if kind is RoomSettings:
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected settings, got {value!r}")
        return RoomSettings.from_dict(value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        hints = _hints(kind)
        try:
            return kind(**{name: _typed(hints[name], value[name], f"{where}.{name}") for name in hints})
        except KeyError as exc:
            raise ValueError(f"{where}: missing field {exc}") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in (int, str, bool) and type(value) is kind:
        return value
    raise ValueError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
