"""Every wire message, in one place: parse what clients send, encode what the server sends.

Each message is a map with a ``type`` field. A connection's encoding is fixed by its first frame: text
frames carry JSON, binary frames carry msgpack, and the server answers in kind. No other module builds
JSON or msgpack for the wire. ``docs/protocol.md`` documents every message defined here.

Client messages are parsed strictly into frozen dataclasses (:func:`parse_client_message`); anything
malformed raises :class:`BadMessage` with a wire code. Server messages are plain dicts built by the
``*_message`` helpers below, because the gateway fans the same message out to many sockets and encodes
it once per encoding (:class:`WireFrame`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final, Literal, cast

import msgpack
import numpy as np

from game import rules
from game.errors import DoodleError, InvalidName
from game.events import (
    BackToLobby,
    Event,
    GameOver,
    GameStarted,
    HostChanged,
    PlayerDisconnected,
    PlayerJoined,
    PlayerLeft,
    PlayerRecognized,
    PlayerReconnected,
    PlayerScore,
    RoomClosed,
    RoundEnded,
    RoundResult,
    RoundStarted,
    SettingsChanged,
)
from game.state import Phase, RoomState, RoundState
from server import message_types as shapes
from server.message_types import (
    MAX_CANVAS_SIDE,
    MAX_GAME_NUMBER,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_POINT_TIME_MS,
    MAX_POINTS_PER_DRAWING,
    MAX_POINTS_PER_MESSAGE,
    MAX_ROUND_NUMBER,
    MAX_STROKES_PER_DRAWING,
)

PROTOCOL_VERSION: Final = 1

# The limits on what one parsed message may hold live in message_types.py (the schemas state them);
# the gateway enforces frame size and rate.
# Points may overshoot the canvas a little (a finger sliding off the edge); beyond this they are refused.
CANVAS_MARGIN = 0.05
# No client message nests deeper than 4 (recognize: map > strokes > stroke > point); deeper input is
# refused before anything walks it, since json and msgpack decoders recurse once per level.
MAX_NESTING = 8


# The server's WebSocket keep-alive: a ping frame this often, and a close (1011) if no pong this soon.
KEEPALIVE_PING_INTERVAL_S: Final = 20
KEEPALIVE_PING_TIMEOUT_S: Final = 20


class CloseCode(IntEnum):
    """WebSocket close codes the server uses (4000-4999 are application codes)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # the server is shutting down; reconnect with your token
    INVALID_DATA = 1007  # a text frame that is not UTF-8 (the websockets library closes with it)
    POLICY_VIOLATION = 1008  # flooding or too many bad messages
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SESSION_REPLACED = 4000  # the same player connected again elsewhere (resume on another socket)
    HELLO_TIMEOUT = 4001  # no hello within the handshake window


# What each close code means and what a client should do: the AsyncAPI document and the docs say this.
CLOSE_CODE_ADVICE: dict[CloseCode, str] = {
    CloseCode.NORMAL: "normal close; a room seat is still held for 30 s (send leave_room to give it up)",
    CloseCode.GOING_AWAY: "the server is shutting down: reconnect and hello with resume",
    CloseCode.INVALID_DATA: "a text frame that is not UTF-8: fix the client",
    CloseCode.POLICY_VIOLATION: "flooding, too many bad messages, or too slow to read: fix the client",
    CloseCode.MESSAGE_TOO_BIG: "a frame over the size limit (64 KiB): send smaller batches",
    CloseCode.INTERNAL_ERROR: (
        "a server bug, or no answer to the server's keep-alive ping: reconnect and resume"
    ),
    CloseCode.SESSION_REPLACED: (
        "the same player connected on a newer socket: stop reconnecting from this one"
    ),
    CloseCode.HELLO_TIMEOUT: "no hello within 10 s: reconnect and send hello first",
}

