// GENERATED from docs/asyncapi.json by scripts/generate-types.mjs: do not edit by hand.
// Regenerate with `npm run generate` after `doodle-party contract`.

/* eslint-disable */

/**
 * `[width, height]` of a drawing surface, in the units of its points, each 1..10000.
 *
 * @minItems 2
 * @maxItems 2
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Canvas".
 */
export type Canvas = [number, number];
/**
 * Optional request id (a string of at most 64 characters, or an integer), echoed as `ref`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "MessageId".
 */
export type MessageId = string | number;
/**
 * How a member takes part.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Role".
 */
export type Role = "player" | "spectator";
/**
 * `[x, y, t]`: x and y in canvas units, t in ms since the round started (0..3600000), by the drawer's own clock. `[x, y]` is accepted from clients (t = 0); the server always relays three.
 *
 * @minItems 2
 * @maxItems 3
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Point".
 */
export type Point = [number, number] | [number, number, number];
/**
 * Where a room is in its life.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Phase".
 */
export type Phase = "lobby" | "round" | "round_results" | "game_over";
/**
 * A wire error code; programs switch on it (meanings: x-enum-descriptions).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ErrorCode".
 */
export type ErrorCode =
  | "already_in_room"
  | "already_recognized"
  | "archive_busy"
  | "archive_unavailable"
  | "bad_message"
  | "cannot_kick_self"
  | "conflict"
  | "drawing_too_large"
  | "hello_first"
  | "invalid_name"
  | "invalid_room_code"
  | "invalid_settings"
  | "invalid_token"
  | "kicked"
  | "name_taken"
  | "not_a_player"
  | "not_enough_players"
  | "not_host"
  | "not_in_room"
  | "not_your_turn"
  | "out_of_canvas"
  | "rate_limited"
  | "room_full"
  | "room_not_found"
  | "round_over"
  | "spectators_full"
  | "unknown_pack"
  | "unknown_type"
  | "unknown_word"
  | "wrong_phase"
  | "wrong_word";
/**
 * How often and how fast the model recognizes a word, measured by replaying drawings.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Difficulty".
 */
export type Difficulty = "easy" | "medium" | "hard" | "left_out" | "unrated";
/**
 * `left`: by choice; `kicked`: by the host; `timeout`: the 30 s seat hold ran out.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "LeaveReason".
 */
export type LeaveReason = "left" | "kicked" | "timeout";
/**
 * WebSocket close codes the server uses. 1000: normal close; a room seat is still held for 30 s (send leave_room to give it up); 1001: the server is shutting down: reconnect and hello with resume; 1007: a text frame that is not UTF-8: fix the client; 1008: flooding, too many bad messages, or too slow to read: fix the client; 1009: a frame over the size limit (64 KiB): send smaller batches; 1011: a server bug, or no answer to the server's keep-alive ping: reconnect and resume; 4000: the same player connected on a newer socket: stop reconnecting from this one; 4001: no hello within 10 s: reconnect and send hello first
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "CloseCode".
 */
export type CloseCode = 1000 | 1001 | 1007 | 1008 | 1009 | 1011 | 4000 | 4001;
/**
 * Any message a client sends.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ClientMessage".
 */
export type ClientMessage =
  | HelloMessage
  | CreateRoomMessage
  | JoinRoomMessage
  | LeaveRoomMessage
  | StartGameMessage
  | UpdateSettingsMessage
  | KickMessage
  | RematchMessage
  | StrokeMessage
  | RecognizeMessage
  | ForgetMeMessage
  | ListPacksMessage
  | PingMessage;
/**
 * Any message the server sends.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ServerMessage".
 */
export type ServerMessage =
  | WelcomeMessage
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
  | ForgottenMessage;

/**
 * First message on every connection: a new identity, or `resume` with an earlier token.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "HelloMessage".
 */
