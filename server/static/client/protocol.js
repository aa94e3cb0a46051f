// Built from clients/js/src by `npm run build` (tsc): do not edit; edit the TypeScript source.
// GENERATED from docs/asyncapi.json by scripts/generate-types.mjs: do not edit by hand.
// Regenerate with `npm run generate` after `doodle-party contract`.
/** The protocol version this file was generated for (`welcome.protocol`). */
export const PROTOCOL_VERSION = 1;
/** Every `error.code`, with what it means. Programs switch on the code. */
export const ERROR_CODES = Object.freeze({
    "already_in_room": "create_room/join_room while already seated in a room.",
    "already_recognized": "The player's drawing was already recognized this round; each player scores once per round.",
    "archive_busy": "The archive's rewrite lock stayed taken longer than we wait; nothing was changed.",
    "archive_unavailable": "The archive cannot do what was asked right now.",
    "bad_message": "The frame could not be decoded or the message does not match its schema.",
    "cannot_kick_self": "The host tried to kick themselves; leaving is `LeaveRoom`.",
    "conflict": "A new room drew a code that already exists (retry with another code).",
    "drawing_too_large": "The player's drawing this round already holds the most batches or points one drawing may.",
    "hello_first": "A message other than hello/ping arrived before hello.",
    "invalid_name": "The display name is empty or longer than `rules.MAX_NAME_LENGTH` once stripped.",
    "invalid_room_code": "The text cannot be a room code at all: wrong length or a character outside the alphabet.",
    "invalid_settings": "A setting has the wrong type, is out of range, or contradicts another setting.",
    "invalid_token": "The resume token is unknown, expired or forged.",
    "kicked": "The host kicked this player id out of this room; it may not come back, in any role.",
    "name_taken": "Another member of the room already uses this name (compared case-insensitively).",
    "not_a_player": "A spectator tried something only players do, such as drawing.",
    "not_enough_players": "Starting needs at least `rules.MIN_PLAYERS` players.",
    "not_host": "Only the host may change settings, start, kick or call a rematch.",
    "not_in_room": "The player id (the sender, or the target of a kick) is not a member of the room.",
    "not_your_turn": "The player is not a drawer of this round (joined mid-round), or names another round.",
    "out_of_canvas": "A point lies outside the player's canvas.",
    "rate_limited": "The connection sends faster than allowed, or guesses room codes.",
    "room_full": "Every player seat is taken (`RoomSettings.max_players`); seats of disconnected players count.",
    "room_not_found": "No open room has this code (never created, expired, or closed when its last player left).",
    "round_over": "The round is over: the stroke or recognition came after `RoundState.ends_at`.",
    "spectators_full": "Every spectator seat is taken (`RoomSettings.max_spectators`).",
    "unknown_pack": "The settings name a word pack this server does not offer.",
    "unknown_type": "The message's `type` is not one the protocol defines.",
    "unknown_word": "The settings list a word the recognition model does not know.",
    "wrong_phase": "The command is not allowed in the room's current phase (see `rules.TRANSITIONS`).",
    "wrong_word": "A recognition named a word other than the round's word (a stale result from an earlier round)."
});
/** The WebSocket close codes the server uses, by name. */
export const CLOSE_CODES = Object.freeze({
    "NORMAL": 1000,
    "GOING_AWAY": 1001,
    "INVALID_DATA": 1007,
    "POLICY_VIOLATION": 1008,
    "MESSAGE_TOO_BIG": 1009,
    "INTERNAL_ERROR": 1011,
    "SESSION_REPLACED": 4000,
    "HELLO_TIMEOUT": 4001
});
/** What each close code means and what a client should do. */
export const CLOSE_CODE_ADVICE = Object.freeze({
    "1000": "normal close; a room seat is still held for 30 s (send leave_room to give it up)",
    "1001": "the server is shutting down: reconnect and hello with resume",
    "1007": "a text frame that is not UTF-8: fix the client",
    "1008": "flooding, too many bad messages, or too slow to read: fix the client",
    "1009": "a frame over the size limit (64 KiB): send smaller batches",
    "1011": "a server bug, or no answer to the server's keep-alive ping: reconnect and resume",
    "4000": "the same player connected on a newer socket: stop reconnecting from this one",
    "4001": "no hello within 10 s: reconnect and send hello first"
});
/** Room settings: defaults and inclusive ranges. */
export const SETTINGS = Object.freeze({
    "rounds": {
        "default": 6,
        "min": 1,
        "max": 20
    },
    "round_seconds": {
        "default": 20,
        "min": 5,
        "max": 120
    },
    "max_players": {
        "default": 8,
        "min": 1,
        "max": 16
    },
    "show_drawings": {
        "default": true
    },
    "archive": {
        "default": false
    },
    "results_seconds": {
        "default": 5,
        "min": 1,
        "max": 60
    },
    "max_spectators": {
        "default": 32,
        "min": 0,
        "max": 64
    }
});
/** Limits on what one message may hold. */
export const MESSAGE_LIMITS = Object.freeze({
    "nameLength": [
        1,
        24
    ],
    "canvasSide": [
        1,
        10000
    ],
    "maxPointsPerStroke": 512,
    "maxStrokesPerDrawing": 200,
    "maxPointsPerRecognize": 8000,
    "maxRoundNumber": 1000
});
/** Per-connection limits and timings (the server's defaults; operators can change the limits). */
export const CONNECTION_LIMITS = Object.freeze({
    "max_frame_bytes": 65536,
    "messages_per_second": 60,
    "message_burst": 120,
    "max_bad_messages": 20,
    "hello_within_ms": 10000,
    "seat_held_ms": 30000,
    "server_ping_interval_ms": 20000,
    "server_ping_timeout_ms": 20000
});
/** The error codes each client message can get, besides bad_message, rate_limited, hello_first and conflict. */
export const ERRORS_BY_MESSAGE = Object.freeze({
    "hello": [
        "invalid_name",
        "invalid_token"
    ],
    "create_room": [
        "already_in_room",
        "invalid_settings",
        "unknown_word",
        "unknown_pack",
        "invalid_name"
    ],
    "join_room": [
        "already_in_room",
        "invalid_room_code",
        "room_not_found",
        "rate_limited",
        "kicked",
        "room_full",
        "spectators_full",
        "name_taken",
        "invalid_name"
    ],
    "leave_room": [
        "not_in_room"
    ],
    "start_game": [
        "not_in_room",
        "not_host",
        "wrong_phase",
        "not_enough_players"
    ],
    "update_settings": [
        "not_in_room",
        "not_host",
        "wrong_phase",
        "invalid_settings",
        "unknown_word",
        "unknown_pack"
    ],
    "kick": [
        "not_in_room",
        "not_host",
        "cannot_kick_self"
    ],
    "rematch": [
        "not_in_room",
        "not_host",
        "wrong_phase"
    ],
    "stroke": [
        "not_in_room",
        "wrong_phase",
        "not_your_turn",
        "not_a_player",
        "round_over",
        "out_of_canvas",
        "drawing_too_large"
    ],
    "recognize": [
        "out_of_canvas"
    ],
    "forget_me": [
        "archive_busy",
        "archive_unavailable"
    ],
    "list_packs": [],
    "ping": []
});
/** The server message that answers a client message (an `error` may come instead). */
export const REPLIES = Object.freeze({
    "hello": "welcome",
    "create_room": "room",
    "join_room": "room",
    "leave_room": "left_room",
    "recognize": "guess",
    "forget_me": "forgotten",
    "list_packs": "packs",
    "ping": "pong"
});
/** Every server message type. */
export const SERVER_MESSAGE_TYPES = Object.freeze([
    "welcome",
    "room",
    "error",
    "pong",
    "packs",
    "guess",
    "stroke",
    "strokes",
    "player_joined",
    "player_left",
    "player_disconnected",
    "player_reconnected",
    "host_changed",
    "settings_changed",
    "game_started",
    "round_started",
    "recognized",
    "round_ended",
    "game_over",
    "back_to_lobby",
    "room_closed",
    "left_room",
    "forgotten"
]);
