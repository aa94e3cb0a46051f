// Built from clients/js/src by `npm run build` (tsc): do not edit; edit the TypeScript source.
// Builders for every client message (typed; `id` is echoed as `ref` in answers), and clock arithmetic.
// Plain functions with no state: a client may use them with any socket.
import { CONNECTION_LIMITS, MESSAGE_LIMITS } from "./protocol.js";
/** Every limit a well-behaved client stays under, in the units the names say. */
export const LIMITS = Object.freeze({
    maxFrameBytes: CONNECTION_LIMITS.max_frame_bytes,
    messagesPerSecond: CONNECTION_LIMITS.messages_per_second,
    messageBurst: CONNECTION_LIMITS.message_burst,
    helloWithinMs: CONNECTION_LIMITS.hello_within_ms,
    seatHeldMs: CONNECTION_LIMITS.seat_held_ms,
    maxPointsPerStroke: MESSAGE_LIMITS.maxPointsPerStroke,
    maxStrokesPerDrawing: MESSAGE_LIMITS.maxStrokesPerDrawing,
    maxPointsPerRecognize: MESSAGE_LIMITS.maxPointsPerRecognize,
    nameLength: MESSAGE_LIMITS.nameLength,
    canvasSide: MESSAGE_LIMITS.canvasSide,
});
function withId(message, id) {
    if (id !== undefined && id !== null)
        message.id = id;
    return message;
}
export function hello(name, { canvas, resume, consentArchive, groupStrokes, id } = {}) {
    const message = { type: "hello", name };
    if (canvas)
        message.canvas = canvas;
    if (resume)
        message.resume = resume;
    if (consentArchive)
        message.consent = { archive: true };
    if (groupStrokes)
        message.group_strokes = true;
    return withId(message, id);
}
export function createRoom(settings = {}, id) {
    return withId({ type: "create_room", settings }, id);
}
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
 * @param round the number from round_started.
 * @param strokeIndex 0, 1, 2, ... (pen down to pen up is one stroke).
 * @param points [x, y, t]; t in ms since the round started.
 * @param end true on the last batch of the stroke (pen up).
 * @param id optional message id, echoed in an error.
 * @param game the `game` from round_started (or the room snapshot). Round numbers restart at 1 with
 *   every game; naming the game lets the server refuse a batch that reaches it after a rematch
 *   instead of adding it to the new game's drawing.
 */
export function stroke(round, strokeIndex, points, end, id, game) {
    const message = { type: "stroke", round, stroke: strokeIndex, points, end };
    if (game !== undefined)
        message.game = game;
    return withId(message, id);
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
/** Practice mode: one whole drawing in, a `guess` with `ref` = id out. */
export function recognize(strokes, canvas, id) {
    // The type says "at least one stroke" (a tuple); the server refuses an empty list with bad_message.
    const message = { type: "recognize", strokes: strokes };
    if (canvas)
        message.canvas = canvas;
    return withId(message, id);
}
export function forgetMe(id) {
    return withId({ type: "forget_me" }, id);
}
export function ping(id) {
    return withId({ type: "ping" }, id);
}
/** Encode a message as a JSON text frame (what `encoding: "json"` sends). */
export function encode(message) {
    return JSON.stringify(message);
}
/**
 * The server clock's offset from ours, `server_time - now`, from a welcome or a pong. With a ping's
 * round trip, the server stamped its time about half way: add rtt / 2.
 */
export function clockOffset(serverTime, receivedAt, roundTripMs = 0) {
    return serverTime + roundTripMs / 2 - receivedAt;
}
/** Milliseconds left until `endsAt` (server clock), given our offset; never negative. */
export function msUntil(endsAt, offsetMs, now = Date.now()) {
    return Math.max(0, endsAt - (now + offsetMs));
}