export interface HelloMessage {
  type: "hello";
  /**
   * 1-24 characters, not blank.
   */
  name: string;
  canvas?: Canvas;
  resume?: string;
  consent?: ArchiveConsent;
  /**
   * true: other players' stroke batches come grouped in `strokes` frames, at most one every 50 ms, instead of one `stroke` frame each.
   */
  group_strokes?: boolean;
  id?: MessageId;
}
/**
 * Consent choices; `archive: true` lets rooms that archive drawings keep yours.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ArchiveConsent".
 */
export interface ArchiveConsent {
  archive?: boolean;
}
/**
 * Create a room; you become its host and first player.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "CreateRoomMessage".
 */
export interface CreateRoomMessage {
  type: "create_room";
  settings?: SettingsUpdate;
  id?: MessageId;
}
/**
 * Room settings a host sends: any subset; omitted ones keep their value (defaults on create).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "SettingsUpdate".
 */
export interface SettingsUpdate {
  /**
   * Rounds per game, at most the number of words.
   */
  rounds?: number;
  /**
   * Seconds to draw.
   */
  round_seconds?: number;
  /**
   * Player seats (spectators do not count).
   */
  max_players?: number;
  /**
   * The words to draw; each one the model knows (`unknown_word`). Empty or absent: every word.
   */
  words?: string[];
  /**
   * A word pack's name from `list_packs`: the room plays its words (not with `words`).
   */
  pack?: string;
  /**
   * Whether players see each other's strokes (spectators always do).
   */
  show_drawings?: boolean;
  /**
   * Keep consented players' drawings (docs/privacy.md).
   */
  archive?: boolean;
  /**
   * Pause on a round's results before the next round.
   */
  results_seconds?: number;
  /**
   * Spectator seats.
   */
  max_spectators?: number;
}
/**
 * Join a room by its code, as a player (default) or a spectator.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "JoinRoomMessage".
 */
export interface JoinRoomMessage {
  type: "join_room";
  /**
   * Case-insensitive; spaces and dashes are ignored.
   */
  code: string;
  role?: Role;
  id?: MessageId;
}
/**
 * Leave your room; answered by `left_room`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "LeaveRoomMessage".
 */
export interface LeaveRoomMessage {
  type: "leave_room";
  id?: MessageId;
}
/**
 * The host starts the game from the lobby.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "StartGameMessage".
 */
export interface StartGameMessage {
  type: "start_game";
  id?: MessageId;
}
/**
 * The host changes settings in the lobby (merged into the current ones).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "UpdateSettingsMessage".
 */
export interface UpdateSettingsMessage {
  type: "update_settings";
  settings: SettingsUpdate;
  id?: MessageId;
}
/**
 * The host removes a member, who may not come back to this room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "KickMessage".
 */
export interface KickMessage {
  type: "kick";
  player_id: string;
  id?: MessageId;
}
/**
 * The host brings everyone back to the lobby after `game_over`, scores reset.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RematchMessage".
 */
export interface RematchMessage {
  type: "rematch";
  id?: MessageId;
}
/**
 * A batch of points of one stroke of your drawing in the current round.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "StrokeMessage".
 */
export interface StrokeMessage {
  type: "stroke";
  /**
   * From `round_started`.
   */
  round: number;
  /**
   * From `round_started` (or the `room` snapshot): names the game of `round`, since round numbers restart at 1 with every game. Without it the server takes the game it is in.
   */
  game?: number;
  /**
   * 0, 1, 2, ...: pen down to pen up.
   */
  stroke: number;
  /**
   * @maxItems 512
   */
  points: Point[];
  /**
   * True on the last batch of the stroke (pen up).
   */
  end?: boolean;
  id?: MessageId;
}
/**
 * Practice mode: one whole drawing in, a `guess` (with `ref`) out; no room needed.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RecognizeMessage".
 */
export interface RecognizeMessage {
  type: "recognize";
  /**
   * @minItems 1
   * @maxItems 200
   */
  strokes: [Point[], ...Point[][]];
  canvas?: Canvas;
  id?: MessageId;
}
/**
 * Delete every archived drawing of this identity.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ForgetMeMessage".
 */