# The error codes each client message can get besides the ones any message can get (bad_message,
# rate_limited, hello_first before hello, conflict when a room is too busy). docs/protocol.md lists
# the same per message (a test compares them).
ERRORS_BY_MESSAGE: dict[str, tuple[str, ...]] = {
    "hello": ("invalid_name", "invalid_token"),
    "create_room": ("already_in_room", "invalid_settings", "unknown_word", "unknown_pack", "invalid_name"),
    "join_room": (
        "already_in_room",
        "invalid_room_code",
        "room_not_found",
        "rate_limited",
        "kicked",
        "room_full",
        "spectators_full",
        "name_taken",
        "invalid_name",
    ),
    "leave_room": ("not_in_room",),
    "start_game": ("not_in_room", "not_host", "wrong_phase", "not_enough_players"),
    "update_settings": (
        "not_in_room",
        "not_host",
        "wrong_phase",
        "invalid_settings",
        "unknown_word",
        "unknown_pack",
    ),
    "kick": ("not_in_room", "not_host", "cannot_kick_self"),
    "rematch": ("not_in_room", "not_host", "wrong_phase"),
    "stroke": (
        "not_in_room",
        "wrong_phase",
        "not_your_turn",
        "not_a_player",
        "round_over",
        "out_of_canvas",
        "drawing_too_large",
    ),
    "recognize": ("out_of_canvas",),
    "forget_me": ("archive_busy", "archive_unavailable"),
    "list_packs": (),
    "ping": (),
}


class BadMessage(DoodleError):
    """The frame could not be decoded or the message does not match its schema."""

    code = "bad_message"


class UnknownType(BadMessage):
    """The message's ``type`` is not one the protocol defines."""

    code = "unknown_type"


class OutOfCanvas(BadMessage):
    """A point lies outside the player's canvas."""

    code = "out_of_canvas"


Encoding = Literal["json", "msgpack"]


# ---------------------------------------------------------------------------------------------------
# Client -> server


@dataclass(frozen=True, slots=True)
class Hello:
    name: str
    canvas: tuple[float, float] | None = None
    resume: str | None = None
    consent_archive: bool = False
    group_strokes: bool = False
    id: str | None = None
    type: Literal["hello"] = "hello"


@dataclass(frozen=True, slots=True)
class CreateRoom:
    settings: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    type: Literal["create_room"] = "create_room"


@dataclass(frozen=True, slots=True)
class JoinRoom:
    code: str
    role: Literal["player", "spectator"] = "player"
    id: str | None = None
    type: Literal["join_room"] = "join_room"


@dataclass(frozen=True, slots=True)
class LeaveRoom:
    id: str | None = None
    type: Literal["leave_room"] = "leave_room"


@dataclass(frozen=True, slots=True)
class StartGame:
    id: str | None = None
    type: Literal["start_game"] = "start_game"


@dataclass(frozen=True, slots=True)
class UpdateSettings:
    settings: Mapping[str, Any]
    id: str | None = None
    type: Literal["update_settings"] = "update_settings"


@dataclass(frozen=True, slots=True)
class Kick:
    player_id: str
    id: str | None = None
    type: Literal["kick"] = "kick"


@dataclass(frozen=True, slots=True)
class Rematch:
    id: str | None = None
    type: Literal["rematch"] = "rematch"


@dataclass(frozen=True, slots=True)
class StrokeBatch:
    """Points of stroke number ``stroke`` of the sender's drawing in round ``round`` of game ``game``
    (None: the game the server is in; round numbers restart at 1 with every game)."""

    round: int
    stroke: int
    points: tuple[tuple[float, float, float], ...]
    end: bool = False
    id: str | None = None
    game: int | None = None
    type: Literal["stroke"] = "stroke"


@dataclass(frozen=True, slots=True, eq=False)  # arrays have no truth value: compare by identity
class Recognize:
    """Practice mode: recognize a whole drawing outside any room."""

    strokes: tuple[np.ndarray, ...]  # float32 (n, 3): x, y, t per point
    canvas: tuple[float, float] | None = None
    id: str | None = None
    type: Literal["recognize"] = "recognize"


@dataclass(frozen=True, slots=True)
class ForgetMe:
    id: str | None = None
    type: Literal["forget_me"] = "forget_me"


@dataclass(frozen=True, slots=True)
class ListPacks:
    """Ask for the word packs on offer (answered with `packs`; allowed before `hello`)."""

    id: str | None = None
    type: Literal["list_packs"] = "list_packs"


