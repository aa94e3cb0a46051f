// One game connection that outlives its sockets: hello (with the resume token when we have one),
// the server clock offset, keep-alive pings, and reconnecting with exponential backoff (capped at
// 3 s, see BACKOFF_MAX_MS) after a dropped network or a server restart.
//
// The resume token lives in sessionStorage: it survives a reload of this tab, and two tabs of one
// browser stay two players (one shared token would make them push each other off with close 4000).

import * as protocol from "./protocol.js";

const TOKEN_KEY = "doodle-party.token";
const BACKOFF_FIRST_MS = 500;
// The server holds a dropped player's seat for 30 s (protocol.md, "Seats"); the window starts when a
// server is up to take the resume. Retry at least every 3 s (jitter included, under 4 s), so a
// player is back within a few seconds of the server, long before the window closes.
const BACKOFF_MAX_MS = 3_000;
const PING_EVERY_MS = 10_000;
// No pong this long after a ping: the network is gone even if the socket has not noticed.
const PONG_TIMEOUT_MS = 8_000;

/**
 * Status callbacks receive one of:
 *   {state: "connecting"}
 *   {state: "online", welcome}                            after each welcome
 *   {state: "retrying", delayMs, attempt, closeCode}      the socket dropped; trying again
 *   {state: "stopped", closeCode, reason}                 not reconnecting (4000, 1008, 1009, leave)
 */
export class GameConnection {
  constructor({ url, canvas, onMessage, onStatus, storage = window.sessionStorage }) {
    this.url = url;
    this.canvas = canvas;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.storage = storage;
    this.socket = null;
    this.name = null;
    this.ready = false; // welcome received on the current socket
    this.queue = []; // messages waiting for welcome
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pingSent = new Map(); // ping id -> sent at (Date.now())
    this.pingCounter = 0;
    this.offsetMs = 0;
    this.bestRoundTripMs = Infinity;
    this.playerId = null;
    this.wanted = false; // should a socket be open?
    window.addEventListener("online", () => this.retryNow());
  }

  get token() {
    return this.storage.getItem(TOKEN_KEY);
  }

  set token(value) {
    if (value) this.storage.setItem(TOKEN_KEY, value);
    else this.storage.removeItem(TOKEN_KEY);
  }

  get hasToken() {
    return Boolean(this.token);
  }

  /** Open a socket as `name` (resuming our identity when a token is stored). */
  connect(name) {
    this.name = name;
    this.wanted = true;
    this.attempt = 0;
    this.open();
  }

  /** Connect fresh with a new name: a new identity (only outside a room). */
  rename(name) {
    this.token = null;
    this.dropSocket();
    this.connect(name);
  }

  /** Send now, or after welcome when the socket is (re)connecting. */
  send(message) {
    if (this.ready && this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(protocol.encode(message));
      return true;
    }
    this.queue.push(message);
    return false;
  }

  /** Send only if connected right now (strokes: stale ones are worthless after a reconnect). */
  sendNow(message) {
    if (!this.ready || !this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(protocol.encode(message));
    return true;
  }

  /** Server time now, by our clock plus the measured offset. */
  serverNow() {
    return Date.now() + this.offsetMs;
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.dropSocket();
    this.onStatus({ state: "connecting" });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.scheduleRetry(null);
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.sendHello(true);
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onclose = (event) => this.closed(socket, event.code, event.reason);
    socket.onerror = () => {}; // onclose follows with the code
  }

  sendHello(withToken) {
    const resume = withToken ? this.token : null;
    const message = protocol.hello(this.name, { canvas: this.canvas, resume: resume || undefined });
    this.helloSentAt = Date.now();
    this.socket.send(protocol.encode(message));
  }

  receive(socket, frame) {
    if (socket !== this.socket) return;
    const message = protocol.decode(frame);
    if (message === null) return;
    if (message.type === "welcome") {
      this.ready = true;
      this.attempt = 0;
      this.playerId = message.player_id;
      this.token = message.token;
      this.bestRoundTripMs = Infinity;
      this.offsetMs = protocol.clockOffset(message.server_time, Date.now());
      this.startPings();
      this.onStatus({ state: "online", welcome: message });
      this.onMessage(message);
      const queued = this.queue;
      this.queue = [];
      for (const item of queued) this.send(item);
      return;
    }
    if (message.type === "error" && message.code === "invalid_token" && !this.ready) {
      // Our token is unknown or expired: keep the socket, say hello as a new identity.
      this.token = null;
      this.sendHello(false);
      this.onMessage(message);
      return;
    }
    if (message.type === "pong") {
      this.pong(message);
      return;
    }
    this.onMessage(message);
  }

  startPings() {
    clearInterval(this.pingTimer);
    this.pingSent.clear();
    this.ping();
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
  }

  ping() {
    const now = Date.now();
    for (const sentAt of this.pingSent.values()) {
      if (now - sentAt > PONG_TIMEOUT_MS) {
        // A silent socket: treat it as dropped and reconnect.
        const socket = this.socket;
        this.dropSocket();
        this.closed(socket, 4999, "no pong", true);
        return;
      }
    }
    this.pingCounter += 1;
    const id = this.pingCounter;
    this.pingSent.set(id, now);
    this.sendNow(protocol.ping(id));
  }

  pong(message) {
    const id = Number(message.ref);
    const sentAt = this.pingSent.get(id);
    if (sentAt === undefined) return;
    this.pingSent.delete(id);
    const now = Date.now();
    const roundTrip = now - sentAt;
    // The fastest round trip gives the tightest estimate of when the server stamped its time.
    if (roundTrip <= this.bestRoundTripMs) {
      this.bestRoundTripMs = roundTrip;
      this.offsetMs = protocol.clockOffset(message.server_time, now, roundTrip);
    }
  }

  closed(socket, code, reason, forced = false) {
    if (socket !== this.socket && !forced) return;
    this.ready = false;
    this.socket = null;
    clearInterval(this.pingTimer);
    if (!this.wanted) return;
    const C = protocol.CLOSE_CODES;
    if (code === C.SESSION_REPLACED || code === C.POLICY_VIOLATION || code === C.MESSAGE_TOO_BIG) {
      this.wanted = false;
      this.onStatus({ state: "stopped", closeCode: code, reason });
      return;
    }
    this.scheduleRetry(code);
  }

  scheduleRetry(code) {
    this.attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.attempt - 1));
    const delayMs = Math.round(base * (0.75 + Math.random() * 0.5)); // jitter: no thundering herd
    this.retryAt = Date.now() + delayMs;
    this.onStatus({ state: "retrying", delayMs, attempt: this.attempt, closeCode: code });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  /** Try at once (the browser came back online, or the person pressed "retry"). */
  retryNow() {
    if (!this.wanted || this.ready) return;
    this.attempt = 0;
    this.open();
  }

  /** Reconnect after a stop (e.g. 4000: "play here instead"). */
  reclaim() {
    this.wanted = true;
    this.attempt = 0;
    this.open();
  }

  dropSocket() {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
        socket.close(1000);
      }
    }
  }

  /** Close for good (forget the identity with `forget`). */
  disconnect({ forget = false } = {}) {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.queue = [];
    this.dropSocket();
    if (forget) this.token = null;
  }
}