export interface ForgetMeMessage {
  type: "forget_me";
  id?: MessageId;
}
/**
 * Ask for the word packs on offer; answered by `packs`. Allowed before `hello`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ListPacksMessage".
 */
export interface ListPacksMessage {
  type: "list_packs";
  id?: MessageId;
}
/**
 * Ask for the server's time (clock offset, liveness); answered by `pong`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PingMessage".
 */
export interface PingMessage {
  type: "ping";
  id?: MessageId;
}
/**
 * The answer to `hello`: your identity and the token to resume it.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "WelcomeMessage".
 */
export interface WelcomeMessage {
  type: "welcome";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  /**
   * Secret: keep it (Keychain, localStorage) to resume.
   */
  token: string;
  protocol: 1;
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  server_time: number;
  resumed: boolean;
}
/**
 * A room snapshot, the whole truth at that moment: redraw everything from it.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoomMessage".
 */
export interface RoomMessage {
  type: "room";
  code: string;
  /**
   * A player's id, as in `welcome.player_id`.
   */
  host: string;
  phase: Phase;
  settings: RoomSettings;
  players: PlayerInfo[];
  spectators: SpectatorInfo[];
  /**
   * The round being played (`round`) or whose results show (`round_results`); else null.
   */
  round: RoundInfo | null;
  rounds_total: number;
  /**
   * Games started in this room: 0 in the first lobby, +1 per game.
   */
  game: number;
  /**
   * In `round_results`: when the next round (or `game_over`) comes; else null.
   */
  next_at: number | null;
  /**
   * In `round_results`: the results of the round just played, as `round_ended` had them; else null.
   */
  results: RoundResult[] | null;
  you: You;
  /**
   * The current round's drawing so far (everyone's, or only yours when drawings are hidden).
   */
  strokes: SnapshotStroke[];
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  server_time: number;
}
/**
 * A room's settings, every one resolved (`words` is never empty).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoomSettings".
 */
export interface RoomSettings {
  /**
   * Rounds per game, at most the number of words.
   */
  rounds: number;
  /**
   * Seconds to draw.
   */
  round_seconds: number;
  /**
   * Player seats (spectators do not count).
   */
  max_players: number;
  /**
   * The words to draw; each one the model knows (`unknown_word`). Empty or absent: every word.
   */
  words: string[];
  /**
   * A word pack's name from `list_packs`: the room plays its words (not with `words`).
   */
  pack: string;
  /**
   * Whether players see each other's strokes (spectators always do).
   */
  show_drawings: boolean;
  /**
   * Keep consented players' drawings (docs/privacy.md).
   */
  archive: boolean;
  /**
   * Pause on a round's results before the next round.
   */
  results_seconds: number;
  /**
   * Spectator seats.
   */
  max_spectators: number;
}
/**
 * A player in a room snapshot.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PlayerInfo".
 */
export interface PlayerInfo {
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  name: string;
  score: number;
  /**
   * False while their seat is held for a resume.
   */
  connected: boolean;
}
/**
 * A spectator in a room snapshot.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "SpectatorInfo".
 */
export interface SpectatorInfo {
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  name: string;
  connected: boolean;
}
/**
 * The round being played, or whose results are shown.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoundInfo".
 */
export interface RoundInfo {
  /**
   * 1-based within the game.
   */
  round: number;
  word: string;
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  started_at: number;
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  ends_at: number;
  duration_ms: number;
  /**
   * The players drawing this round, in join order.
   *
   * Items: A player's id, as in `welcome.player_id`.
   */
  drawers: string[];
  recognized: RecognitionInfo[];
}
/**
 * A drawer the model recognized this round: rank 1 was first.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RecognitionInfo".
 */