@dataclass(frozen=True, slots=True)
class Ping:
    id: str | None = None
    type: Literal["ping"] = "ping"


ClientMessage = (
    Hello
    | CreateRoom
    | JoinRoom
    | LeaveRoom
    | StartGame
    | UpdateSettings
    | Kick
    | Rematch
    | StrokeBatch
    | Recognize
    | ForgetMe
    | ListPacks
    | Ping
)


def decode_frame(frame: str | bytes) -> tuple[dict[str, Any], Encoding]:
    """Decode one WebSocket frame into a message map and the encoding it used.

    Raises:
        BadMessage: the frame is not a JSON/msgpack map with a string ``type``.
    """
    encoding: Encoding
    try:
        if isinstance(frame, str):
            encoding = "json"
            data = json.loads(frame)
        else:
            encoding = "msgpack"
            data = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        kind = "JSON" if isinstance(frame, str) else "msgpack"
        raise BadMessage(f"frame is not valid {kind}") from exc
    if _nesting_exceeds(data, MAX_NESTING):
        raise BadMessage(f"a message may nest at most {MAX_NESTING} levels deep")
    if not isinstance(data, dict):
        raise BadMessage("a message must be a map with a 'type' field")
    if not isinstance(data.get("type"), str):
        raise BadMessage("a message needs a string 'type' field")
    return data, encoding


_CONTAINER_TYPES: Final = frozenset((dict, list, tuple))


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether lists/maps nest deeper than ``limit`` levels; level by level, so depth cannot crash it.

    Runs on every frame, and a practice drawing holds hundreds of points: each level is walked by
    C-level iterators (`itertools.chain`, `map(type, ...)`), never a Python step per number, and the
    last level (the numbers) is never copied.
    """
    level = [value]
    kinds = {type(value)}
    depth = 0
    while not kinds.isdisjoint(_CONTAINER_TYPES):
        depth += 1
        if depth > limit:
            return True
        if not kinds <= _CONTAINER_TYPES:  # scalars beside the containers: leave them behind
            level = [item for item in level if type(item) in _CONTAINER_TYPES]
        if dict in kinds:
            level = [item.values() if type(item) is dict else item for item in level]
        kinds = set(map(type, itertools.chain.from_iterable(level)))
        if not kinds.isdisjoint(_CONTAINER_TYPES):
            level = list(itertools.chain.from_iterable(level))
    return False


def message_ref(data: Mapping[str, Any]) -> str | None:
    """The client's optional ``id`` field, echoed as ``ref`` in errors; None if absent or unusable."""
    ref = data.get("id")
    if isinstance(ref, str) and len(ref) <= MAX_ID_LENGTH:
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool):
        return str(ref)
    return None


def parse_client_message(data: Mapping[str, Any], canvas: tuple[float, float] | None = None) -> ClientMessage:
    """Turn a decoded map into a typed client message.

    Args:
        data: the decoded frame (see :func:`decode_frame`).
        canvas: the sender's canvas size from ``hello``; stroke points must lie within it.

    Raises:
        UnknownType: ``type`` is not a client message.
        BadMessage / OutOfCanvas: a field is missing, of the wrong type or out of range.
    """
    kind = data["type"]
    parser = _PARSERS.get(kind)
    if parser is None:
        raise UnknownType(f"unknown message type {kind!r}")
    ref = message_ref(data)
    try:
        return parser(data, ref, canvas)
    except (ArithmeticError, ValueError, TypeError, LookupError, AttributeError) as exc:
        # A value of a shape no check foresaw is still the sender's mistake, never a closed
        # connection (1011): a 400-digit JSON integer once reached math.isfinite this way.
        raise BadMessage(f"{kind} holds a value of the wrong shape") from exc


def _field_error(kind: str, name: str, expected: str) -> BadMessage:
    return BadMessage(f"{kind}.{name} must be {expected}")


def _string(data: Mapping[str, Any], kind: str, name: str, *, max_length: int, optional: bool = False) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise _field_error(kind, name, f"a non-empty string of at most {max_length} characters")
    return value.strip()


