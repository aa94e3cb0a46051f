"""The shape of every wire message, as typed dicts: the single source of the protocol's contract.

``messages.py`` parses client messages and builds server messages of these shapes (mypy checks that
each ``*_message`` helper returns its type); ``contract.py`` turns them into the AsyncAPI document
``docs/asyncapi.json``, whose JSON Schemas the tests hold every example and every frame the server
sends to. So a field added here reaches the parser's callers, the builders, the document and the
generated client types together.

Rules of this file:
- One ``TypedDict`` per message ``type`` (``*Message``), plus the named parts they share.
- ``Annotated[T, Rule(...)]`` adds JSON Schema keywords (ranges, lengths, descriptions) to a field.
- ``NotRequired`` fields may be absent; ``T | None`` fields are always present and may be null.
- A docstring's first paragraph becomes the schema's description: write it for a client developer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from game import rules
from game import settings as game_settings

# Limits that keep one client from hurting others; the parser enforces them and the schemas state them.
MAX_NAME_LENGTH = 24
MAX_POINTS_PER_MESSAGE = 512
# A round's drawing budget is a game rule (the store enforces it across batches).
MAX_STROKES_PER_DRAWING = rules.MAX_STROKES_PER_DRAWING
MAX_POINTS_PER_DRAWING = rules.MAX_POINTS_PER_DRAWING
MAX_CANVAS_SIDE = 10_000
MAX_POINT_TIME_MS = 3_600_000
MAX_ID_LENGTH = 64
MAX_ROOM_CODE_LENGTH = 16
MAX_TOKEN_LENGTH = 256
MAX_ROUND_NUMBER = 1000
# Games of a room are counted 1, 2, ... (a rematch starts the next); any 32-bit client can hold one.
MAX_GAME_NUMBER = 2**31 - 1


class Rule:
    """JSON Schema keywords for one field or alias, e.g. ``Rule(minimum=1, description="...")``.

    Compared and hashed by identity (typing hashes ``Annotated`` metadata inside unions).
    """

    __slots__ = ("keywords",)

    def __init__(self, **keywords: Any) -> None:
        self.keywords: dict[str, Any] = keywords


@dataclass(frozen=True, slots=True)
class Named:
    """Gives an alias its own entry in ``components.schemas`` (and its own generated type)."""

    name: str


# ---------------------------------------------------------------------------------------------------
# Shared parts

PlayerId = Annotated[
    str, Rule(description="A player's id, as in `welcome.player_id`.", examples=["p_1a2b3c4d5e6f"])
]
TimeMs = Annotated[
    int,
    Rule(description="Milliseconds since the Unix epoch, by the server's clock.", examples=[1764078000000]),
]
MessageId = Annotated[
    str | int,
    Named("MessageId"),
    Rule(
        description="Optional request id (a string of at most 64 characters, or an integer), echoed as `ref`."
    ),
]
Ref = Annotated[str, Rule(description="The `id` of the request this answers, always as a string.")]
Point = Annotated[
    list[float],
    Named("Point"),
    Rule(
        minItems=2,
        maxItems=3,
        description=(
            "`[x, y, t]`: x and y in canvas units, t in ms since the round started (0..3600000), by the "
            "drawer's own clock. `[x, y]` is accepted from clients (t = 0); the server always relays three."
        ),
    ),
]
Canvas = Annotated[
    list[float],
    Named("Canvas"),
    Rule(
        minItems=2,
        maxItems=2,
        items={"type": "number", "minimum": 1, "maximum": MAX_CANVAS_SIDE},
        description="`[width, height]` of a drawing surface, in the units of its points, each 1..10000.",
    ),
]
Phase = Annotated[
    Literal["lobby", "round", "round_results", "game_over"],
    Named("Phase"),
    Rule(description="Where a room is in its life."),
]
Role = Annotated[Literal["player", "spectator"], Named("Role"), Rule(description="How a member takes part.")]
LeaveReason = Annotated[
    Literal["left", "kicked", "timeout"],
    Named("LeaveReason"),
    Rule(description="`left`: by choice; `kicked`: by the host; `timeout`: the 30 s seat hold ran out."),
]


_SETTING_MEANINGS = {
    "rounds": "Rounds per game, at most the number of words.",
    "round_seconds": "Seconds to draw.",
    "max_players": "Player seats (spectators do not count).",
    "show_drawings": "Whether players see each other's strokes (spectators always do).",
    "archive": "Keep consented players' drawings (docs/privacy.md).",
    "results_seconds": "Pause on a round's results before the next round.",
    "max_spectators": "Spectator seats.",
    "pack": "A word pack's name from `list_packs`: the room plays its words (not with `words`).",
}


def _setting(name: str) -> Rule:
    """The range and default of one room setting, read from game/settings.py (never restated)."""
    description = _SETTING_MEANINGS[name]
    default = getattr(game_settings.RoomSettings(), name)
    if name in game_settings.INT_BOUNDS:
        low, high = game_settings.INT_BOUNDS[name]
        return Rule(minimum=low, maximum=high, default=default, description=description)
    if name == "pack":  # the default is resolved by the server (its default pack), not a constant
        return Rule(description=description)
    return Rule(default=default, description=description)


_WORDS = Rule(
    uniqueItems=True,
    items={"type": "string", "minLength": 1},
    description="The words to draw; each one the model knows (`unknown_word`). Empty or absent: every word.",
)


class SettingsUpdate(TypedDict, total=False):
    """Room settings a host sends: any subset; omitted ones keep their value (defaults on create)."""

    rounds: Annotated[int, _setting("rounds")]
    round_seconds: Annotated[int, _setting("round_seconds")]
    max_players: Annotated[int, _setting("max_players")]
    words: Annotated[list[str], _WORDS]
    pack: Annotated[str, _setting("pack")]
    show_drawings: Annotated[bool, _setting("show_drawings")]
    archive: Annotated[bool, _setting("archive")]
    results_seconds: Annotated[int, _setting("results_seconds")]
    max_spectators: Annotated[int, _setting("max_spectators")]


class RoomSettings(TypedDict):
    """A room's settings, every one resolved (`words` is never empty)."""

    rounds: Annotated[int, _setting("rounds")]
    round_seconds: Annotated[int, _setting("round_seconds")]
    max_players: Annotated[int, _setting("max_players")]
    words: Annotated[list[str], _WORDS]
    pack: Annotated[str, _setting("pack")]
    show_drawings: Annotated[bool, _setting("show_drawings")]
    archive: Annotated[bool, _setting("archive")]
    results_seconds: Annotated[int, _setting("results_seconds")]
    max_spectators: Annotated[int, _setting("max_spectators")]