export interface RecognitionInfo {
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  rank: number;
  elapsed_ms: number;
  points: number;
}
/**
 * How one drawer did in a round; `rank` and `elapsed_ms` are null if not recognized.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoundResult".
 */
export interface RoundResult {
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  recognized: boolean;
  rank: number | null;
  elapsed_ms: number | null;
  points: number;
}
/**
 * Who the snapshot's receiver is in the room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "You".
 */
export interface You {
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  role: Role;
}
/**
 * One accepted batch of a drawing, as a `room` snapshot replays it.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "SnapshotStroke".
 */
export interface SnapshotStroke {
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  stroke: number;
  points: Point[];
  end: boolean;
  canvas: Canvas | null;
}
/**
 * A refused message; the connection stays open unless a close code follows.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ErrorMessage".
 */
export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  /**
   * For people; programs switch on `code`.
   */
  message: string;
  /**
   * The `id` of the request this answers, always as a string.
   */
  ref?: string;
}
/**
 * The answer to `ping`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PongMessage".
 */
export interface PongMessage {
  type: "pong";
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  server_time: number;
  /**
   * The `id` of the request this answers, always as a string.
   */
  ref?: string;
}
/**
 * The answer to `list_packs`: every word pack this server offers.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PacksMessage".
 */
export interface PacksMessage {
  type: "packs";
  /**
   * The pack a room plays when `create_room` names none.
   */
  default: string | null;
  packs: PackInfo[];
  /**
   * The `id` of the request this answers, always as a string.
   */
  ref?: string;
}
/**
 * A word pack: a theme's words the model recognizes well enough to play.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PackInfo".
 */
export interface PackInfo {
  /**
   * What `create_room`'s `pack` setting takes.
   */
  name: string;
  title: string;
  words: PackWord[];
  /**
   * Words of the theme left out: recognized too rarely or too slowly.
   */
  left_out: string[];
}
/**
 * One word of a pack, with its measured difficulty.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PackWord".
 */
export interface PackWord {
  word: string;
  difficulty: Difficulty;
}
/**
 * The model's top guesses for a drawing: a drawer's own (and spectators'), or a practice answer.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "GuessMessage".
 */
export interface GuessMessage {
  type: "guess";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  guesses: Guess[];
  /**
   * Absent in practice mode.
   */
  round?: number;
  /**
   * The `id` of the request this answers, always as a string.
   */
  ref?: string;
}
/**
 * One of the model's top guesses.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "Guess".
 */
export interface Guess {
  word: string;
  /**
   * The model's probability.
   */
  score: number;
}
/**
 * Another player's stroke batch, relayed as it arrives.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "StrokeRelayMessage".
 */
export interface StrokeRelayMessage {
  type: "stroke";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  game: number;
  round: number;
  stroke: number;
  points: Point[];
  end: boolean;
  canvas?: Canvas;
}
/**
 * Other players' stroke batches, grouped (to clients that sent `group_strokes` in `hello`).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "StrokesMessage".
 */
export interface StrokesMessage {
  type: "strokes";
  /**
   * `stroke` messages, oldest first: handle each as if it came alone.
   *
   * @minItems 1
   */
  items: [StrokeRelayMessage, ...StrokeRelayMessage[]];
}
/**
 * Someone joined the room.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PlayerJoinedMessage".
 */
export interface PlayerJoinedMessage {
  type: "player_joined";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  name: string;
  role: Role;
}
/**
 * Someone left the room for good.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PlayerLeftMessage".
 */
export interface PlayerLeftMessage {
  type: "player_left";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  reason: LeaveReason;
}
/**
 * Someone's connection dropped; their seat is held for 30 s.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PlayerDisconnectedMessage".
 */
export interface PlayerDisconnectedMessage {
  type: "player_disconnected";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
}
/**
 * Someone resumed their held seat.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "PlayerReconnectedMessage".
 */
export interface PlayerReconnectedMessage {
  type: "player_reconnected";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
}
/**
 * The host left; the longest-present connected player is host now.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "HostChangedMessage".
 */