# What a JSON or msgpack number decodes to; `type(...) in` also keeps out bool, an int subclass.
_NUMBER_TYPES: Final = frozenset((int, float))
_SEQUENCE_TYPES: Final = frozenset((list, tuple))
_POINT_LENGTHS: Final = frozenset((2, 3))


def _number(value: Any) -> bool:
    """A finite JSON/msgpack number (not a bool); an integer too large for a float is not one."""
    if type(value) not in _NUMBER_TYPES:
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # JSON integers have no size limit
        return False


def _settings(data: Mapping[str, Any], kind: str, *, optional: bool) -> Mapping[str, Any]:
    value = data.get("settings")
    if value is None and optional:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise _field_error(kind, "settings", "a map")
    return value


def _canvas(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(_number(side) and 1 <= side <= MAX_CANVAS_SIDE for side in value)
    ):
        raise _field_error("hello", "canvas", f"[width, height] with sides 1..{MAX_CANVAS_SIDE}")
    return float(value[0]), float(value[1])


def _points(
    value: Any, kind: str, canvas: tuple[float, float] | None, *, max_points: int
) -> tuple[tuple[float, float, float], ...]:
    if type(value) not in _SEQUENCE_TYPES or len(value) > max_points:
        raise _field_error(kind, "points", f"a list of at most {max_points} [x, y, t] points")
    return tuple(zip(*_point_columns(value, kind, canvas), strict=True))


def _point_columns(
    points: Sequence[Any], kind: str, canvas: tuple[float, float] | None
) -> tuple[list[float], list[float], list[float]]:
    """The x, y and t of `points` (`[x, y]` has t = 0), each a finite number, inside the canvas.

    Checked batch by batch with C-level iterators, never a Python step per number: a practice
    drawing holds hundreds of points.

    Raises:
        BadMessage: a point that is not two or three finite numbers, or a t outside 0..1 h.
        OutOfCanvas: a point outside the canvas and its 5% margin (the first one is named).
    """
    if canvas is None:
        # Without a declared canvas the drawing is assumed to live in Google's 0..255 square and a
        # little beyond; any scale still works because the rasterizer normalizes the bounding box.
        low_x = low_y = -CANVAS_MARGIN * 256
        high_x = high_y = 256 * (1 + CANVAS_MARGIN)
    else:
        low_x, low_y = -CANVAS_MARGIN * canvas[0], -CANVAS_MARGIN * canvas[1]
        high_x, high_y = canvas[0] * (1 + CANVAS_MARGIN), canvas[1] * (1 + CANVAS_MARGIN)
    if not points:
        return [], [], []
    shape_error = _field_error(kind, "points", "a list of [x, y, t] number triples")
    if not _SEQUENCE_TYPES.issuperset(map(type, points)) or not _POINT_LENGTHS.issuperset(map(len, points)):
        raise shape_error
    numbers = list(itertools.chain.from_iterable(points))
    if not _NUMBER_TYPES.issuperset(map(type, numbers)):
        raise shape_error
    try:
        floats = list(map(float, numbers))
    except OverflowError:  # a JSON integer beyond a float's range
        raise shape_error from None
    if not all(map(math.isfinite, floats)):
        raise shape_error
    if len(floats) == 3 * len(points):  # every point is [x, y, t]
        xs, ys, ts = floats[0::3], floats[1::3], floats[2::3]
    elif len(floats) == 2 * len(points):  # every point is [x, y]
        xs, ys, ts = floats[0::2], floats[1::2], [0.0] * len(points)
    else:
        xs, ys, ts = [], [], []
        for point in points:
            xs.append(float(point[0]))
            ys.append(float(point[1]))
            ts.append(float(point[2]) if len(point) == 3 else 0.0)
    if not (low_x <= min(xs) and max(xs) <= high_x and low_y <= min(ys) and max(ys) <= high_y):
        x, y = next(
            (x, y) for x, y in zip(xs, ys, strict=True) if not (low_x <= x <= high_x and low_y <= y <= high_y)
        )
        raise OutOfCanvas(f"point ({x:g}, {y:g}) lies outside the canvas")
    if not (0 <= min(ts) and max(ts) <= MAX_POINT_TIME_MS):
        raise _field_error(kind, "points", f"points whose t is 0..{MAX_POINT_TIME_MS} ms")
    return xs, ys, ts