class PlayerInfo(TypedDict):
    """A player in a room snapshot."""

    player_id: PlayerId
    name: str
    score: int
    connected: Annotated[bool, Rule(description="False while their seat is held for a resume.")]


class SpectatorInfo(TypedDict):
    """A spectator in a room snapshot."""

    player_id: PlayerId
    name: str
    connected: bool


class RecognitionInfo(TypedDict):
    """A drawer the model recognized this round: rank 1 was first."""

    player_id: PlayerId
    rank: Annotated[int, Rule(minimum=1)]
    elapsed_ms: Annotated[int, Rule(minimum=0)]
    points: int


class RoundInfo(TypedDict):
    """The round being played, or whose results are shown."""

    round: Annotated[int, Rule(minimum=1, description="1-based within the game.")]
    word: str
    started_at: TimeMs
    ends_at: TimeMs
    duration_ms: int
    drawers: Annotated[list[PlayerId], Rule(description="The players drawing this round, in join order.")]
    recognized: list[RecognitionInfo]


class RoundResult(TypedDict):
    """How one drawer did in a round; `rank` and `elapsed_ms` are null if not recognized."""

    player_id: PlayerId
    recognized: bool
    rank: Annotated[int, Rule(minimum=1)] | None
    elapsed_ms: Annotated[int, Rule(minimum=0)] | None
    points: int


class ScoreLine(TypedDict):
    """One line of a scoreboard, highest score first."""

    player_id: PlayerId
    name: str
    score: int


class SnapshotStroke(TypedDict):
    """One accepted batch of a drawing, as a `room` snapshot replays it."""

    player_id: PlayerId
    stroke: Annotated[int, Rule(minimum=0)]
    points: list[Point]
    end: bool
    canvas: Canvas | None


class You(TypedDict):
    """Who the snapshot's receiver is in the room."""

    player_id: PlayerId
    role: Role


class Guess(TypedDict):
    """One of the model's top guesses."""

    word: str
    score: Annotated[float, Rule(minimum=0, maximum=1, description="The model's probability.")]


# ---------------------------------------------------------------------------------------------------
# Client -> server


