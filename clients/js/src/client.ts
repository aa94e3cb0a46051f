// One game connection that outlives its sockets: hello (resuming with the stored token), typed events
// for every server message, the server clock offset, keep-alive pings, and reconnecting after drops
// with short delays while the server holds the seat (30 s), so a restart of the server does not cost it.
//
// No DOM and no Node APIs: it needs a WebSocket class (the global one in browsers, React Native and
// Node >= 22; pass `WebSocket` from the `ws` package on older Node).

import { decodeMsgpack, encodeMsgpack } from "./msgpack.js";
import { clockOffset, hello, ping } from "./messages.js";
import type {
  Canvas,
  ClientMessage,
  ErrorCode,
  ErrorMessage,
  MessageId,
  PongMessage,
  ServerMessage,
  ServerMessageOf,
  WelcomeMessage,
} from "./protocol.js";
import { CLOSE_CODES, CONNECTION_LIMITS, REPLIES } from "./protocol.js";

/** Where the resume token lives between sockets (and page loads, if the store persists it). */
export interface TokenStore {
  get(): string | null;
  set(token: string | null): void;
}

/** A token kept in memory only: it survives reconnects, not a restart of the program. */
export function memoryTokenStore(initial: string | null = null): TokenStore {
  let token = initial;
  return { get: () => token, set: (value) => void (token = value) };
}

/** A token kept in a Web Storage (`sessionStorage`: one identity per tab; `localStorage`: per browser). */
export function storageTokenStore(
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void },
  key = "doodle-party.token",
): TokenStore {
  return {
    get: () => storage.getItem(key),
    set: (value) => (value ? storage.setItem(key, value) : storage.removeItem(key)),
  };
}

/** The part of the standard WebSocket this client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;
const CONNECTING = 0;
/** The close code reported when the client gave up on a silent socket itself (no pong or welcome in time). */
export const NO_PONG_CLOSE_CODE = 4999;

/** How long to wait before reconnect attempt `attempt` (1, 2, ...). */
export interface Backoff {
  /** The first delay; each attempt doubles it. */
  firstDelayMs: number;
  /** The longest delay while the seat is held: short, so the seat is taken back soon after a restart. */
  seatDelayMaxMs: number;
  /** The longest delay after the seat hold is over. */
  laterDelayMaxMs: number;
  /** How long the server holds a seat after a drop. */
  seatWindowMs: number;
}

export const DEFAULT_BACKOFF: Backoff = Object.freeze({
  firstDelayMs: 250,
  seatDelayMaxMs: 2_000,
  laterDelayMaxMs: 15_000,
  seatWindowMs: CONNECTION_LIMITS.seat_held_ms,
});

/**
 * The delay before reconnect attempt `attempt`, `sinceDropMs` after the connection dropped: doubling
 * from `firstDelayMs`, capped at `seatDelayMaxMs` inside the seat window and `laterDelayMaxMs` after it,
 * times a jitter of 0.75..1.25 (`random()` in 0..1) so a restarted server is not hit by everyone at once.
 */
