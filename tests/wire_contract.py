"""Validators built from the committed AsyncAPI document (docs/asyncapi.json), for the tests.

Each message is checked against the schema of its own ``type`` in its direction, so a failure names
the field that is wrong instead of "matches none of 21 alternatives".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft7Validator

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"

Direction = Literal["client", "server"]


@cache
def document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@cache
def _validators() -> dict[tuple[Direction, str], Draft7Validator]:
    doc = document()
    components = doc["components"]
    validators = {}
    for operation in doc["operations"].values():
        direction: Direction = "client" if operation["action"] == "receive" else "server"
        for ref in operation["messages"]:
            name = ref["$ref"].rsplit("/", 1)[1]
            message = components["messages"][name]
            # Draft 7 ignores keywords beside $ref, so "components" only serves to resolve it.
            schema = {"$ref": message["payload"]["$ref"], "components": components}
            validators[direction, message["name"]] = Draft7Validator(schema)
    return validators


def message_types(direction: Direction) -> set[str]:
    return {kind for (side, kind) in _validators() if side == direction}


def contract_errors(message: Mapping[str, Any], direction: Direction) -> list[str]:
    """What is wrong with one message by the document ([] when it conforms)."""
    kind = message.get("type")
    validator = _validators().get((direction, kind)) if isinstance(kind, str) else None
    if validator is None:
        return [f"no {direction} message of type {kind!r} in the contract"]
    return [
        f"{kind}: {'/'.join(map(str, error.absolute_path)) or '(message)'}: {error.message}"
        for error in validator.iter_errors(dict(message))
    ]


# Every frame TestClient received during the running test, and the contract violations among them.
RECEIVED: list[dict[str, Any]] = []
VIOLATIONS: list[str] = []


def sampled(value: Any, keep: int = 4) -> Any:
    """The value with every long list cut to its first and last ``keep`` items.

    Validating every point of a full round's relays costs ~20 ms per 500-point frame inside the test's
    event loop (the server's loop too) and made load tests time out; the first and last items of a
    list exercise the same schema. No server list has a maxItems beyond a point's 3, so none is lost.
    """
    if isinstance(value, list):
        items = value if len(value) <= 2 * keep else value[:keep] + value[-keep:]
        return [sampled(item, keep) for item in items]
    if isinstance(value, dict):
        return {key: sampled(item, keep) for key, item in value.items()}
    return value


def check_received(message: Mapping[str, Any]) -> None:
    """Record one frame the server sent, and whether it conforms (long lists sampled)."""
    RECEIVED.append(dict(message))
    VIOLATIONS.extend(contract_errors(sampled(message), "server"))