class HelloMessage(TypedDict):
    """First message on every connection: a new identity, or `resume` with an earlier token."""

    type: Literal["hello"]
    name: Annotated[
        str,
        Rule(
            minLength=1, maxLength=MAX_NAME_LENGTH, pattern=r"\S", description="1-24 characters, not blank."
        ),
    ]
    canvas: NotRequired[Canvas]
    resume: NotRequired[Annotated[str, Rule(minLength=1, maxLength=MAX_TOKEN_LENGTH)]]
    consent: NotRequired[ArchiveConsent]
    group_strokes: NotRequired[
        Annotated[
            bool,
            Rule(
                description="true: other players' stroke batches come grouped in `strokes` frames, "
                "at most one every 50 ms, instead of one `stroke` frame each."
            ),
        ]
    ]
    id: NotRequired[MessageId]


class ArchiveConsent(TypedDict, total=False):
    """Consent choices; `archive: true` lets rooms that archive drawings keep yours."""

    archive: bool


class CreateRoomMessage(TypedDict):
    """Create a room; you become its host and first player."""

    type: Literal["create_room"]
    settings: NotRequired[SettingsUpdate]
    id: NotRequired[MessageId]


class JoinRoomMessage(TypedDict):
    """Join a room by its code, as a player (default) or a spectator."""

    type: Literal["join_room"]
    code: Annotated[
        str,
        Rule(
            minLength=1,
            maxLength=MAX_ROOM_CODE_LENGTH,
            description="Case-insensitive; spaces and dashes are ignored.",
        ),
    ]
    role: NotRequired[Role]
    id: NotRequired[MessageId]


class LeaveRoomMessage(TypedDict):
    """Leave your room; answered by `left_room`."""

    type: Literal["leave_room"]
    id: NotRequired[MessageId]


class StartGameMessage(TypedDict):
    """The host starts the game from the lobby."""

    type: Literal["start_game"]
    id: NotRequired[MessageId]


class UpdateSettingsMessage(TypedDict):
    """The host changes settings in the lobby (merged into the current ones)."""

    type: Literal["update_settings"]
    settings: SettingsUpdate
    id: NotRequired[MessageId]


class KickMessage(TypedDict):
    """The host removes a member, who may not come back to this room."""

    type: Literal["kick"]
    player_id: Annotated[str, Rule(minLength=1, maxLength=MAX_ID_LENGTH)]
    id: NotRequired[MessageId]


class RematchMessage(TypedDict):
    """The host brings everyone back to the lobby after `game_over`, scores reset."""

    type: Literal["rematch"]
    id: NotRequired[MessageId]


class StrokeMessage(TypedDict):
    """A batch of points of one stroke of your drawing in the current round."""

    type: Literal["stroke"]
    round: Annotated[int, Rule(minimum=1, maximum=MAX_ROUND_NUMBER, description="From `round_started`.")]
    game: NotRequired[
        Annotated[
            int,
            Rule(
                minimum=1,
                maximum=MAX_GAME_NUMBER,
                description=(
                    "From `round_started` (or the `room` snapshot): names the game of `round`, since round"
                    " numbers restart at 1 with every game. Without it the server takes the game it is in."
                ),
            ),
        ]
    ]
    stroke: Annotated[
        int,
        Rule(minimum=0, maximum=MAX_STROKES_PER_DRAWING - 1, description="0, 1, 2, ...: pen down to pen up."),
    ]
    points: Annotated[list[Point], Rule(maxItems=MAX_POINTS_PER_MESSAGE)]
    end: NotRequired[Annotated[bool, Rule(description="True on the last batch of the stroke (pen up).")]]
    id: NotRequired[MessageId]


class RecognizeMessage(TypedDict):
    """Practice mode: one whole drawing in, a `guess` (with `ref`) out; no room needed."""

    type: Literal["recognize"]
    strokes: Annotated[
        list[Annotated[list[Point], Rule(maxItems=MAX_POINTS_PER_DRAWING)]],
        Rule(minItems=1, maxItems=MAX_STROKES_PER_DRAWING),
    ]
    canvas: NotRequired[Canvas]
    id: NotRequired[MessageId]


class ForgetMeMessage(TypedDict):
    """Delete every archived drawing of this identity."""

    type: Literal["forget_me"]
    id: NotRequired[MessageId]


class ListPacksMessage(TypedDict):
    """Ask for the word packs on offer; answered by `packs`. Allowed before `hello`."""

    type: Literal["list_packs"]
    id: NotRequired[MessageId]


class PingMessage(TypedDict):
    """Ask for the server's time (clock offset, liveness); answered by `pong`."""

    type: Literal["ping"]
    id: NotRequired[MessageId]