export interface HostChangedMessage {
  type: "host_changed";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  host: string;
}
/**
 * The host changed the settings.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "SettingsChangedMessage".
 */
export interface SettingsChangedMessage {
  type: "settings_changed";
  settings: RoomSettings;
}
/**
 * A game starts; `round_started` follows.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "GameStartedMessage".
 */
export interface GameStartedMessage {
  type: "game_started";
  rounds: number;
  /**
   * Counts games in this room, +1 per rematch.
   */
  game: number;
}
/**
 * A round starts: draw `word` until `ends_at`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoundStartedMessage".
 */
export interface RoundStartedMessage {
  type: "round_started";
  game: number;
  round: number;
  word: string;
  duration_ms: number;
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  started_at: number;
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  ends_at: number;
  /**
   * Items: A player's id, as in `welcome.player_id`.
   */
  drawers: string[];
}
/**
 * The model recognized a drawer's doodle; `score` is their new total.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RecognizedMessage".
 */
export interface RecognizedMessage {
  type: "recognized";
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  word: string;
  rank: number;
  elapsed_ms: number;
  points: number;
  score: number;
}
/**
 * A round is over; its results show until `next_at`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoundEndedMessage".
 */
export interface RoundEndedMessage {
  type: "round_ended";
  round: number;
  word: string;
  results: RoundResult[];
  scores: ScoreLine[];
  /**
   * Milliseconds since the Unix epoch, by the server's clock.
   */
  next_at: number;
}
/**
 * One line of a scoreboard, highest score first.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ScoreLine".
 */
export interface ScoreLine {
  /**
   * A player's id, as in `welcome.player_id`.
   */
  player_id: string;
  name: string;
  score: number;
}
/**
 * The game is over: final scores.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "GameOverMessage".
 */
export interface GameOverMessage {
  type: "game_over";
  scores: ScoreLine[];
}
/**
 * A rematch: everyone is in the lobby again, scores at 0.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "BackToLobbyMessage".
 */
export interface BackToLobbyMessage {
  type: "back_to_lobby";
}
/**
 * The last player left: the room is gone.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "RoomClosedMessage".
 */
export interface RoomClosedMessage {
  type: "room_closed";
}
/**
 * You are out of the room (by `leave_room`, a kick, or an expired seat).
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "LeftRoomMessage".
 */
export interface LeftRoomMessage {
  type: "left_room";
  code: string;
  reason: LeaveReason;
}
/**
 * The answer to `forget_me`.
 *
 * This interface was referenced by `Protocol`'s JSON-Schema
 * via the `definition` "ForgottenMessage".
 */
export interface ForgottenMessage {
  type: "forgotten";
  drawings_removed: number;
  /**
   * The `id` of the request this answers, always as a string.
   */
  ref?: string;
}

/** The protocol version this file was generated for (`welcome.protocol`). */
export const PROTOCOL_VERSION = 1 as const;

/** Every `error.code`, with what it means. Programs switch on the code. */
export const ERROR_CODES: Readonly<Record<ErrorCode, string>> = Object.freeze({
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
} as const);

/** What each close code means and what a client should do. */
export const CLOSE_CODE_ADVICE: Readonly<Record<CloseCode, string>> = Object.freeze({
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
} as const);

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
} as const);

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
} as const);

/** The error codes each client message can get, besides bad_message, rate_limited, hello_first and conflict. */
export const ERRORS_BY_MESSAGE: Readonly<Record<ClientMessage["type"], readonly ErrorCode[]>> = Object.freeze({
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
} as const);

/** Every server message type. */
export const SERVER_MESSAGE_TYPES: readonly ServerMessage["type"][] = Object.freeze([
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

/** A server message by its `type`. */
export type ServerMessageOf<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;
/** A client message by its `type`. */
export type ClientMessageOf<T extends ClientMessage["type"]> = Extract<ClientMessage, { type: T }>;
