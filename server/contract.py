"""The wire protocol as an AsyncAPI 3 document, generated from ``message_types.py``.

``doodle-party contract`` writes ``docs/asyncapi.json``; ``doodle-party contract --check`` exits 1 if
the committed file differs (a test runs it). The JSON Schemas in the document's
``components.schemas`` are what the tests hold every documented example and every frame the server
sends to, and what client type generators read (docs/protocol.md, "Generated types").

The document describes the server: it *receives* client messages and *sends* server messages, all on
one channel (the WebSocket at ``/``). Error codes come from the ``code`` of every ``DoodleError``
subclass, so a new refusal cannot be left out; close codes come from ``messages.CloseCode``.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints

from game.errors import DoodleError
from server import message_types as shapes
from server.messages import CLOSE_CODE_ADVICE, ERRORS_BY_MESSAGE, PROTOCOL_VERSION, CloseCode

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"
SCHEMA_REF = "#/components/schemas/"

# Client messages the server answers directly (besides `error`), for the operations' `reply`.
REPLIES: Mapping[str, str] = {
    "hello": "welcome",
    "create_room": "room",
    "join_room": "room",
    "leave_room": "left_room",
    "recognize": "guess",
    "forget_me": "forgotten",
    "list_packs": "packs",
    "ping": "pong",
}


def error_codes() -> dict[str, str]:
    """Every wire error code, with the first line of the docstring of the first class that uses it."""
    # Import every module that defines refusals, so their classes are registered as subclasses.
    import server.archive.errors
    import server.errors
    import server.sessions
    import server.store  # noqa: F401

    found: dict[str, str] = {}
    # The base class's own code is never sent: start from its subclasses.
    pending: list[type[DoodleError]] = sorted(DoodleError.__subclasses__(), key=lambda sub: sub.__name__)
    while pending:
        cls = pending.pop(0)
        pending.extend(sorted(cls.__subclasses__(), key=lambda sub: sub.__name__))
        code = cls.__dict__.get("code")
        if isinstance(code, str) and code not in found:
            found[code] = (cls.__doc__ or code).strip().splitlines()[0].replace("``", "`")
    return dict(sorted(found.items()))


def connection_limits() -> dict[str, int]:
    """Per-connection limits and timings a client must respect (defaults; operators can change them)."""
    from game.rules import RESUME_SECONDS
    from server.config import Settings
    from server.messages import KEEPALIVE_PING_INTERVAL_S, KEEPALIVE_PING_TIMEOUT_S

    settings = Settings()
    return {
        "max_frame_bytes": settings.max_message_bytes,
        "messages_per_second": int(settings.messages_per_second),
        "message_burst": settings.message_burst,
        "max_bad_messages": settings.max_bad_messages,
        "hello_within_ms": int(settings.hello_timeout_seconds * 1000),
        "seat_held_ms": RESUME_SECONDS * 1000,
        "server_ping_interval_ms": KEEPALIVE_PING_INTERVAL_S * 1000,
        "server_ping_timeout_ms": KEEPALIVE_PING_TIMEOUT_S * 1000,
    }


class SchemaBuilder:
    """Turns the typed dicts and aliases of ``message_types`` into JSON Schemas (draft 7 keywords)."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": SCHEMA_REF + name}

    def named(self, name: str, build: typing.Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if name not in self.components:
            self.components[name] = {}  # reserve the name first: types may refer to themselves
            self.components[name] = build()
        return self.ref(name)

    def typed_dict(self, cls: type) -> dict[str, Any]:
        return self.named(cls.__name__, lambda: self._object(cls))

    def _object(self, cls: type) -> dict[str, Any]:
        hints = get_type_hints(cls, include_extras=True)
        # Not __required_keys__: under `from __future__ import annotations` Python 3.11 cannot see a
        # NotRequired inside a string annotation, so read the evaluated hints.
        total: bool = cls.__total__  # type: ignore[attr-defined]
        required = {
            name
            for name, hint in hints.items()
            if get_origin(hint) is Required or (total and get_origin(hint) is not NotRequired)
        }
        properties = {name: self.schema(hint) for name, hint in hints.items()}
        schema: dict[str, Any] = {"type": "object"}
        if cls.__doc__:
            schema["description"] = " ".join(cls.__doc__.split("\n\n")[0].split())
        schema["properties"] = properties
        ordered = [name for name in hints if name in required]
        if ordered:
            schema["required"] = ordered
        # Strict on purpose: a field the document does not know is drift, and the tests should fail.
        schema["additionalProperties"] = False
        return schema

    def schema(self, hint: Any) -> dict[str, Any]:
        origin = get_origin(hint)
        if origin in (Required, NotRequired):
            return self.schema(get_args(hint)[0])
        if origin is typing.Annotated:
            base, *metadata = get_args(hint)
            names = [item.name for item in metadata if isinstance(item, shapes.Named)]
            keywords: dict[str, Any] = {}
            for item in metadata:
                if isinstance(item, shapes.Rule):
                    keywords.update(item.keywords)
            if names:
                return self.named(names[0], lambda: self._annotated(base, keywords, names[0]))
            return self._annotated(base, keywords, None)
        if hint is str:
            return {"type": "string"}
        if hint is bool:
            return {"type": "boolean"}
        if hint is int:
            return {"type": "integer"}
        if hint is float:
            return {"type": "number"}
        if hint is type(None):
            return {"type": "null"}
        if origin is Literal:
            values = list(get_args(hint))
            kind = "string" if isinstance(values[0], str) else "integer"
            return {"type": kind, "const": values[0]} if len(values) == 1 else {"type": kind, "enum": values}
        if origin is list:
            return {"type": "array", "items": self.schema(get_args(hint)[0])}
        if origin in (Union, types.UnionType):
            options = [self.schema(arg) for arg in get_args(hint)]
            return {"oneOf": options}
        if isinstance(hint, type) and typing.is_typeddict(hint):
            return self.typed_dict(hint)
        raise TypeError(f"no JSON Schema for {hint!r}")

    def _annotated(self, base: Any, keywords: dict[str, Any], name: str | None) -> dict[str, Any]:
        if name == "ErrorCode":
            codes = error_codes()
            return {
                "type": "string",
                "enum": list(codes),
                "description": "A wire error code; programs switch on it (meanings: x-enum-descriptions).",
                "x-enum-descriptions": codes,
            }
        schema = dict(self.schema(base))
        if "$ref" in schema and keywords:
            # Draft 7 ignores keywords beside $ref: wrap them.
            schema = {"allOf": [schema]}
        schema.update(keywords)
        return schema


def _message_component(builder: SchemaBuilder, cls: type) -> tuple[str, dict[str, Any]]:
    tag = get_args(get_type_hints(cls)["type"])[0]
    payload = builder.typed_dict(cls)
    summary = " ".join((cls.__doc__ or "").split("\n\n")[0].split())
    return cls.__name__, {"name": tag, "title": tag, "summary": summary, "payload": payload}


def document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document, as plain data in a stable order."""
    builder = SchemaBuilder()
    client = dict(_message_component(builder, cls) for cls in shapes.CLIENT_MESSAGES)
    server = dict(_message_component(builder, cls) for cls in shapes.SERVER_MESSAGES)
    builder.schema(shapes.ErrorCode)
    builder.components["CloseCode"] = {
        "type": "integer",
        "enum": [int(code) for code in CloseCode],
        "description": "WebSocket close codes the server uses. "
        + "; ".join(f"{int(code)}: {CLOSE_CODE_ADVICE[code]}" for code in CloseCode),
        "x-enum-descriptions": {str(int(code)): CLOSE_CODE_ADVICE[code] for code in CloseCode},
    }
    builder.components["ClientMessage"] = {
        "description": "Any message a client sends.",
        "oneOf": [builder.ref(name) for name in client],
    }
    builder.components["ServerMessage"] = {
        "description": "Any message the server sends.",
        "oneOf": [builder.ref(name) for name in server],
    }
    channel = "#/channels/game"
    by_tag = {component["name"]: name for name, component in server.items()}
    operations: dict[str, Any] = {}
    for name, component in client.items():
        tag = component["name"]
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": {"$ref": channel},
            "summary": component["summary"],
            "messages": [{"$ref": f"{channel}/messages/{name}"}],
            "x-errors": list(ERRORS_BY_MESSAGE[tag]),
        }
        if tag in REPLIES:
            operation["reply"] = {
                "channel": {"$ref": channel},
                "messages": [
                    {"$ref": f"{channel}/messages/{by_tag[REPLIES[tag]]}"},
                    {"$ref": f"{channel}/messages/ErrorMessage"},
                ],
            }
        operations[f"receive_{tag}"] = operation
    for name, component in server.items():
        operations[f"send_{component['name']}"] = {
            "action": "send",
            "channel": {"$ref": channel},
            "summary": component["summary"],
            "messages": [{"$ref": f"{channel}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Doodle Party",
            "version": str(PROTOCOL_VERSION),
            "description": (
                "The Doodle Party game protocol: every message is a map with a string `type`, sent as a "
                "JSON text frame or a msgpack binary frame (the client's first frame fixes the encoding). "
                "Generated from server/message_types.py by `doodle-party contract`; prose, limits and "
                "examples in docs/protocol.md. Close codes: components.schemas.CloseCode. Each receive "
                "operation lists its error codes in `x-errors`; any message may also get `bad_message`, "
                "`rate_limited` and (before `hello`, except for `ping` and `list_packs`) `hello_first`."
            ),
            "license": {"name": "MIT"},
            "x-limits": connection_limits(),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8765",
                "protocol": "ws",
                "description": "`make serve`; use the machine's LAN address for phones.",
            }
        },
        "channels": {
            "game": {
                "address": "/",
                "title": "Game",
                "description": "The one WebSocket every client opens; all messages travel on it.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in [*client, *server]},
            }
        },
        "operations": operations,
        "components": {"schemas": builder.components, "messages": {**client, **server}},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = "Write the AsyncAPI document of the wire protocol (docs/asyncapi.json)."
    parser.add_argument(
        "--output", type=Path, default=DOCUMENT_PATH, help="where to write (default: %(default)s)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file differs from what would be written",
    )


def run(args: argparse.Namespace) -> int:
    text = render()
    path: Path = args.output
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run `doodle-party contract`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0