# ---------------------------------------------------------------------------------------------------
# Server -> client


class WelcomeMessage(TypedDict):
    """The answer to `hello`: your identity and the token to resume it."""

    type: Literal["welcome"]
    player_id: PlayerId
    token: Annotated[str, Rule(description="Secret: keep it (Keychain, localStorage) to resume.")]
    protocol: Literal[1]
    server_time: TimeMs
    resumed: bool


class RoomMessage(TypedDict):
    """A room snapshot, the whole truth at that moment: redraw everything from it."""

    type: Literal["room"]
    code: str
    host: PlayerId
    phase: Phase
    settings: RoomSettings
    players: list[PlayerInfo]
    spectators: list[SpectatorInfo]
    round: Annotated[
        RoundInfo | None,
        Rule(
            description="The round being played (`round`) or whose results show (`round_results`); else null."
        ),
    ]
    rounds_total: int
    game: Annotated[
        int, Rule(minimum=0, description="Games started in this room: 0 in the first lobby, +1 per game.")
    ]
    next_at: Annotated[
        TimeMs | None,
        Rule(description="In `round_results`: when the next round (or `game_over`) comes; else null."),
    ]
    results: Annotated[
        list[RoundResult] | None,
        Rule(
            description=(
                "In `round_results`: the results of the round just played, as `round_ended` had them; "
                "else null."
            )
        ),
    ]
    you: You
    strokes: Annotated[
        list[SnapshotStroke],
        Rule(
            description=(
                "The current round's drawing so far (everyone's, or only yours when drawings are hidden)."
            )
        ),
    ]
    server_time: TimeMs


class ErrorMessage(TypedDict):
    """A refused message; the connection stays open unless a close code follows."""

    type: Literal["error"]
    code: ErrorCode
    message: Annotated[str, Rule(description="For people; programs switch on `code`.")]
    ref: NotRequired[Ref]


# Filled in by contract.py from every DoodleError subclass's code (the one list of wire error codes).
ErrorCode = Annotated[str, Named("ErrorCode")]


class PongMessage(TypedDict):
    """The answer to `ping`."""

    type: Literal["pong"]
    server_time: TimeMs
    ref: NotRequired[Ref]


class GuessMessage(TypedDict):
    """The model's top guesses for a drawing: a drawer's own (and spectators'), or a practice answer."""

    type: Literal["guess"]
    player_id: PlayerId
    guesses: list[Guess]
    round: NotRequired[Annotated[int, Rule(minimum=1, description="Absent in practice mode.")]]
    ref: NotRequired[Ref]


class StrokeRelayMessage(TypedDict):
    """Another player's stroke batch, relayed as it arrives."""

    type: Literal["stroke"]
    player_id: PlayerId
    game: int
    round: int
    stroke: int
    points: list[Point]
    end: bool
    canvas: NotRequired[Annotated[Canvas, Rule(description="The drawer's canvas from `hello`, if declared.")]]


class StrokesMessage(TypedDict):
    """Other players' stroke batches, grouped (to clients that sent `group_strokes` in `hello`)."""

    type: Literal["strokes"]
    items: Annotated[
        list[StrokeRelayMessage],
        Rule(minItems=1, description="`stroke` messages, oldest first: handle each as if it came alone."),
    ]


Difficulty = Annotated[
    Literal["easy", "medium", "hard", "left_out", "unrated"],
    Named("Difficulty"),
    Rule(description="How often and how fast the model recognizes a word, measured by replaying drawings."),
]


class PackWord(TypedDict):
    """One word of a pack, with its measured difficulty."""

    word: str
    difficulty: Difficulty


class PackInfo(TypedDict):
    """A word pack: a theme's words the model recognizes well enough to play."""

    name: Annotated[str, Rule(description="What `create_room`'s `pack` setting takes.")]
    title: str
    words: list[PackWord]
    left_out: Annotated[
        list[str], Rule(description="Words of the theme left out: recognized too rarely or too slowly.")
    ]


class PacksMessage(TypedDict):
    """The answer to `list_packs`: every word pack this server offers."""

    type: Literal["packs"]
    default: Annotated[str | None, Rule(description="The pack a room plays when `create_room` names none.")]
    packs: list[PackInfo]
    ref: NotRequired[Ref]


class PlayerJoinedMessage(TypedDict):
    """Someone joined the room."""

    type: Literal["player_joined"]
    player_id: PlayerId
    name: str
    role: Role