def _int(data: Mapping[str, Any], kind: str, name: str, low: int, high: int) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _field_error(kind, name, f"an integer {low}..{high}")
    return value


def _bool(data: Mapping[str, Any], kind: str, name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise _field_error(kind, name, "true or false")
    return value


def _parse_hello(data: Mapping[str, Any], ref: str | None, _canvas_: Any) -> Hello:
    consent = data.get("consent", {})
    if not isinstance(consent, dict) or not isinstance(consent.get("archive", False), bool):
        raise _field_error("hello", "consent", 'a map like {"archive": true}')
    name = data.get("name")
    if isinstance(name, str) and (not name.strip() or len(name) > MAX_NAME_LENGTH):
        # A well-formed but unusable name is the person's mistake, not the program's: say so.
        raise InvalidName(f"a name has 1 to {MAX_NAME_LENGTH} characters and is not blank")
    return Hello(
        name=_string(data, "hello", "name", max_length=MAX_NAME_LENGTH),
        canvas=_canvas(data.get("canvas")),
        resume=_string(data, "hello", "resume", max_length=256, optional=True),
        consent_archive=bool(consent.get("archive", False)),
        group_strokes=_bool(data, "hello", "group_strokes"),
        id=ref,
    )


def _parse_join(data: Mapping[str, Any], ref: str | None, _canvas_: Any) -> JoinRoom:
    role = data.get("role", "player")
    if role not in ("player", "spectator"):
        raise _field_error("join_room", "role", '"player" or "spectator"')
    return JoinRoom(code=_string(data, "join_room", "code", max_length=16), role=role, id=ref)


def _parse_stroke(
    data: Mapping[str, Any], ref: str | None, canvas: tuple[float, float] | None
) -> StrokeBatch:
    return StrokeBatch(
        round=_int(data, "stroke", "round", 1, MAX_ROUND_NUMBER),
        stroke=_int(data, "stroke", "stroke", 0, MAX_STROKES_PER_DRAWING - 1),
        points=_points(data.get("points"), "stroke", canvas, max_points=MAX_POINTS_PER_MESSAGE),
        end=_bool(data, "stroke", "end"),
        id=ref,
        game=_int(data, "stroke", "game", 1, MAX_GAME_NUMBER) if data.get("game") is not None else None,
    )


def _parse_recognize(data: Mapping[str, Any], ref: str | None, hello_canvas: Any) -> Recognize:
    canvas = _canvas(data["canvas"]) if data.get("canvas") is not None else hello_canvas
    strokes: Any = data.get("strokes")
    if type(strokes) not in _SEQUENCE_TYPES or not 1 <= len(strokes) <= MAX_STROKES_PER_DRAWING:
        raise _field_error("recognize", "strokes", f"a list of 1..{MAX_STROKES_PER_DRAWING} strokes")
    if not _SEQUENCE_TYPES.issuperset(map(type, strokes)):
        raise _field_error(
            "recognize", "points", f"a list of at most {MAX_POINTS_PER_DRAWING} [x, y, t] points"
        )
    lengths = list(map(len, strokes))
    if not 1 <= sum(lengths) <= MAX_POINTS_PER_DRAWING:
        raise _field_error("recognize", "strokes", f"1..{MAX_POINTS_PER_DRAWING} points in all")
    # The whole drawing is checked at once, and goes to the model as float32 (n, 3) arrays.
    columns = _point_columns(list(itertools.chain.from_iterable(strokes)), "recognize", canvas)
    points = np.array(columns, dtype=np.float32).T.copy()
    ends = list(itertools.accumulate(lengths))
    return Recognize(strokes=tuple(np.split(points, ends[:-1])), canvas=canvas, id=ref)


_PARSERS: dict[str, Any] = {
    "hello": _parse_hello,
    "create_room": lambda d, ref, _c: CreateRoom(settings=_settings(d, "create_room", optional=True), id=ref),
    "join_room": _parse_join,
    "leave_room": lambda d, ref, _c: LeaveRoom(id=ref),
    "start_game": lambda d, ref, _c: StartGame(id=ref),
    "update_settings": lambda d, ref, _c: UpdateSettings(
        settings=_settings(d, "update_settings", optional=False), id=ref
    ),
    "kick": lambda d, ref, _c: Kick(
        player_id=_string(d, "kick", "player_id", max_length=MAX_ID_LENGTH), id=ref
    ),
    "rematch": lambda d, ref, _c: Rematch(id=ref),
    "stroke": _parse_stroke,
    "recognize": _parse_recognize,
    "forget_me": lambda d, ref, _c: ForgetMe(id=ref),
    "list_packs": lambda d, ref, _c: ListPacks(id=ref),
    "ping": lambda d, ref, _c: Ping(id=ref),
}

CLIENT_MESSAGE_TYPES = frozenset(_PARSERS)
# What a connection may send before `hello`: nothing that needs to know who is asking.
BEFORE_HELLO = (Hello, Ping, ListPacks)


# ---------------------------------------------------------------------------------------------------
# Server -> client (shapes in message_types.py; mypy checks each builder against its type)


class WireFrame:
    """One server message, encoded lazily at most once per encoding (fan-out sends the same bytes)."""

    __slots__ = ("_json", "_msgpack", "message")

    def __init__(self, message: Mapping[str, Any]) -> None:
        self.message = message
        self._json: str | None = None
        self._msgpack: bytes | None = None

    def encoded(self, encoding: Encoding) -> str | bytes:
        if encoding == "json":
            if self._json is None:
                self._json = json.dumps(self.message, separators=(",", ":"), ensure_ascii=False)
            return self._json
        if self._msgpack is None:
            self._msgpack = msgpack.packb(self.message, use_bin_type=True)
        return self._msgpack


def encode_in_pieces(message: Mapping[str, Any], list_field: str, encoding: Encoding) -> WireFrame:
    """Encode a message with one long list (a snapshot's strokes) one item at a time.

    Each item is a short encoder call, so a thread running this gives the GIL back between items
    and the event loop keeps serving everyone else; one call over the whole list would hold it for
    as long as the list takes. The list goes last; the result decodes to the same message.
    """
    items = message[list_field]
    encoded = [WireFrame(item).encoded(encoding) for item in items]
    return _with_encoded_list(message, list_field, items, encoded, encoding)


def strokes_message(relays: Sequence[WireFrame], encoding: Encoding) -> WireFrame:
    """One `strokes` frame of stroke relays, built from their encodings (made once for every viewer):
    grouping them for one client joins bytes and encodes nothing again."""
    items = [relay.message for relay in relays]
    encoded = [relay.encoded(encoding) for relay in relays]
    return _with_encoded_list({"type": "strokes", "items": items}, "items", items, encoded, encoding)


def _with_encoded_list(
    message: Mapping[str, Any],
    list_field: str,
    items: Sequence[Any],
    encoded: Sequence[str | bytes],
    encoding: Encoding,
) -> WireFrame:
    """`message` with `list_field` last, its items' encodings `encoded` joined into the frame's."""
    ordered = {**{k: v for k, v in message.items() if k != list_field}, list_field: items}
    frame = WireFrame(ordered)
    if encoding == "json":
        head = json.dumps({**ordered, list_field: []}, separators=(",", ":"), ensure_ascii=False)
        assert head.endswith("[]}")
        frame._json = head[:-2] + ",".join(cast("Sequence[str]", encoded)) + "]}"
    else:
        head_bytes = msgpack.packb({**ordered, list_field: None}, use_bin_type=True)
        assert head_bytes.endswith(b"\xc0")  # nil, the list's placeholder
        count = len(encoded)
        if count < 16:  # msgpack's array headers: fixarray, array 16, array 32
            header = bytes([0x90 | count])
        elif count < 1 << 16:
            header = b"\xdc" + count.to_bytes(2, "big")
        else:
            header = b"\xdd" + count.to_bytes(4, "big")
        frame._msgpack = head_bytes[:-1] + header + b"".join(cast("Sequence[bytes]", encoded))
    return frame


def encode(message: Mapping[str, Any], encoding: Encoding) -> str | bytes:
    """Encode one server message for one connection."""
    return WireFrame(message).encoded(encoding)


def welcome_message(
    player_id: str, token: str, server_time_ms: int, *, resumed: bool
) -> shapes.WelcomeMessage:
    return {
        "type": "welcome",
        "player_id": player_id,
        "token": token,
        "protocol": PROTOCOL_VERSION,
        "server_time": server_time_ms,
        "resumed": resumed,
    }


def error_message(code: str, message: str, ref: str | None = None) -> shapes.ErrorMessage:
    error: shapes.ErrorMessage = {"type": "error", "code": code, "message": message}
    if ref is not None:
        error["ref"] = ref
    return error


def pong_message(server_time_ms: int, ref: str | None) -> shapes.PongMessage:
    pong: shapes.PongMessage = {"type": "pong", "server_time": server_time_ms}
    if ref is not None:
        pong["ref"] = ref
    return pong


def left_room_message(code: str, reason: str) -> shapes.LeftRoomMessage:
    return {"type": "left_room", "code": code, "reason": reason}  # type: ignore[typeddict-item]


def forgotten_message(drawings_removed: int, ref: str | None) -> shapes.ForgottenMessage:
    forgotten: shapes.ForgottenMessage = {"type": "forgotten", "drawings_removed": drawings_removed}
    if ref is not None:
        forgotten["ref"] = ref
    return forgotten


def stroke_relay_message(
    player_id: str,
    game_number: int,
    round_number: int,
    stroke: int,
    points: list[list[float]],
    end: bool,
    canvas: list[float] | None,
) -> shapes.StrokeRelayMessage:
    message: shapes.StrokeRelayMessage = {
        "type": "stroke",
        "player_id": player_id,
        "game": game_number,
        "round": round_number,
        "stroke": stroke,
        "points": points,
        "end": end,
    }
    if canvas is not None:
        message["canvas"] = canvas
    return message


def guess_message(
    player_id: str, guesses: list[tuple[str, float]], round_number: int | None = None, ref: str | None = None
) -> shapes.GuessMessage:
    message: shapes.GuessMessage = {
        "type": "guess",
        "player_id": player_id,
        "guesses": [{"word": word, "score": round(score, 4)} for word, score in guesses],
    }
    if round_number is not None:
        message["round"] = round_number
    if ref is not None:
        message["ref"] = ref
    return message


# ---------------------------------------------------------------------------------------------------
# Room snapshots and room events (game events -> wire messages with their audiences)

# Who a rendered message is for (resolved per member by server.room_view.RoomView):
# ["all"] | ["all_except", pid] | ["viewers", pid] | ["stroke_viewers", pid]
Audience = list[str]
ALL: Audience = ["all"]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _scores(state: RoomState, scores: Sequence[PlayerScore]) -> list[shapes.ScoreLine]:
    names = {player.player_id: player.name for player in state.players}
    return [
        {"player_id": line.player_id, "name": names.get(line.player_id, ""), "score": line.score}
        for line in scores
    ]


def _round(current: RoundState) -> shapes.RoundInfo:
    return {
        "round": current.number,
        "word": current.word,
        "started_at": _ms(current.started_at),
        "ends_at": _ms(current.ends_at),
        "duration_ms": current.duration_ms,
        "drawers": list(current.drawers),
        "recognized": [
            {"player_id": r.player_id, "rank": r.rank, "elapsed_ms": r.elapsed_ms, "points": r.points}
            for r in current.recognitions
        ],
    }


def _results(results: Sequence[RoundResult]) -> list[shapes.RoundResult]:
    return [
        {
            "player_id": r.player_id,
            "recognized": r.recognized,
            "rank": r.rank,
            "elapsed_ms": r.elapsed_ms,
            "points": r.points,
        }
        for r in results
    ]


def room_message(
    state: RoomState, viewer_id: str | None, role: str, server_time_ms: int, strokes: list[dict[str, Any]]
) -> shapes.RoomMessage:
    """The ``room`` snapshot: everything a client needs to redraw the room from scratch.

    In ``round_results`` it also carries what ``round_ended`` said (results, when the next round
    comes), so a client that resumes during the pause can show the same screen as everyone else.
    """
    showing_results = state.phase is Phase.ROUND_RESULTS and state.round is not None
    return {
        "type": "room",
        "code": state.code,
        "host": state.host or "",
        "phase": state.phase.value,  # type: ignore[typeddict-item]
        "settings": state.settings.to_dict(),  # type: ignore[typeddict-item]
        "players": [
            {"player_id": p.player_id, "name": p.name, "score": p.score, "connected": p.connected}
            for p in state.players
        ],
        "spectators": [
            {"player_id": s.player_id, "name": s.name, "connected": s.connected} for s in state.spectators
        ],
        "round": _round(state.round) if state.round is not None else None,
        "rounds_total": state.settings.rounds,
        "game": state.game_number,
        "next_at": (
            _ms(state.round_results_until)
            if showing_results and state.round_results_until is not None
            else None
        ),
        "results": (
            _results(rules.round_results(state.round))
            if showing_results and state.round is not None
            else None
        ),
        "you": {"player_id": viewer_id or "", "role": role},  # type: ignore[typeddict-item]
        "strokes": strokes,  # type: ignore[typeddict-item]
        "server_time": server_time_ms,
    }


def render_event(event: Event, state: RoomState) -> list[tuple[Audience, shapes.ServerMessage]]:
    """The wire messages (with audiences) that announce one game event; [] for internal ones."""
    match event:
        case PlayerJoined():
            joined: shapes.PlayerJoinedMessage = {
                "type": "player_joined",
                "player_id": event.player_id,
                "name": event.name,
                "role": event.role.value,
            }
            return [(["all_except", event.player_id], joined)]
        case PlayerLeft():
            left: shapes.PlayerLeftMessage = {
                "type": "player_left",
                "player_id": event.player_id,
                "reason": event.reason.value,
            }
            return [(ALL, left)]
        case PlayerDisconnected():
            return [(ALL, {"type": "player_disconnected", "player_id": event.player_id})]
        case PlayerReconnected():
            return [(ALL, {"type": "player_reconnected", "player_id": event.player_id})]
        case HostChanged():
            return [(ALL, {"type": "host_changed", "host": event.host})]
        case SettingsChanged():
            settings = event.settings.to_dict()
            return [(ALL, {"type": "settings_changed", "settings": settings})]  # type: ignore[typeddict-item]
        case GameStarted():
            return [(ALL, {"type": "game_started", "rounds": event.rounds, "game": event.game_number})]
        case RoundStarted():
            started: shapes.RoundStartedMessage = {
                "type": "round_started",
                "game": state.game_number,
                "round": event.round,
                "word": event.word,
                "duration_ms": event.duration_ms,
                "started_at": _ms(event.started_at),
                "ends_at": _ms(event.ends_at),
                "drawers": list(event.drawers),
            }
            return [(ALL, started)]
        case PlayerRecognized():
            recognized: shapes.RecognizedMessage = {
                "type": "recognized",
                "player_id": event.player_id,
                "word": event.word,
                "rank": event.rank,
                "elapsed_ms": event.elapsed_ms,
                "points": event.points,
                "score": event.score,
            }
            return [(ALL, recognized)]
        case RoundEnded():
            ended: shapes.RoundEndedMessage = {
                "type": "round_ended",
                "round": event.round,
                "word": event.word,
                "results": _results(event.results),
                "scores": _scores(state, event.scores),
                "next_at": _ms(event.results_until),
            }
            return [(ALL, ended)]
        case GameOver():
            return [(ALL, {"type": "game_over", "scores": _scores(state, event.scores)})]
        case BackToLobby():
            return [(ALL, {"type": "back_to_lobby"})]
        case RoomClosed():
            return [(ALL, {"type": "room_closed"})]
    return []
