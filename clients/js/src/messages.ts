// Builders for every client message (typed; `id` is echoed as `ref` in answers), and clock arithmetic.
// Plain functions with no state: a client may use them with any socket.

import type {
  Canvas,
  CreateRoomMessage,
  ForgetMeMessage,
  HelloMessage,
  JoinRoomMessage,
  KickMessage,
  LeaveRoomMessage,
  MessageId,
  PingMessage,
  Point,
  RecognizeMessage,
  RematchMessage,
  Role,
  SettingsUpdate,
  StartGameMessage,
  StrokeMessage,
  UpdateSettingsMessage,
} from "./protocol.js";
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

function withId<T extends { id?: MessageId }>(message: T, id?: MessageId | null): T {
  if (id !== undefined && id !== null) message.id = id;
  return message;
}

export interface HelloOptions {
  canvas?: Canvas;
  resume?: string | null;
  consentArchive?: boolean;
  /** Take other players' strokes grouped in `strokes` frames (fewer frames for the server and you). */
  groupStrokes?: boolean;
  id?: MessageId;
}

export function hello(
  name: string,
  { canvas, resume, consentArchive, groupStrokes, id }: HelloOptions = {},
): HelloMessage {
  const message: HelloMessage = { type: "hello", name };
  if (canvas) message.canvas = canvas;
  if (resume) message.resume = resume;
  if (consentArchive) message.consent = { archive: true };
  if (groupStrokes) message.group_strokes = true;
  return withId(message, id);
}

export function createRoom(settings: SettingsUpdate = {}, id?: MessageId): CreateRoomMessage {
  return withId<CreateRoomMessage>({ type: "create_room", settings }, id);
}

export function joinRoom(code: string, role: Role = "player", id?: MessageId): JoinRoomMessage {
  return withId<JoinRoomMessage>({ type: "join_room", code, role }, id);
}

export function updateSettings(settings: SettingsUpdate, id?: MessageId): UpdateSettingsMessage {
  return withId<UpdateSettingsMessage>({ type: "update_settings", settings }, id);
}

export function startGame(id?: MessageId): StartGameMessage {
  return withId<StartGameMessage>({ type: "start_game" }, id);
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
export function stroke(
  round: number,
  strokeIndex: number,
  points: Point[],
  end: boolean,
  id?: MessageId,
  game?: number,
): StrokeMessage {
  const message: StrokeMessage = { type: "stroke", round, stroke: strokeIndex, points, end };
  if (game !== undefined) message.game = game;
  return withId<StrokeMessage>(message, id);
}

export function kick(playerId: string, id?: MessageId): KickMessage {
  return withId<KickMessage>({ type: "kick", player_id: playerId }, id);
}

export function leaveRoom(id?: MessageId): LeaveRoomMessage {
  return withId<LeaveRoomMessage>({ type: "leave_room" }, id);
}

export function rematch(id?: MessageId): RematchMessage {
  return withId<RematchMessage>({ type: "rematch" }, id);
}

/** Practice mode: one whole drawing in, a `guess` with `ref` = id out. */
export function recognize(strokes: Point[][], canvas?: Canvas, id?: MessageId): RecognizeMessage {
  // The type says "at least one stroke" (a tuple); the server refuses an empty list with bad_message.
  const message: RecognizeMessage = { type: "recognize", strokes: strokes as RecognizeMessage["strokes"] };
  if (canvas) message.canvas = canvas;
  return withId(message, id);
}

export function forgetMe(id?: MessageId): ForgetMeMessage {
  return withId<ForgetMeMessage>({ type: "forget_me" }, id);
}

export function ping(id?: MessageId): PingMessage {
  return withId<PingMessage>({ type: "ping" }, id);
}

/** Encode a message as a JSON text frame (what `encoding: "json"` sends). */
export function encode(message: object): string {
  return JSON.stringify(message);
}

/**
 * The server clock's offset from ours, `server_time - now`, from a welcome or a pong. With a ping's
 * round trip, the server stamped its time about half way: add rtt / 2.
 */
export function clockOffset(serverTime: number, receivedAt: number, roundTripMs = 0): number {
  return serverTime + roundTripMs / 2 - receivedAt;
}

/** Milliseconds left until `endsAt` (server clock), given our offset; never negative. */
export function msUntil(endsAt: number, offsetMs: number, now: number = Date.now()): number {
  return Math.max(0, endsAt - (now + offsetMs));
}
