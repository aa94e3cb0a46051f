// The Doodle Party wire protocol, version 1, as docs/protocol.md defines it, and nothing else:
// message builders for everything a client sends, the error and close codes, the limits, and the
// clock-offset arithmetic. No DOM, no sockets: app code and other clients can import it as-is.
//
// Every message is a map with a string `type`. This client speaks JSON text frames (the first frame
// fixes a connection's encoding; msgpack binary frames carry the same fields).

export const PROTOCOL_VERSION = 1;

/** Limits a well-behaved client stays under (docs/protocol.md, "Limits"). */
export const LIMITS = Object.freeze({
  maxFrameBytes: 64 * 1024,
  messagesPerSecond: 60,
  messageBurst: 120,
  helloWithinMs: 10_000,
  maxPointsPerStroke: 512, // per `stroke` message
  maxStrokesPerDrawing: 200,
  maxPointsPerRecognize: 8000,
  nameLength: [1, 24],
  canvasSide: [1, 10_000],
  canvasSlack: 0.05,
  maxPointTimeMs: 3_600_000,
  resumeWindowMs: 30_000,
  maxIdLength: 64,
});

/** Room settings: defaults and inclusive ranges (docs/protocol.md, `create_room`). */
export const SETTINGS = Object.freeze({
  rounds: { default: 6, min: 1, max: 20 },
  round_seconds: { default: 20, min: 5, max: 120 },
  max_players: { default: 8, min: 1, max: 16 },
  results_seconds: { default: 5, min: 1, max: 60 },
  max_spectators: { default: 32, min: 0, max: 64 },
  show_drawings: { default: true },
  archive: { default: false },
});

export const PHASES = Object.freeze(["lobby", "round", "round_results", "game_over"]);
export const ROLES = Object.freeze(["player", "spectator"]);
export const LEAVE_REASONS = Object.freeze(["left", "kicked", "timeout"]);

/** Every `error.code`, with its meaning from the protocol's table. Programs switch on the code. */
export const ERROR_CODES = Object.freeze({
  bad_message: "not JSON/msgpack, not a map, missing or wrongly typed field",
  unknown_type: "no such message type",
  out_of_canvas: "a point lies outside the declared canvas",
  hello_first: "send hello before anything else",
  invalid_token: "resume token unknown, expired or forged",
  rate_limited: "too many messages, or too many failed joins",
  already_in_room: "leave your room first",
  room_not_found: "no room with that code (or it expired)",
  invalid_room_code: "the code has characters room codes never use",
  room_full: "no free seat for that role",
  kicked: "you were kicked from this room",
  not_in_room: "join a room first (or the player is not in your room)",
  not_host: "only the host may do that",
  wrong_phase: "not possible in the room's current phase",
  not_your_turn: "a stroke for a round that is not the current one",
  not_a_player: "spectators, and players who joined mid-round, do not draw",
  round_over: "the round's deadline passed",
  already_recognized: "(internal) a recognition was already recorded",
  invalid_settings: "a setting is of the wrong type or out of range",
  unknown_word: "a word the model does not know",
  drawing_too_large: "the round's drawing has too many batches",
  conflict: "the room was too busy to update; retry",
});

/** WebSocket close codes the server uses, and what a client should do about each. */
export const CLOSE_CODES = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001, // server shutting down: reconnect (another gateway) and hello {resume}
  POLICY_VIOLATION: 1008, // flooding or too many bad messages: fix the client
  MESSAGE_TOO_BIG: 1009, // frame over 64 KiB: send smaller batches
  INTERNAL_ERROR: 1011, // a server bug (logged): reconnect and resume
  SESSION_REPLACED: 4000, // the same player connected from elsewhere: stop reconnecting
  HELLO_TIMEOUT: 4001, // no hello in time
});

/** Close codes after which reconnecting with the resume token is the right move. */
export const RECONNECT_CLOSE_CODES = Object.freeze(
  new Set([CLOSE_CODES.GOING_AWAY, CLOSE_CODES.INTERNAL_ERROR, CLOSE_CODES.HELLO_TIMEOUT]),
);

// ------------------------------------------------------------------------------------------------
// Client -> server. Each builder returns the message map; `id` (optional) is echoed as `ref`.

function withId(message, id) {
  if (id !== undefined && id !== null) message.id = id;
  return message;
}

/**
 * @param {string} name 1-24 characters.
 * @param {{canvas?: [number, number], resume?: string, consentArchive?: boolean, id?: string|number}} options
 */
export function hello(name, { canvas, resume, consentArchive, id } = {}) {
  const message = { type: "hello", name };
  if (canvas) message.canvas = canvas;
  if (resume) message.resume = resume;
  if (consentArchive) message.consent = { archive: true };
  return withId(message, id);
}

export function createRoom(settings = {}, id) {
  return withId({ type: "create_room", settings }, id);
}

/** @param {"player"|"spectator"} role */
export function joinRoom(code, role = "player", id) {
  return withId({ type: "join_room", code, role }, id);
}

export function updateSettings(settings, id) {
  return withId({ type: "update_settings", settings }, id);
}

export function startGame(id) {
  return withId({ type: "start_game" }, id);
}

/**
 * One batch of one stroke's points.
 * @param {number} round the number from round_started.
 * @param {number} stroke 0, 1, 2, ... (pen down to pen up is one stroke).
 * @param {Array<[number, number, number]>} points [x, y, t]; t in ms since the round started.
 * @param {boolean} end true on the last batch of the stroke (pen up).
 */
export function stroke(round, strokeIndex, points, end, id) {
  return withId({ type: "stroke", round, stroke: strokeIndex, points, end }, id);
}

export function kick(playerId, id) {
  return withId({ type: "kick", player_id: playerId }, id);
}

export function leaveRoom(id) {
  return withId({ type: "leave_room" }, id);
}

export function rematch(id) {
  return withId({ type: "rematch" }, id);
}

/**
 * Practice mode: one whole drawing in, a `guess` with `ref` = id out.
 * @param {Array<Array<[number, number, number]>>} strokes
 * @param {[number, number]} [canvas]
 */
export function recognize(strokes, canvas, id) {
  const message = { type: "recognize", strokes };
  if (canvas) message.canvas = canvas;
  return withId(message, id);
}

export function forgetMe(id) {
  return withId({ type: "forget_me" }, id);
}

export function ping(id) {
  return withId({ type: "ping" }, id);
}

// ------------------------------------------------------------------------------------------------
// Frames and time.

/** Encode a client message as a JSON text frame. */
export function encode(message) {
  return JSON.stringify(message);
}

/**
 * Decode a server text frame.
 * @returns {object|null} the message map, or null when the frame is not a map with a string type.
 */
export function decode(frame) {
  let message;
  try {
    message = JSON.parse(frame);
  } catch {
    return null;
  }
  if (message === null || typeof message !== "object" || typeof message.type !== "string") return null;
  return message;
}

/**
 * The server clock's offset from ours: `server_time - Date.now()`, from welcome or pong.
 * With a ping's round trip, the answer was stamped about half way: add rtt / 2.
 */
export function clockOffset(serverTime, receivedAt, roundTripMs = 0) {
  return serverTime + roundTripMs / 2 - receivedAt;
}

/** Milliseconds left until `endsAt` (server clock), given our offset; never negative. */
export function msUntil(endsAt, offsetMs, now = Date.now()) {
  return Math.max(0, endsAt - (now + offsetMs));
}
