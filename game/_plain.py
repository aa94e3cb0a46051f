"""Typed readers for plain data (what msgpack or JSON gives back), used by the ``from_dict`` methods.

Each reader checks one value's type and raises ``ValueError`` naming the key: a stored room that
does not parse is corrupt data, an internal error, not a refused move.
"""

from __future__ import annotations

from collections.abc import Mapping


def _fail(key: str, expected: str, value: object) -> ValueError:
    return ValueError(f"{key}: expected {expected}, got {type(value).__name__} {value!r}")


def mapping(value: object, key: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(key, "a mapping with str keys", value)
    return value


def sequence(data: Mapping[str, object], key: str) -> list[object]:
    # msgpack and JSON give lists; tuples are accepted so a dict that never left the process works too.
    value = data.get(key)
    if not isinstance(value, list | tuple):
        raise _fail(key, "a list", value)
    return list(value)


def string(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _fail(key, "str", value)
    return value


def optional_string(data: Mapping[str, object], key: str) -> str | None:
    return None if data.get(key) is None else string(data, key)


def strings(data: Mapping[str, object], key: str) -> tuple[str, ...]:
    items = sequence(data, key)
    if not all(isinstance(item, str) for item in items):
        raise _fail(key, "a list of str", items)
    return tuple(str(item) for item in items)


def integer(data: Mapping[str, object], key: str) -> int:
    value = data.get(key)
    # bool is a subclass of int; a stored True where a count belongs is corruption, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(key, "int", value)
    return value


def number(data: Mapping[str, object], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(key, "a number", value)
    return float(value)


def optional_number(data: Mapping[str, object], key: str) -> float | None:
    return None if data.get(key) is None else number(data, key)


def boolean(data: Mapping[str, object], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise _fail(key, "bool", value)
    return value