class PlayerLeftMessage(TypedDict):
    """Someone left the room for good."""

    type: Literal["player_left"]
    player_id: PlayerId
    reason: LeaveReason


class PlayerDisconnectedMessage(TypedDict):
    """Someone's connection dropped; their seat is held for 30 s."""

    type: Literal["player_disconnected"]
    player_id: PlayerId


class PlayerReconnectedMessage(TypedDict):
    """Someone resumed their held seat."""

    type: Literal["player_reconnected"]
    player_id: PlayerId


class HostChangedMessage(TypedDict):
    """The host left; the longest-present connected player is host now."""

    type: Literal["host_changed"]
    host: PlayerId


class SettingsChangedMessage(TypedDict):
    """The host changed the settings."""

    type: Literal["settings_changed"]
    settings: RoomSettings


class GameStartedMessage(TypedDict):
    """A game starts; `round_started` follows."""

    type: Literal["game_started"]
    rounds: int
    game: Annotated[int, Rule(minimum=1, description="Counts games in this room, +1 per rematch.")]


class RoundStartedMessage(TypedDict):
    """A round starts: draw `word` until `ends_at`."""

    type: Literal["round_started"]
    game: int
    round: int
    word: str
    duration_ms: int
    started_at: TimeMs
    ends_at: TimeMs
    drawers: list[PlayerId]


class RecognizedMessage(TypedDict):
    """The model recognized a drawer's doodle; `score` is their new total."""

    type: Literal["recognized"]
    player_id: PlayerId
    word: str
    rank: int
    elapsed_ms: int
    points: int
    score: int


class RoundEndedMessage(TypedDict):
    """A round is over; its results show until `next_at`."""

    type: Literal["round_ended"]
    round: int
    word: str
    results: list[RoundResult]
    scores: list[ScoreLine]
    next_at: TimeMs


class GameOverMessage(TypedDict):
    """The game is over: final scores."""

    type: Literal["game_over"]
    scores: list[ScoreLine]


class BackToLobbyMessage(TypedDict):
    """A rematch: everyone is in the lobby again, scores at 0."""

    type: Literal["back_to_lobby"]


class RoomClosedMessage(TypedDict):
    """The last player left: the room is gone."""

    type: Literal["room_closed"]


class LeftRoomMessage(TypedDict):
    """You are out of the room (by `leave_room`, a kick, or an expired seat)."""

    type: Literal["left_room"]
    code: str
    reason: LeaveReason


class ForgottenMessage(TypedDict):
    """The answer to `forget_me`."""

    type: Literal["forgotten"]
    drawings_removed: Annotated[int, Rule(minimum=0)]
    ref: NotRequired[Ref]


CLIENT_MESSAGES: tuple[type, ...] = (
    HelloMessage,
    CreateRoomMessage,
    JoinRoomMessage,
    LeaveRoomMessage,
    StartGameMessage,
    UpdateSettingsMessage,
    KickMessage,
    RematchMessage,
    StrokeMessage,
    RecognizeMessage,
    ForgetMeMessage,
    ListPacksMessage,
    PingMessage,
)

SERVER_MESSAGES: tuple[type, ...] = (
    WelcomeMessage,
    RoomMessage,
    ErrorMessage,
    PongMessage,
    PacksMessage,
    GuessMessage,
    StrokeRelayMessage,
    StrokesMessage,
    PlayerJoinedMessage,
    PlayerLeftMessage,
    PlayerDisconnectedMessage,
    PlayerReconnectedMessage,
    HostChangedMessage,
    SettingsChangedMessage,
    GameStartedMessage,
    RoundStartedMessage,
    RecognizedMessage,
    RoundEndedMessage,
    GameOverMessage,
    BackToLobbyMessage,
    RoomClosedMessage,
    LeftRoomMessage,
    ForgottenMessage,
)

ServerMessage = (
    WelcomeMessage
    | RoomMessage
    | ErrorMessage
    | PongMessage
    | PacksMessage
    | GuessMessage
    | StrokeRelayMessage
    | StrokesMessage
    | PlayerJoinedMessage
    | PlayerLeftMessage
    | PlayerDisconnectedMessage
    | PlayerReconnectedMessage
    | HostChangedMessage
    | SettingsChangedMessage
    | GameStartedMessage
    | RoundStartedMessage
    | RecognizedMessage
    | RoundEndedMessage
    | GameOverMessage
    | BackToLobbyMessage
    | RoomClosedMessage
    | LeftRoomMessage
    | ForgottenMessage
)