export function backoffDelay(attempt: number, sinceDropMs: number, backoff: Backoff = DEFAULT_BACKOFF, random = Math.random): number {
  const cap = sinceDropMs < backoff.seatWindowMs ? backoff.seatDelayMaxMs : backoff.laterDelayMaxMs;
  const base = Math.min(cap, backoff.firstDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}

export type Status =
  | { state: "connecting"; attempt: number }
  | { state: "online"; welcome: WelcomeMessage }
  | { state: "retrying"; delayMs: number; attempt: number; closeCode: number | null; reason: string }
  | { state: "stopped"; closeCode: number | null; reason: string };

/** Events: every server message by its `type`, plus `message` (any of them) and `status`. */
export type ClientEvents = { [K in ServerMessage["type"]]: ServerMessageOf<K> } & {
  message: ServerMessage;
  status: Status;
};

export interface ClientOptions {
  /** ws:// or wss:// URL of the game server, e.g. "ws://192.168.1.20:8765/". */
  url: string;
  /** The display name `hello` sends (1-24 characters); may also be given to `connect()`. */
  name?: string;
  /** Your drawing surface `[width, height]`, in the units of your stroke points. */
  canvas?: Canvas;
  /** "json" (text frames, the default) or "msgpack" (binary frames). */
  encoding?: "json" | "msgpack";
  /** Where the resume token is kept; in memory by default. */
  tokenStore?: TokenStore;
  /** Let rooms that archive drawings keep yours (docs/privacy.md). */
  consentArchive?: boolean;
  /** The WebSocket class; `globalThis.WebSocket` by default. */
  WebSocket?: WebSocketConstructor;
  /** How often to send `ping` (clock offset, dead-network detection); 0 turns pings off. */
  pingIntervalMs?: number;
  /** A socket with a ping unanswered this long is treated as dropped. */
  pongTimeoutMs?: number;
  /** A socket without a welcome this long after it was opened is given up and retried. */
  connectTimeoutMs?: number;
  backoff?: Partial<Backoff>;
  /** Jitter source, 0..1 (tests pass a fixed one). */
  random?: () => number;
}

/** An `error` answer to a request, as a rejection of `request()`. */
export class DoodlePartyError extends Error {
  readonly code: ErrorCode;
  readonly ref: string | undefined;

  constructor(error: ErrorMessage) {
    super(error.message);
    this.name = "DoodlePartyError";
    this.code = error.code;
    this.ref = error.ref;
  }
}

type Reply<K> = K extends keyof typeof REPLIES ? ServerMessageOf<(typeof REPLIES)[K]> : never;
type Handler<T> = (value: T) => void;

interface Pending {
  id: string;
  answer: string;
  resolve: (message: ServerMessage) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class DoodlePartyClient {
  readonly url: string;
  readonly encoding: "json" | "msgpack";
  name: string | null;
  canvas: Canvas | undefined;
  consentArchive: boolean;
  /** The server clock minus ours, in ms: `Date.now() + offsetMs` is the server's time. */
  offsetMs = 0;
  /** This identity's player id, from the last `welcome`. */
  playerId: string | null = null;
  /** Whether a socket should be open (false after `disconnect()` or a stop). */
  wanted = false;
  /** Whether the current socket has had its `welcome`. */
  ready = false;

  private readonly tokens: TokenStore;
  private readonly WebSocketClass: WebSocketConstructor;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly handlers = new Map<string, Set<Handler<never>>>();
  private socket: WebSocketLike | null = null;
  private queue: ClientMessage[] = [];
  private attempt = 0;
  private droppedAt: number | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pingsSent = new Map<string, number>();
  private pingCounter = 0;
  private bestRoundTripMs = Infinity;
  private requestCounter = 0;
  private pending = new Map<string, Pending>();

  constructor(options: ClientOptions) {
    this.url = options.url;
    this.name = options.name ?? null;
    this.canvas = options.canvas;
    this.encoding = options.encoding ?? "json";
    this.consentArchive = options.consentArchive ?? false;
    this.tokens = options.tokenStore ?? memoryTokenStore();
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketClass) throw new TypeError("no WebSocket class: pass options.WebSocket (e.g. from the ws package)");
    this.WebSocketClass = WebSocketClass;
    this.pingIntervalMs = options.pingIntervalMs ?? 10_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 8_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
  }

  /** The resume token of this identity (a secret), or null before the first welcome. */
  get token(): string | null {
    return this.tokens.get();
  }

  get hasToken(): boolean {
    return Boolean(this.tokens.get());
  }

  /** Subscribe to an event; returns the function that unsubscribes. */
  on<K extends keyof ClientEvents>(event: K, handler: Handler<ClientEvents[K]>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as Handler<never>);
    return () => this.off(event, handler);
  }

  off<K extends keyof ClientEvents>(event: K, handler: Handler<ClientEvents[K]>): void {
    this.handlers.get(event)?.delete(handler as Handler<never>);
  }

  /** Resolves with the next event of this kind (e.g. `await client.next("round_started")`). */
  next<K extends keyof ClientEvents>(event: K, timeoutMs = 30_000): Promise<ClientEvents[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (off(), reject(new Error(`no ${event} within ${timeoutMs} ms`))), timeoutMs);
      const off = this.on(event, (value) => {
        clearTimeout(timer);
        off();
        resolve(value);
      });
    });
  }

  /** Open a socket as `name` (resuming the stored identity when there is a token). */
  connect(name?: string): void {
    if (name !== undefined) this.name = name;
    if (!this.name) throw new TypeError("a name is needed to say hello");
    this.wanted = true;
    this.attempt = 0;
    this.droppedAt = null;
    this.open();
  }

  /** Connect again under a new name, as a new identity (only sensible outside a room). */
  rename(name: string): void {
    this.tokens.set(null);
    this.dropSocket();
    this.connect(name);
  }

  /** Send now, or once the (re)connected socket has its welcome. Returns whether it went out now. */
  send(message: ClientMessage): boolean {
    if (this.sendNow(message)) return true;
    this.queue.push(message);
    return false;
  }

  /** Send only if connected right now; false otherwise (nothing is queued). */
  sendNow(message: ClientMessage): boolean {
    if (!this.ready || !this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(this.encoding === "json" ? JSON.stringify(message) : encodeMsgpack(message));
    return true;
  }

  /**
   * Send a message that has an answer and wait for it: `room` for create_room/join_room, `welcome`,
   * `left_room`, `guess` (recognize), `forgotten`, `pong`. Rejects with DoodlePartyError when the
   * server answers with an `error` for it, or with an Error after `timeoutMs`.
   */
  request<M extends ClientMessage & { type: keyof typeof REPLIES }>(message: M, timeoutMs = 10_000): Promise<Reply<M["type"]>> {
    this.requestCounter += 1;
    const id = message.id !== undefined ? String(message.id) : `${message.type}-${this.requestCounter}`;
    const answer = REPLIES[message.type];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no ${answer} for ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { id, answer, resolve: resolve as (m: ServerMessage) => void, reject, timer });
      this.send({ ...message, id } as ClientMessage);
    });
  }

  /** The server's time now, by our clock plus the measured offset. */
  serverNow(): number {
    return Date.now() + this.offsetMs;
  }

  /** Reconnect at once (the network came back, or the person pressed "retry"). */
  retryNow(): void {
    if (!this.wanted || this.ready) return;
    this.attempt = 0;
    this.open();
  }

  /** Connect again after a stop (e.g. close 4000: "play here instead"). */
  reclaim(): void {
    this.wanted = true;
    this.attempt = 0;
    this.droppedAt = null;
    this.open();
  }

  /**
   * Close for good. A close alone keeps a room seat for 30 s; `leave` gives it up first. `forget`
   * drops the resume token (the identity is gone for this client).
   */
  disconnect({ leave = false, forget = false }: { leave?: boolean; forget?: boolean } = {}): void {
    if (leave) this.sendNow({ type: "leave_room" });
    this.wanted = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.queue = [];
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error("disconnected"));
    }
    this.pending.clear();
    this.dropSocket();
    if (forget) this.tokens.set(null);
  }

  // ------------------------------------------------------------------------------------------------

  private emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) (handler as Handler<ClientEvents[K]>)(value);
  }

  private open(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.dropSocket();
    this.emit("status", { state: "connecting", attempt: this.attempt });
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketClass(this.url);
    } catch {
      this.scheduleRetry(null, "cannot open a socket");
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    // A server that is shutting down (or a captive network) may accept the TCP connection and never
    // finish the handshake, and no close event comes: give up on the socket after a while.
    this.connectTimer = setTimeout(() => {
      if (this.socket !== socket || this.ready) return;
      this.dropSocket();
      this.closed(socket, NO_PONG_CLOSE_CODE, "no welcome in time", true);
    }, this.connectTimeoutMs);
    socket.onopen = () => this.sayHello(true);
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onclose = (event) => this.closed(socket, event.code, event.reason);
    socket.onerror = () => {}; // onclose follows with the code
  }

  private sayHello(withToken: boolean): void {
    const resume = withToken ? this.tokens.get() : null;
    // Strokes grouped: fewer frames to decode; `receive` hands them on one `stroke` event each.
    const message = hello(this.name ?? "", {
      canvas: this.canvas,
      resume,
      consentArchive: this.consentArchive,
      groupStrokes: true,
    });
    this.socket?.send(this.encoding === "json" ? JSON.stringify(message) : encodeMsgpack(message));
  }

  private decode(frame: unknown): ServerMessage | null {
    let value: unknown;
    try {
      if (typeof frame === "string") value = JSON.parse(frame);
      else if (frame instanceof ArrayBuffer) value = decodeMsgpack(new Uint8Array(frame));
      else if (ArrayBuffer.isView(frame)) value = decodeMsgpack(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength));
      else return null;
    } catch {
      return null;
    }
    if (value === null || typeof value !== "object" || typeof (value as { type?: unknown }).type !== "string") return null;
    return value as ServerMessage;
  }

  private receive(socket: WebSocketLike, frame: unknown): void {
    if (socket !== this.socket) return;
    const message = this.decode(frame);
    if (message === null) return;
    if (message.type === "strokes") {
      for (const relay of message.items) this.handle(relay);
    } else {
      this.handle(message);
    }
  }

  private handle(message: ServerMessage): void {
    switch (message.type) {
      case "welcome":
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.ready = true;
        this.attempt = 0;
        this.droppedAt = null;
        this.playerId = message.player_id;
        this.tokens.set(message.token);
        this.bestRoundTripMs = Infinity;
        this.offsetMs = clockOffset(message.server_time, Date.now());
        this.startPings();
        this.emit("status", { state: "online", welcome: message });
        break;
      case "error":
        if (message.code === "invalid_token" && !this.ready) {
          // The token is unknown or expired: keep the socket, say hello as a new identity.
          this.tokens.set(null);
          this.sayHello(false);
        }
        break;
      case "pong":
        if (this.pong(message)) return; // our own keep-alive ping: not an event
        break;
    }
    this.settle(message);
    this.emit(message.type, message as never);
    this.emit("message", message);
    if (message.type === "welcome") {
      const queued = this.queue;
      this.queue = [];
      for (const item of queued) this.send(item);
    }
  }

  private settle(message: ServerMessage): void {
    const ref = "ref" in message ? message.ref : undefined;
    if (ref !== undefined) {
      const pending = this.pending.get(ref);
      if (!pending) return;
      this.pending.delete(ref);
      clearTimeout(pending.timer);
      if (message.type === "error") pending.reject(new DoodlePartyError(message));
      else pending.resolve(message);
      return;
    }
    // Answers without a ref (room, welcome, left_room) settle the oldest request waiting for that type.
    for (const pending of this.pending.values()) {
      if (pending.answer === message.type) {
        this.pending.delete(pending.id);
        clearTimeout(pending.timer);
        pending.resolve(message);
        return;
      }
    }
  }

  private startPings(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingsSent.clear();
    if (this.pingIntervalMs <= 0) return;
    this.sendPing();
    this.pingTimer = setInterval(() => this.sendPing(), this.pingIntervalMs);
  }

  private sendPing(): void {
    const now = Date.now();
    for (const sentAt of this.pingsSent.values()) {
      if (now - sentAt > this.pongTimeoutMs) {
        // A silent socket: the network is gone even if the socket has not noticed. Treat it as dropped.
        const socket = this.socket;
        this.dropSocket();
        if (socket) this.closed(socket, NO_PONG_CLOSE_CODE, "no pong", true);
        return;
      }
    }
    this.pingCounter += 1;
    const id: MessageId = `keepalive-${this.pingCounter}`;
    this.pingsSent.set(id, now);
    this.sendNow(ping(id));
  }

  /** Take a pong of ours into the clock offset; false if it answers someone else's ping. */
  private pong(message: PongMessage): boolean {
    const sentAt = message.ref === undefined ? undefined : this.pingsSent.get(message.ref);
    if (sentAt === undefined || message.ref === undefined) return false;
    this.pingsSent.delete(message.ref);
    const now = Date.now();
    const roundTrip = now - sentAt;
    // The fastest round trip gives the tightest estimate of when the server stamped its time.
    if (roundTrip <= this.bestRoundTripMs) {
      this.bestRoundTripMs = roundTrip;
      this.offsetMs = clockOffset(message.server_time, now, roundTrip);
    }
    return true;
  }

  private closed(socket: WebSocketLike, code: number, reason: string, forced = false): void {
    if (socket !== this.socket && !forced) return;
    this.ready = false;
    this.socket = null;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (!this.wanted) return;
    if (
      code === CLOSE_CODES.SESSION_REPLACED ||
      code === CLOSE_CODES.INVALID_DATA ||
      code === CLOSE_CODES.POLICY_VIOLATION ||
      code === CLOSE_CODES.MESSAGE_TOO_BIG
    ) {
      // Reconnecting would not help (4000: another socket took over; 1007/1008/1009: this client's fault).
      this.wanted = false;
      this.emit("status", { state: "stopped", closeCode: code, reason });
      return;
    }
    this.scheduleRetry(code, reason);
  }

  private scheduleRetry(code: number | null, reason: string): void {
    const now = Date.now();
    this.droppedAt ??= now;
    this.attempt += 1;
    const delayMs = backoffDelay(this.attempt, now - this.droppedAt, this.backoff, this.random);
    this.emit("status", { state: "retrying", delayMs, attempt: this.attempt, closeCode: code, reason });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    if (socket.readyState === OPEN || socket.readyState === CONNECTING) socket.close(1000);
  }
}
