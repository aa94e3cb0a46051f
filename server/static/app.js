// The reference web client: home (create, join, watch, practice), a room as a player or host
// (lobby, round, results, game over), the spectator TV screen and practice mode.
//
// State flows one way: server messages update `app.room`, then `render()` redraws the visible view
// from it. The `room` snapshot is the whole truth, so every (re)connection starts from one. Names and
// words are user content and only ever reach the page through textContent.

// The protocol layer is the doodle-party-client package (clients/js), served as built ES modules.
import * as protocol from "./client/index.js";
import { DoodlePartyClient, storageTokenStore } from "./client/index.js";
import { Drawing, DrawingPad, DrawingView, SPACE, StrokeStreamer, fitDrawing } from "./draw.js";
import { bestGrid } from "./layout.js";
import { renderWordPacks, roomPack, sortedWords } from "./words.js";

const NAME_KEY = "doodle-party.name"; // localStorage: remembered across visits
const ROOM_KEY = "doodle-party.room"; // sessionStorage: the room this tab was in
const RESUME_WAIT_MS = 1500; // after a resumed welcome, how long a seat's snapshot may take
const PRACTICE_EVERY_MS = 400; // live guesses while drawing, at most this often
const FRAME_BUDGET = protocol.LIMITS.maxFrameBytes - 2048; // JSON is ASCII here: length = bytes
// TV cards: below this drawing size (in rem) a card shows one line of guesses instead of three, and
// below TV_SIDEBAR_MIN_REM the scoreboard makes way for the drawings (each card shows its score).
const TV_ROOMY_MIN_REM = 11;
const TV_SIDEBAR_MIN_REM = 9;
// A name on a TV card shrinks to fit its card, down to this size (CSS px), before it is cut short.
const TV_NAME_MIN_PX = 14;

// What a person reads for each error code; the protocol module keeps the codes' meanings.
const ERROR_TEXT = {
  bad_message: "The server did not understand a message from this page.",
  unknown_type: "The server does not know that request.",
  out_of_canvas: "Part of your drawing fell outside the canvas.",
  hello_first: "The connection was not ready yet; try again.",
  invalid_token: "Your previous session expired, so you are starting fresh.",
  rate_limited: "Slow down a little: too many requests. Wait a moment and try again.",
  already_in_room: "You are already in a room. Leave it first.",
  room_not_found: "There is no room with that code. Check the code; the room may have ended.",
  invalid_room_code: "That is not a room code: check it against the code on the host's screen.",
  room_full: "That room is full.",
  kicked: "The host removed you from that room, so you cannot join it again.",
  not_in_room: "You are not in a room (or that player already left).",
  not_host: "Only the host can do that.",
  wrong_phase: "That is not possible right now.",
  not_your_turn: "That stroke was for another round.",
  not_a_player: "You joined during a round: you draw from the next round on.",
  round_over: "Time is up for this round.",
  already_recognized: "You were already recognized.",
  invalid_settings: "Those settings are not allowed.",
  unknown_word: "The model does not know one of those words.",
  drawing_too_large: "Your drawing is too big for this round.",
  conflict: "The room was busy; please try again.",
};

// Stroke errors the server sends about batches that were in flight at the deadline: nothing to tell.
const QUIET_STROKE_ERRORS = new Set(["round_over", "not_your_turn", "wrong_phase", "already_recognized"]);

const $ = (selector) => document.querySelector(selector);

/** Build an element: h("li", {class: "x", onclick: fn}, "text", child). Strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const ordinal = (n) => {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th";
  return `${n}${suffix}`;
};
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const clock = (ms) => {
  const total = Math.ceil(ms / 1000);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
};
const percent = (score) => `${Math.round(score * 100)}%`;
/** "CDF4HJ" -> "CDF-4HJ": easier to read aloud across a room; join_room ignores the dash. */
const displayCode = (code) => (code.length >= 6 && code.length % 2 === 0 ? `${code.slice(0, code.length / 2)}-${code.slice(code.length / 2)}` : code);

// ------------------------------------------------------------------------------------------------
// State

const app = {
  view: "home",
  name: "",
  playerId: null,
  room: null, // see roomFromSnapshot
  knownWords: [],
  packs: null, // the server's `packs` answer: named word lists and their difficulty
  pending: null, // what to do once welcome arrives: () => void
  resumeTimer: null,
  requestCounter: 0,
  requests: new Map(), // message id -> what it was for ("join", "create", ...)
  practice: { strokes: [], lastSent: 0, timer: null, latestRef: null, started: 0 },
};

const params = new URLSearchParams(location.search);
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;

// The resume token lives in sessionStorage: it survives a reload of this tab, and two tabs of one
// browser stay two players (one shared token would make them push each other off with close 4000).
const connection = new DoodlePartyClient({
  url: wsUrl,
  canvas: [SPACE, SPACE],
  tokenStore: storageTokenStore(window.sessionStorage),
  // The seat window may start only when a server is back to take the resume (a killed gateway's
  // members are marked disconnected by whoever sweeps them), so a page keeps trying at least every
  // 3 s after the first 30 s too: a player is back within seconds of the server.
  backoff: { laterDelayMaxMs: 3_000 },
});
connection.on("message", (message) => handle(message));
connection.on("status", (status) => connectionStatus(status));
window.addEventListener("online", () => connection.retryNow());

function request(kind, build) {
  app.requestCounter += 1;
  const id = `${kind}-${app.requestCounter}`;
  app.requests.set(id, kind);
  connection.send(build(id));
  return id;
}

// ------------------------------------------------------------------------------------------------
// The room model

function roomFromSnapshot(message) {
  const room = {
    code: message.code,
    host: message.host,
    phase: message.phase,
    settings: message.settings,
    players: message.players.map((player) => ({ ...player })),
    spectators: message.spectators.map((spectator) => ({ ...spectator })),
    round: message.round ? { ...message.round, recognized: [...message.round.recognized] } : null,
    roundsTotal: message.rounds_total,
    game: message.game,
    role: message.you.role,
    drawings: new Map(), // player_id -> Drawing
    guesses: new Map(), // player_id -> [{word, score}]
    results: null, // the last round_ended
    finalScores: null,
    nextAt: message.next_at,
  };
  if (message.phase === "round_results" && message.results && message.round) {
    // Resumed during the results pause: the snapshot carries what round_ended said.
    const scores = [...message.players]
      .sort((a, b) => b.score - a.score)
      .map(({ player_id, name, score }) => ({ player_id, name, score }));
    room.results = {
      type: "round_ended",
      round: message.round.round,
      word: message.round.word,
      results: message.results,
      scores,
      next_at: message.next_at,
    };
  }
  for (const entry of message.strokes || []) {
    const drawing = drawingOf(room, entry.player_id);
    drawing.add(entry.stroke, entry.points);
    drawing.setCanvas(entry.canvas);
  }
  return room;
}

function drawingOf(room, playerId) {
  let drawing = room.drawings.get(playerId);
  if (!drawing) {
    drawing = new Drawing();
    room.drawings.set(playerId, drawing);
  }
  return drawing;
}

const playerById = (id) => app.room && app.room.players.find((player) => player.player_id === id);
const nameOf = (id) => {
  const person = playerById(id) || (app.room && app.room.spectators.find((s) => s.player_id === id));
  return person ? person.name : "someone";
};
const isHost = () => app.room && app.room.host === app.playerId;
const amDrawer = () =>
  app.room && app.room.round && app.room.role === "player" && app.room.round.drawers.includes(app.playerId);
const myRecognition = () =>
  app.room && app.room.round && app.room.round.recognized.find((r) => r.player_id === app.playerId);

function rememberWords(words) {
  for (const word of words || []) if (!app.knownWords.includes(word)) app.knownWords.push(word);
}

// ------------------------------------------------------------------------------------------------
// Server messages

function handle(message) {
  switch (message.type) {
    case "welcome":
      return onWelcome(message);
    case "room":
      return onRoom(message);
    case "error":
      return onError(message);
    case "guess":
      return onGuess(message);
    case "stroke":
      return onStroke(message);
    case "forgotten":
      return toast(`Removed ${message.drawings_removed} archived drawing(s).`);
    case "packs":
      return onPacks(message);
    default:
      if (app.room) onRoomEvent(message);
  }
  return undefined;
}

function onWelcome(message) {
  app.playerId = message.player_id;
  if (!app.packs) request("packs", (id) => ({ type: "list_packs", id }));
  clearTimeout(app.resumeTimer);
  // A TV (?spectate=CODE) that lost its place watches again from the code in its URL.
  const pending = app.pending || (spectateCode() ? watchFromUrl : null);
  app.pending = null;
  const seatCode = app.room ? app.room.code : sessionStorage.getItem(ROOM_KEY);
  if (seatCode && message.resumed) {
    // A snapshot follows if the server still holds our seat; give it a moment.
    showBanner("Resuming your seat…");
    app.resumeTimer = setTimeout(() => {
      hideBanner();
      lostSeat(seatCode, Boolean(pending));
      if (pending) pending();
    }, RESUME_WAIT_MS);
    return;
  }
  if (seatCode) lostSeat(seatCode, Boolean(pending)); // a fresh identity: the seat went with the old one
  if (pending) pending();
}

function onPacks(message) {
  app.packs = message;
  const every = message.packs.find((pack) => pack.name === "all");
  if (every) rememberWords(every.words.map((entry) => entry.word));
  if (app.view === "practice") practice.showWords();
  if (app.room && app.room.phase === "lobby") renderLobby();
}

/** The pack's title for a room's `settings.pack`, or a plain name for a list of the host's own words. */
function packTitle(name) {
  const pack = app.packs && app.packs.packs.find((candidate) => candidate.name === name);
  return pack ? pack.title : name ? name : "The host's words";
}

function lostSeat(code, quietly) {
  const text = `You were away too long and lost your seat in room ${code}. Join again with the code.`;
  if (app.room) leaveToHome(text);
  sessionStorage.removeItem(ROOM_KEY);
  if (!quietly) {
    $("#join-code").value = code;
    homeError(text);
  }
}

function onRoom(message) {
  clearTimeout(app.resumeTimer);
  hideBanner();
  const previous = app.room;
  app.room = roomFromSnapshot(message);
  rememberWords(message.settings.words);
  sessionStorage.setItem(ROOM_KEY, message.code);
  if (app.room.role === "spectator") {
    showView("tv");
    tv.reset();
  } else {
    showView("room");
    round.restore(previous);
  }
  render();
}

function onRoomEvent(message) {
  const room = app.room;
  switch (message.type) {
    case "player_joined": {
      const person = { player_id: message.player_id, name: message.name, connected: true };
      if (message.role === "spectator") room.spectators.push(person);
      else {
        room.players.push({ ...person, score: 0 });
        feed(`${message.name} joined.`);
      }
      break;
    }
    case "player_left": {
      const name = nameOf(message.player_id);
      room.players = room.players.filter((p) => p.player_id !== message.player_id);
      room.spectators = room.spectators.filter((s) => s.player_id !== message.player_id);
      if (message.player_id !== app.playerId) {
        const why = { kicked: "was removed by the host", timeout: "lost connection", left: "left" };
        feed(`${name} ${why[message.reason] || "left"}.`);
      }
      break;
    }
    case "player_disconnected":
    case "player_reconnected": {
      const online = message.type === "player_reconnected";
      const person = playerById(message.player_id) || room.spectators.find((s) => s.player_id === message.player_id);
      if (person) person.connected = online;
      if (person && playerById(message.player_id)) {
        feed(online ? `${person.name} is back.` : `${person.name} disconnected (seat held 30 s).`);
      }
      break;
    }
    case "host_changed":
      room.host = message.host;
      feed(message.host === app.playerId ? "You are the host now." : `${nameOf(message.host)} is the host now.`);
      break;
    case "settings_changed":
      room.settings = message.settings;
      room.roundsTotal = message.settings.rounds;
      rememberWords(message.settings.words);
      break;
    case "game_started":
      room.roundsTotal = message.rounds;
      room.finalScores = null;
      feed("The game started!");
      break;
    case "round_started":
      room.phase = "round";
      room.game = message.game;
      room.round = {
        round: message.round,
        word: message.word,
        started_at: message.started_at,
        ends_at: message.ends_at,
        duration_ms: message.duration_ms,
        drawers: message.drawers,
        recognized: [],
      };
      room.drawings = new Map();
      room.guesses = new Map();
      room.results = null;
      round.begin();
      announce(`Round ${message.round}: draw ${message.word}!`);
      break;
    case "recognized":
      onRecognized(message);
      break;
    case "round_ended":
      room.phase = "round_results";
      room.results = message;
      room.nextAt = message.next_at || connection.serverNow() + room.settings.results_seconds * 1000;
      applyScores(message.scores);
      round.end();
      break;
    case "game_over":
      room.phase = "game_over";
      room.finalScores = message.scores;
      room.nextAt = null;
      applyScores(message.scores);
      round.end();
      announce(message.scores.length ? `Game over! ${message.scores[0].name} wins.` : "Game over!");
      break;
    case "back_to_lobby":
      room.phase = "lobby";
      room.round = null;
      room.results = null;
      room.finalScores = null;
      for (const player of room.players) player.score = 0;
      round.end();
      feed("Back in the lobby: scores are reset.");
      break;
    case "room_closed":
      leaveToHome("The room closed: every player left.");
      return;
    case "left_room":
      if (message.reason === "kicked") {
        leaveToHome(`The host removed you from room ${message.code}.`);
      } else {
        leaveToHome("");
      }
      return;
    default:
      return; // a newer server's message: ignore it
  }
  render();
}

function onRecognized(message) {
  const room = app.room;
  if (!room.round) return;
  room.round.recognized.push({
    player_id: message.player_id,
    rank: message.rank,
    elapsed_ms: message.elapsed_ms,
    points: message.points,
  });
  const player = playerById(message.player_id);
  if (player) player.score = typeof message.score === "number" ? message.score : player.score + message.points;
  const who = message.player_id === app.playerId ? "You were" : `${nameOf(message.player_id)} was`;
  const text = `${who} recognized: ${ordinal(message.rank)} in ${seconds(message.elapsed_ms)}, +${message.points}`;
  feed(text, "good");
  // Our own recognition shows under the pad; everyone else's pops up, except on the TV, where the
  // card's badge and the live feed say it without covering anyone's drawing.
  if (message.player_id === app.playerId && app.view === "room") round.recognized(message);
  else if (app.view !== "tv") toast(text, "good");
}

function applyScores(scores) {
  for (const line of scores || []) {
    const player = playerById(line.player_id);
    if (player) player.score = line.score;
  }
}

function onGuess(message) {
  if (message.ref !== undefined && message.ref !== null) {
    practice.answer(message);
    return;
  }
  if (!app.room || !app.room.round) return;
  if (typeof message.round === "number" && message.round !== app.room.round.round) return; // a late one
  app.room.guesses.set(message.player_id, message.guesses);
  if (app.view === "tv") tv.updateCard(message.player_id);
  else if (message.player_id === app.playerId) renderGuesses($("#my-guesses"), message.guesses, app.room.round?.word);
}

function onStroke(message) {
  const room = app.room;
  if (!room || !room.round || message.round !== room.round.round) return;
  const drawing = drawingOf(room, message.player_id);
  drawing.add(message.stroke, message.points);
  drawing.setCanvas(message.canvas); // the drawer's canvas: views fit its drawing to their own box
  if (app.view === "tv") tv.paint(message.player_id);
  else round.paintOther(message.player_id);
}

function onError(message) {
  const kind = message.ref ? app.requests.get(message.ref) : undefined;
  if (message.ref) app.requests.delete(message.ref);
  const text = ERROR_TEXT[message.code] || message.message || `Error: ${message.code}`;
  if (message.code === "invalid_token") {
    toast(text);
    return;
  }
  if (!kind && QUIET_STROKE_ERRORS.has(message.code)) {
    console.debug("stroke refused:", message.code, message.message);
    return;
  }
  if (kind === "practice") {
    practice.error(text);
    return;
  }
  if (app.view === "home" || kind === "join" || kind === "create" || kind === "watch") {
    showView(app.room ? app.view : "home");
    homeError(text);
    if (kind === "join" || kind === "watch") $("#join-code").focus();
    return;
  }
  if (message.code === "rate_limited" && !kind) return; // dropped stroke batches: the drawing goes on
  toast(text, "bad");
}

// ------------------------------------------------------------------------------------------------
// Connection status: the banner tells the truth about the socket.

function connectionStatus(status) {
  const net = $("#net");
  if (status.state === "online") {
    net.dataset.state = "online";
    net.textContent = "online";
    if (!app.room || status.welcome.resumed) hideBanner();
    return;
  }
  if (status.state === "connecting") {
    net.dataset.state = "connecting";
    net.textContent = "connecting…";
    return;
  }
  net.dataset.state = "offline";
  net.textContent = "offline";
  round.pause();
  if (status.state === "retrying") {
    const why = {
      [protocol.CLOSE_CODES.GOING_AWAY]: "The server is restarting.",
      [protocol.CLOSE_CODES.INTERNAL_ERROR]: "The server hit an error.",
      [protocol.CLOSE_CODES.HELLO_TIMEOUT]: "The connection timed out.",
    }[status.closeCode] || "Cannot reach the server.";
    const secs = Math.max(1, Math.round(status.delayMs / 1000));
    const seat = !app.room ? ""
      : app.room.role === "spectator" ? " You will be back watching when it reconnects."
      : " Your seat is held for 30 s once the server is back.";
    showBanner(`${why} Reconnecting in ${secs} s…${seat}`, "Retry now", () => connection.retryNow(), "bad");
    return;
  }
  if (status.state === "stopped") {
    const C = protocol.CLOSE_CODES;
    if (status.closeCode === C.SESSION_REPLACED) {
      showBanner("You opened this game in another tab or device, so this one stopped.", "Play here", () => connection.reclaim(), "bad");
    } else if (status.closeCode === C.POLICY_VIOLATION) {
      showBanner("The server closed the connection: too many messages (1008).", "Reconnect", () => connection.reclaim(), "bad");
    } else if (status.closeCode === C.MESSAGE_TOO_BIG) {
      showBanner("The server closed the connection: a message was too large (1009).", "Reconnect", () => connection.reclaim(), "bad");
    } else {
      showBanner(`Disconnected (${status.closeCode}).`, "Reconnect", () => connection.reclaim(), "bad");
    }
  }
}

function showBanner(text, actionLabel, action, tone = "") {
  const banner = $("#banner");
  banner.hidden = false;
  banner.dataset.tone = tone;
  $("#banner-text").textContent = text;
  const button = $("#banner-action");
  button.hidden = !actionLabel;
  button.textContent = actionLabel || "";
  button.onclick = action || null;
}

function hideBanner() {
  $("#banner").hidden = true;
}

function toast(text, tone = "") {
  const item = h("div", { class: `toast ${tone}` }, text);
  $("#toasts").append(item);
  setTimeout(() => item.remove(), 4000);
}

/** Polite announcement for screen readers, without a visible toast. */
function announce(text) {
  feed(text);
}

function feed(text, tone = "") {
  const target = app.view === "tv" ? $("#tv-feed") : $("#feed");
  const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  target.prepend(h("li", { class: tone }, h("span", { class: "feed-time" }, time), " ", text));
  while (target.children.length > 30) target.lastChild.remove();
}

function homeError(text) {
  $("#home-error").textContent = text;
}

// ------------------------------------------------------------------------------------------------
// Views

function showView(view) {
  if (app.view !== view) window.scrollTo(0, 0);
  app.view = view;
  for (const name of ["home", "room", "tv", "practice"]) $(`#view-${name}`).hidden = name !== view;
  document.body.dataset.view = view;
  document.documentElement.dataset.view = view; // the TV scales its rem to the screen
  const chip = $("#room-chip");
  chip.hidden = !app.room || view === "home" || view === "practice";
  if (app.room) chip.textContent = `Room ${displayCode(app.room.code)}`;
}

function leaveToHome(message) {
  round.end();
  tv.reset();
  app.room = null;
  sessionStorage.removeItem(ROOM_KEY);
  showView("home");
  homeError(message || "");
  if (message) toast(message, "bad");
}

function render() {
  if (!app.room) return;
  showView(app.view === "tv" ? "tv" : app.room.role === "spectator" ? "tv" : "room");
  if (app.view === "tv") tv.render();
  else renderRoom();
  tick();
}

function renderRoom() {
  const room = app.room;
  if (app.shownPhase !== room.phase) window.scrollTo(0, 0); // the pad or the results, in view on a phone
  app.shownPhase = room.phase;
  for (const panel of ["lobby", "round", "results", "over"]) {
    const phase = { lobby: "lobby", round: "round", results: "round_results", over: "game_over" }[panel];
    $(`#panel-${panel}`).hidden = room.phase !== phase;
  }
  renderPlayers();
  if (room.phase === "lobby") renderLobby();
  if (room.phase === "round") round.render();
  if (room.phase === "round_results") renderResults();
  if (room.phase === "game_over") renderGameOver();
}

function renderPlayers() {
  const room = app.room;
  const list = $("#player-list");
  const sorted = [...room.players].sort((a, b) => b.score - a.score);
  list.replaceChildren(
    ...sorted.map((player) => {
      const me = player.player_id === app.playerId;
      const recognized = room.round && room.phase === "round" && room.round.recognized.find((r) => r.player_id === player.player_id);
      return h(
        "li",
        { class: player.connected ? "" : "away", dataset: { playerId: player.player_id } },
        h("span", { class: "who" },
          player.player_id === room.host ? h("span", { class: "crown", title: "host", "aria-label": "host" }, "★") : null,
          h("span", { class: "name" }, player.name),
          me ? h("span", { class: "tag" }, "you") : null,
          player.connected ? null : h("span", { class: "tag away" }, "away"),
          recognized ? h("span", { class: "tag good" }, "✓") : null),
        h("span", { class: "score" }, String(player.score)),
        isHost() && !me ? kickButton(player) : null,
      );
    }),
  );
  const spectators = room.spectators.length;
  $("#spectator-count").textContent = spectators ? `${spectators} watching` : "";
}

function kickButton(player) {
  // Two steps: a kick is final (the player can never come back to this room).
  const button = h("button", { type: "button", class: "kick", "aria-label": `Remove ${player.name} from the room` }, "Remove");
  let armed = null;
  button.addEventListener("click", () => {
    if (armed === null) {
      button.textContent = "Sure?";
      button.classList.add("armed");
      armed = setTimeout(() => {
        armed = null;
        button.textContent = "Remove";
        button.classList.remove("armed");
      }, 3000);
      return;
    }
    clearTimeout(armed);
    request("kick", (id) => protocol.kick(player.player_id, id));
  });
  return button;
}

function renderLobby() {
  const room = app.room;
  $("#lobby-code").textContent = displayCode(room.code);
  $("#join-url").textContent = `${location.host}/`;
  $("#spectate-link").href = `/?spectate=${encodeURIComponent(room.code)}`;
  const host = isHost();
  $("#start-button").hidden = !host;
  $("#waiting-host").hidden = host;
  const form = $("#settings-form");
  form.hidden = !host;
  const s = room.settings;
  const wordCount = s.words.length;
  $("#settings-summary").textContent =
    `${s.rounds} round${s.rounds === 1 ? "" : "s"} · ${s.round_seconds} s to draw · up to ${s.max_players} players · ` +
    `${wordCount} word${wordCount === 1 ? "" : "s"}${s.show_drawings ? " · drawings visible to all" : ""}`;
  if (host && !form.contains(document.activeElement)) fillSettingsForm(s);
  // The host's settings form lists the same words with check boxes; everyone else reads them here.
  $("#lobby-words").hidden = host;
  renderWordPacks($("#lobby-words .word-packs"), [{ ...roomPack(s.words), name: packTitle(s.pack) }], {
    emptyText: "No words yet.",
  });
}

function fillSettingsForm(settings) {
  $("#ls-rounds").value = settings.rounds;
  $("#ls-seconds").value = settings.round_seconds;
  $("#ls-players").value = settings.max_players;
  $("#ls-results").value = settings.results_seconds;
  $("#ls-show").checked = settings.show_drawings;
  // Word packs first; "your own words" opens the check boxes.
  const packs = app.packs ? app.packs.packs : [{ name: settings.pack, title: packTitle(settings.pack), words: [] }];
  $("#ls-pack").replaceChildren(
    ...packs
      .filter((pack) => pack.name)
      .map((pack) => {
        const size = pack.words.length ? ` (${pack.words.length} words)` : "";
        return h("option", { value: pack.name, selected: pack.name === settings.pack }, `${pack.title}${size}`);
      }),
    h("option", { value: "", selected: !settings.pack }, "Your own words…"),
  );
  $("#ls-words-box").hidden = Boolean(settings.pack);
  const chosen = new Set(settings.words);
  $("#ls-words").replaceChildren(
    ...app.knownWords.map((word) =>
      h("label", { class: "word" }, h("input", { type: "checkbox", value: word, checked: chosen.has(word) }), word),
    ),
  );
}

function renderResults() {
  const room = app.room;
  const results = room.results;
  if (!results) return;
  const last = results.round >= room.roundsTotal;
  $("#results-title").textContent = `Round ${results.round}: “${results.word}”`;
  const ranked = [...results.results].sort((a, b) => (a.rank ?? 99) - (b.rank ?? 99));
  $("#results-body").replaceChildren(
    ...ranked.map((line) =>
      h("tr", { class: line.player_id === app.playerId ? "me" : "" },
        h("td", {}, line.recognized ? ordinal(line.rank) : "–"),
        h("td", {}, nameOf(line.player_id)),
        h("td", {}, line.recognized ? seconds(line.elapsed_ms) : "not recognized"),
        h("td", {}, `+${line.points}`)),
    ),
  );
  $("#next-round").dataset.last = last ? "1" : "";
}

function renderGameOver() {
  const room = app.room;
  const scores = room.finalScores || [];
  const winner = scores[0];
  const tie = scores.length > 1 && scores[1].score === winner.score;
  $("#winner").textContent = !winner ? "Game over" : tie ? "It's a tie!" : winner.player_id === app.playerId ? "You win!" : `${winner.name} wins!`;
  $("#final-scores").replaceChildren(
    ...scores.map((line, index) =>
      h("li", { class: `${index === 0 ? "winner" : ""} ${line.player_id === app.playerId ? "me" : ""}` },
        h("span", { class: "name" }, line.name || nameOf(line.player_id)),
        h("span", { class: "score" }, `${line.score} pts`)),
    ),
  );
  $("#rematch-button").hidden = !isHost();
  $("#waiting-rematch").hidden = isHost();
}

function renderGuesses(list, guesses, word) {
  const top = (guesses || []).slice(0, 3);
  if (top.length === 0) {
    list.replaceChildren(h("li", { class: "empty" }, "…"));
    return;
  }
  list.replaceChildren(
    ...top.map((guess) =>
      h("li", { class: guess.word === word ? "hit" : "" },
        h("span", { class: "word" }, guess.word),
        h("span", { class: "bar", style: `--p:${Math.round(guess.score * 100)}%`, "aria-hidden": "true" }),
        h("span", { class: "pct" }, percent(guess.score))),
    ),
  );
}

// ------------------------------------------------------------------------------------------------
// The round, for a player: the pad, the streamer, the clock, everyone else's thumbnails.

const round = {
  pad: null,
  streamer: null,
  thumbs: new Map(), // player_id -> {card, view}

  init() {
    this.streamer = new StrokeStreamer((strokeIndex, points, end) => {
      const current = app.room && app.room.round;
      if (!current) return;
      connection.sendNow(protocol.stroke(current.round, strokeIndex, points, end, undefined, app.room.game));
    }, { intervalMs: 50, maxPoints: protocol.LIMITS.maxPointsPerStroke });
    this.pad = new DrawingPad($("#pad"), {
      now: () => (app.room && app.room.round ? connection.serverNow() - app.room.round.started_at : 0),
      onStrokeStart: (index) => this.streamer.start(index),
      onPoints: (index, points) => this.streamer.push(index, points),
      onStrokeEnd: (index) => {
        this.streamer.end(index);
        this.refreshPad();
      },
    });
  },

  /** A fresh round: empty pad, empty guesses, no thumbnails. */
  begin() {
    this.streamer.cancel();
    this.pad.reset();
    $("#pad-overlay").hidden = true;
    renderGuesses($("#my-guesses"), [], null);
    this.clearThumbs();
  },

  /** After a snapshot: put back what the server has of our drawing and number new strokes after it. */
  restore() {
    this.streamer.cancel();
    this.pad.reset();
    this.clearThumbs();
    $("#pad-overlay").hidden = true;
    const room = app.room;
    if (room.phase !== "round" || !room.round) return;
    const mine = room.drawings.get(app.playerId);
    if (mine) {
      for (const [index, points] of mine.strokes) this.pad.drawing.add(index, points);
      this.pad.nextStroke = Math.max(-1, ...mine.strokes.keys()) + 1;
      room.drawings.delete(app.playerId);
      this.pad.repaint();
    }
    renderGuesses($("#my-guesses"), room.guesses.get(app.playerId), room.round.word);
    const recognition = myRecognition();
    if (recognition) this.recognized(recognition);
  },

  recognized(message) {
    const overlay = $("#pad-overlay");
    overlay.hidden = false;
    overlay.replaceChildren(
      h("strong", {}, "Recognized!"),
      h("span", {}, `${ordinal(message.rank)} · ${seconds(message.elapsed_ms)} · +${message.points}`),
    );
    this.refreshPad();
  },

  end() {
    this.streamer.cancel();
    if (this.pad) this.pad.setEnabled(false);
  },

  pause() {
    // Offline: strokes drawn now would never reach the server; the snapshot after resume redraws.
    if (this.pad) this.pad.setEnabled(false);
  },

  refreshPad() {
    const room = app.room;
    const running = room && room.phase === "round" && room.round && connection.ready;
    const timeLeft = running ? protocol.msUntil(room.round.ends_at, connection.offsetMs) : 0;
    const strokesLeft = this.pad.strokeCount < protocol.LIMITS.maxStrokesPerDrawing;
    this.pad.setEnabled(Boolean(running && amDrawer() && !myRecognition() && timeLeft > 0 && strokesLeft));
  },

  render() {
    const room = app.room;
    const current = room.round;
    $("#round-no").textContent = `Round ${current.round} of ${room.roundsTotal}`;
    $("#word").textContent = current.word;
    const drawing = amDrawer();
    $("#prompt-label").textContent = drawing ? "Draw" : "They draw";
    $("#pad").setAttribute("aria-label", drawing ? `Drawing area: draw ${current.word}` : "Drawing area (you draw from the next round)");
    if (!drawing && $("#pad-overlay").hidden) {
      const overlay = $("#pad-overlay");
      overlay.hidden = false;
      overlay.replaceChildren(h("span", {}, "You joined mid-round: you draw from the next round on."));
    }
    this.refreshPad();
    this.renderThumbs();
  },

  renderThumbs() {
    const room = app.room;
    const show = room.settings.show_drawings;
    $("#others").hidden = !show;
    if (!show) return;
    const others = room.players.filter((p) => p.player_id !== app.playerId && room.round.drawers.includes(p.player_id));
    const grid = $("#others-grid");
    for (const [id, thumb] of this.thumbs) {
      if (!others.find((p) => p.player_id === id)) {
        thumb.view.destroy();
        thumb.card.remove();
        this.thumbs.delete(id);
      }
    }
    for (const player of others) {
      let thumb = this.thumbs.get(player.player_id);
      if (!thumb) {
        const canvas = h("canvas", { class: "thumb-canvas", role: "img", "aria-label": `${player.name}'s drawing` });
        const card = h("figure", { class: "thumb" }, canvas, h("figcaption", {}, player.name));
        grid.append(card);
        thumb = { card, view: new DrawingView(canvas, drawingOf(room, player.player_id), { fit: fitDrawing }) };
        this.thumbs.set(player.player_id, thumb);
      }
      thumb.view.drawing = drawingOf(room, player.player_id);
      const done = room.round.recognized.find((r) => r.player_id === player.player_id);
      thumb.card.classList.toggle("done", Boolean(done));
      thumb.view.repaint();
    }
  },

  paintOther(playerId) {
    const thumb = this.thumbs.get(playerId);
    if (thumb) thumb.view.repaint();
    else if (app.room && app.room.phase === "round") this.renderThumbs();
  },

  clearThumbs() {
    for (const thumb of this.thumbs.values()) {
      thumb.view.destroy();
      thumb.card.remove();
    }
    this.thumbs.clear();
  },
};

// ------------------------------------------------------------------------------------------------
// The TV: every player's canvas, guesses and recognition, and the scoreboard.

const tv = {
  cards: new Map(), // player_id -> {card, name, score, badge, guesses, view}
  gridObserver: null, // lays the grid out again when the screen (or the banner) changes its size
  layoutScheduled: false,

  reset() {
    for (const card of this.cards.values()) {
      card.view.destroy();
      card.card.remove();
    }
    this.cards.clear();
    $("#tv-feed").replaceChildren();
  },

  render() {
    const room = app.room;
    const current = room.round;
    const title = $("#tv-title");
    if (room.phase === "round" && current) {
      title.replaceChildren(`Round ${current.round}/${room.roundsTotal}: draw `, h("strong", {}, current.word));
    } else if (room.phase === "round_results" && room.results) {
      title.textContent = `Round ${room.results.round}/${room.roundsTotal}: it was “${room.results.word}”`;
    } else if (room.phase === "game_over") {
      title.textContent = "Game over";
    } else {
      title.textContent = "Come and play!";
    }
    $("#tv-lobby").hidden = room.phase !== "lobby";
    $("#tv-body").hidden = room.phase === "lobby";
    $("#tv-lobby-players").replaceChildren(...room.players.map((player) => h("li", {}, player.name)));
    if (room.phase === "lobby") renderWordPacks($("#tv-lobby-words .word-packs"), [roomPack(room.settings.words)]);
    $("#tv-code").textContent = displayCode(room.code);
    $("#tv-url").textContent = `${location.host}/`;
    this.syncCards();
    for (const id of this.cards.keys()) this.updateCard(id);
    this.renderScores();
    this.renderOverlay();
    this.layout();
  },

  syncCards() {
    const room = app.room;
    const grid = $("#tv-grid");
    for (const [id, card] of this.cards) {
      if (!playerById(id)) {
        card.view.destroy();
        card.card.remove();
        this.cards.delete(id);
      }
    }
    for (const player of room.players) {
      if (this.cards.has(player.player_id)) continue;
      const canvas = h("canvas", { class: "tv-canvas", role: "img", "aria-label": `${player.name}'s drawing` });
      const name = h("span", { class: "name" }, player.name);
      const score = h("span", { class: "score" });
      const badge = h("span", { class: "badge", hidden: true });
      const guesses = h("ol", { class: "guess-list compact" });
      // Name and score above the drawing, recognition and guesses below it: nothing on top of it.
      const card = h("figure", { class: "tv-card", dataset: { playerId: player.player_id } },
        h("figcaption", { class: "tv-card-head" }, name, score),
        h("div", { class: "tv-canvas-wrap" }, canvas),
        h("div", { class: "tv-card-foot" }, badge, guesses));
      grid.append(card);
      this.cards.set(player.player_id, {
        card, name, score, badge, guesses,
        view: new DrawingView(canvas, drawingOf(room, player.player_id), { fit: fitDrawing }),
      });
    }
    if (!this.gridObserver) {
      this.gridObserver = new ResizeObserver(() => this.scheduleLayout());
      this.gridObserver.observe(grid);
    }
  },

  scheduleLayout() {
    if (this.layoutScheduled) return;
    this.layoutScheduled = true;
    requestAnimationFrame(() => {
      this.layoutScheduled = false;
      this.layout();
    });
  },

  /**
   * Give the grid the columns and rows that make every drawing largest on this screen. In order of
   * preference: the scoreboard beside three lines of guesses per card, beside one line, then no
   * scoreboard with three lines, with one line; the first whose drawings stay large enough wins.
   * Then each name is fitted to its card.
   */
  layout() {
    const body = $("#tv-body");
    const grid = $("#tv-grid");
    const first = this.cards.values().next().value;
    if (!first || body.hidden) return;
    if (matchMedia(TV_NARROW).matches) {
      // A phone as the spectator screen: cards in a scrolling column (style.css), three guesses each.
      body.dataset.side = "shown";
      grid.dataset.density = "roomy";
      this.fitNames();
      return;
    }
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const choices = [
      ["shown", "roomy", TV_ROOMY_MIN_REM],
      ["shown", "compact", TV_SIDEBAR_MIN_REM],
      ["hidden", "roomy", TV_ROOMY_MIN_REM],
      ["hidden", "compact", 0],
    ];
    let chosen = null;
    for (const [side, density, minRem] of choices) {
      body.dataset.side = side;
      grid.dataset.density = density;
      const gap = parseFloat(getComputedStyle(grid).rowGap) || 0;
      chosen = bestGrid(this.cards.size, grid.clientWidth, grid.clientHeight, { gap, ...cardChrome(first.card) });
      if (chosen.side >= minRem * rem) break;
    }
    grid.style.setProperty("--columns", String(chosen.columns));
    grid.style.setProperty("--rows", String(chosen.rows));
    this.fitNames();
  },

  fitNames() {
    for (const card of this.cards.values()) fitText(card.name, TV_NAME_MIN_PX);
  },

  updateCard(playerId) {
    const room = app.room;
    const card = this.cards.get(playerId);
    const player = playerById(playerId);
    if (!card || !player) return;
    if (card.name.textContent !== player.name) {
      card.name.textContent = player.name;
      fitText(card.name, TV_NAME_MIN_PX);
    }
    card.score.textContent = String(player.score);
    card.score.setAttribute("aria-label", `${player.score} points`);
    card.view.drawing = drawingOf(room, playerId);
    card.view.repaint();
    const current = room.round;
    const done = current && room.phase !== "lobby" && current.recognized.find((r) => r.player_id === playerId);
    card.card.classList.toggle("done", Boolean(done));
    card.card.classList.toggle("away", !player.connected);
    const benched = current && room.phase === "round" && !current.drawers.includes(playerId);
    card.card.classList.toggle("benched", Boolean(benched));
    card.badge.hidden = !done && !benched;
    card.badge.textContent = done ? `✓ ${ordinal(done.rank)} · ${seconds(done.elapsed_ms)}` : benched ? "next round" : "";
    renderGuesses(card.guesses, room.guesses.get(playerId), current && current.word);
  },

  paint(playerId) {
    const card = this.cards.get(playerId);
    if (card) card.view.repaint();
  },

  renderScores() {
    const sorted = [...app.room.players].sort((a, b) => b.score - a.score);
    $("#tv-scores").replaceChildren(
      ...sorted.map((player) =>
        h("li", { class: player.connected ? "" : "away" },
          h("span", { class: "name" }, player.name), h("span", { class: "score" }, String(player.score)))),
    );
  },

  renderOverlay() {
    const room = app.room;
    const overlay = $("#tv-overlay");
    if (room.phase === "game_over" && room.finalScores) {
      overlay.hidden = false;
      const winner = room.finalScores[0];
      overlay.replaceChildren(
        h("div", { class: "tv-overlay-card" },
          h("p", { class: "hint" }, "Winner"),
          h("p", { class: "big-name" }, winner ? winner.name : "–"),
          h("ol", { class: "podium" }, ...room.finalScores.map((line, index) =>
            h("li", { class: index === 0 ? "winner" : "" },
              h("span", { class: "name" }, line.name), h("span", { class: "score" }, `${line.score} pts`))))),
      );
      return;
    }
    overlay.hidden = true;
  },
};

// The TV's breakpoint in style.css: narrower screens scroll a column of cards instead of fitting a grid.
const TV_NARROW = "(max-width: 700px)";

/** The space a TV card takes besides its drawing: padding, border, the name line and the guesses. */
function cardChrome(card) {
  const style = getComputedStyle(card);
  const px = (value) => parseFloat(value) || 0;
  const head = card.querySelector(".tv-card-head");
  const foot = card.querySelector(".tv-card-foot");
  return {
    chromeWidth: px(style.paddingLeft) + px(style.paddingRight) + px(style.borderLeftWidth) + px(style.borderRightWidth),
    chromeHeight: px(style.paddingTop) + px(style.paddingBottom) + px(style.borderTopWidth) + px(style.borderBottomWidth) +
      2 * px(style.rowGap) + head.offsetHeight + foot.offsetHeight,
  };
}

/** Shrink an element's text (one line) until it fits, down to `minPx`; below that it is cut with "…". */
function fitText(element, minPx) {
  element.style.fontSize = "";
  let size = parseFloat(getComputedStyle(element).fontSize);
  while (element.scrollWidth > element.clientWidth && size > minPx) {
    size = Math.max(minPx, size - 1);
    element.style.fontSize = `${size}px`;
  }
}

// ------------------------------------------------------------------------------------------------
// Practice: draw alone, `recognize` answers with `guess` {ref}.

const practice = {
  pad: null,

  init() {
    this.pad = new DrawingPad($("#practice-pad"), {
      now: () => (app.practice.started ? Date.now() - app.practice.started : 0),
      onStrokeStart: () => {
        if (!app.practice.started) app.practice.started = Date.now();
      },
      onPoints: () => this.schedule(),
      onStrokeEnd: () => this.send(),
    });
  },

  open() {
    showView("practice");
    this.clear();
    this.pad.setEnabled(true);
    this.showWords();
  },

  showWords() {
    // The server's packs (list_packs), themes first; "Every word" is the long list of them all.
    const packs = app.packs
      ? app.packs.packs.map((pack) => ({ name: pack.title, words: sortedWords(pack.words.map((w) => w.word)) }))
      : [{ name: "Words from your rooms", words: sortedWords(app.knownWords) }];
    renderWordPacks($("#practice-words .word-packs"), packs,
      { emptyText: "Any word the model knows. Join or create a room to see its word list here." });
  },

  clear() {
    this.pad.reset();
    app.practice.started = 0;
    app.practice.latestRef = null;
    clearTimeout(app.practice.timer);
    app.practice.timer = null;
    $("#practice-guesses").replaceChildren(h("li", { class: "empty" }, "Start drawing…"));
    this.pad.setEnabled(this.pad.strokeCount < protocol.LIMITS.maxStrokesPerDrawing);
  },

  schedule() {
    if (app.practice.timer !== null) return;
    const wait = Math.max(0, PRACTICE_EVERY_MS - (Date.now() - app.practice.lastSent));
    app.practice.timer = setTimeout(() => this.send(), wait);
  },

  send() {
    clearTimeout(app.practice.timer);
    app.practice.timer = null;
    let strokes = this.pad.drawing.ordered().filter((line) => line.length > 0);
    if (strokes.length === 0) return;
    // One message holds the whole drawing: keep it under the point limit and the 64 KiB frame limit
    // by dropping every other point (ends kept) until it fits; the model sees a 28x28 raster anyway.
    const fits = (lines) =>
      lines.reduce((sum, line) => sum + line.length, 0) <= protocol.LIMITS.maxPointsPerRecognize &&
      protocol.encode(protocol.recognize(lines, [SPACE, SPACE], "practice-000000")).length < FRAME_BUDGET;
    while (!fits(strokes)) {
      const thinner = strokes.map((line) => line.filter((_, i) => i % 2 === 0 || i === line.length - 1));
      if (thinner.every((line, i) => line.length === strokes[i].length)) {
        this.error("That drawing is too big to recognize. Clear it and try again.");
        return;
      }
      strokes = thinner;
    }
    if (this.pad.strokeCount >= protocol.LIMITS.maxStrokesPerDrawing) this.pad.setEnabled(false);
    app.practice.lastSent = Date.now();
    app.practice.latestRef = request("practice", (id) => protocol.recognize(strokes, [SPACE, SPACE], id));
  },

  answer(message) {
    if (app.requests.get(message.ref) !== "practice") return;
    app.requests.delete(message.ref);
    // Answers can overtake each other; older ones than the newest shown are dropped.
    const number = Number(String(message.ref).split("-")[1]);
    const shown = app.practice.shownNumber || 0;
    if (number < shown) return;
    app.practice.shownNumber = number;
    renderGuesses($("#practice-guesses"), message.guesses, null);
  },

  error(text) {
    $("#practice-guesses").replaceChildren(h("li", { class: "empty bad" }, text));
  },
};

// ------------------------------------------------------------------------------------------------
// Home: name, then create / join / watch / practice. Each connects first if needed.

function readName() {
  const input = $("#name");
  const name = input.value.trim();
  if (name.length < 1 || name.length > 24) {
    homeError("Please enter your name first (1-24 characters).");
    input.focus();
    return null;
  }
  localStorage.setItem(NAME_KEY, name);
  return name;
}

/** Run `action` once this tab is connected as `name`. */
function whenConnected(name, action) {
  if (connection.wanted && connection.name === name) {
    if (connection.ready) action();
    else app.pending = action;
    return;
  }
  app.pending = action;
  if (connection.wanted) connection.rename(name);
  else connection.connect(name);
}

function readRoomCode() {
  const code = $("#join-code").value.replace(/[\s-]/g, "").toUpperCase();
  if (!code) {
    homeError("Type the room code shown on the host's screen.");
    $("#join-code").focus();
    return null;
  }
  return code;
}

function intField(input, bounds) {
  const value = Number.parseInt(input.value, 10);
  if (!Number.isFinite(value) || value < bounds.min || value > bounds.max) {
    input.focus();
    throw new Error(`${input.labels[0].textContent.trim()} must be ${bounds.min} to ${bounds.max}.`);
  }
  return value;
}

function readCreateSettings() {
  const S = protocol.SETTINGS;
  const settings = {
    rounds: intField($("#set-rounds"), S.rounds),
    round_seconds: intField($("#set-seconds"), S.round_seconds),
    max_players: intField($("#set-players"), S.max_players),
    results_seconds: intField($("#set-results"), S.results_seconds),
    show_drawings: $("#set-show").checked,
  };
  const words = $("#set-words").value.split(/[,\n]/).map((word) => word.trim().toLowerCase()).filter(Boolean);
  if (words.length) {
    if (words.length < settings.rounds) {
      $("#set-words").focus();
      throw new Error(`${settings.rounds} rounds need at least ${settings.rounds} different words.`);
    }
    settings.words = [...new Set(words)];
  }
  return settings;
}

function readLobbySettings() {
  const S = protocol.SETTINGS;
  const words = [...$("#ls-words").querySelectorAll("input:checked")].map((input) => input.value);
  const settings = {
    rounds: intField($("#ls-rounds"), S.rounds),
    round_seconds: intField($("#ls-seconds"), S.round_seconds),
    max_players: intField($("#ls-players"), S.max_players),
    results_seconds: intField($("#ls-results"), S.results_seconds),
    show_drawings: $("#ls-show").checked,
  };
  const pack = $("#ls-pack").value;
  if (pack) {
    settings.pack = pack;
  } else if (words.length) {
    if (words.length < settings.rounds) throw new Error(`${settings.rounds} rounds need at least ${settings.rounds} words.`);
    settings.words = words;
  }
  return settings;
}

function bindHome() {
  $("#name").value = localStorage.getItem(NAME_KEY) || "";
  if (params.get("join")) $("#join-code").value = params.get("join");

  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    homeError("");
    const name = readName();
    const code = name && readRoomCode();
    if (!code) return;
    whenConnected(name, () => request("join", (id) => protocol.joinRoom(code, "player", id)));
  });

  $("#watch-button").addEventListener("click", () => {
    homeError("");
    const code = readRoomCode();
    if (!code) return;
    const name = $("#name").value.trim() || "TV";
    whenConnected(name, () => request("watch", (id) => protocol.joinRoom(code, "spectator", id)));
  });

  $("#create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    homeError("");
    const name = readName();
    if (!name) return;
    let settings;
    try {
      settings = readCreateSettings();
    } catch (error) {
      homeError(error.message);
      return;
    }
    whenConnected(name, () => request("create", (id) => protocol.createRoom(settings, id)));
  });

  $("#practice-button").addEventListener("click", () => {
    homeError("");
    const name = $("#name").value.trim() || "Practice";
    whenConnected(name, () => practice.open());
  });
}

function bindRoom() {
  $("#start-button").addEventListener("click", () => request("start", (id) => protocol.startGame(id)));
  $("#rematch-button").addEventListener("click", () => request("rematch", (id) => protocol.rematch(id)));
  $("#leave-button").addEventListener("click", () => request("leave", (id) => protocol.leaveRoom(id)));
  $("#ls-pack").addEventListener("change", () => {
    $("#ls-words-box").hidden = Boolean($("#ls-pack").value);
  });
  $("#settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      request("settings", (id) => protocol.updateSettings(readLobbySettings(), id));
      document.activeElement.blur();
    } catch (error) {
      toast(error.message, "bad");
    }
  });
  $("#practice-clear").addEventListener("click", () => practice.clear());
  $("#practice-back").addEventListener("click", () => showView("home"));
}

/** One clock for every countdown on the page. */
function tick() {
  const room = app.room;
  if (!room) return;
  const offset = connection.offsetMs;
  if (room.phase === "round" && room.round) {
    const left = protocol.msUntil(room.round.ends_at, offset);
    const text = clock(left);
    const urgent = left <= 5000;
    for (const element of [$("#timer"), $("#tv-timer")]) {
      element.textContent = text;
      element.classList.toggle("urgent", urgent);
    }
    const fraction = room.round.duration_ms ? left / room.round.duration_ms : 0;
    $("#timebar-fill").style.transform = `scaleX(${Math.max(0, Math.min(1, fraction))})`;
    if (left === 0 && round.pad.enabled) round.refreshPad();
  } else {
    $("#tv-timer").textContent = "";
  }
  if (room.phase === "round_results" && room.nextAt) {
    const left = protocol.msUntil(room.nextAt, offset);
    const last = room.results && room.results.round >= room.roundsTotal;
    const text = `${last ? "Final scores" : "Next round"} in ${Math.ceil(left / 1000)} s`;
    $("#next-round").textContent = text;
    $("#tv-timer").textContent = text;
    $("#tv-timer").classList.remove("urgent");
  }
}

/** The room code of a TV page (`/?spectate=CODE`), or null. */
function spectateCode() {
  const spectate = params.get("spectate");
  return spectate ? spectate.replace(/[\s-]/g, "").toUpperCase() : null;
}

function watchFromUrl() {
  if (!app.room) request("watch", (id) => protocol.joinRoom(spectateCode(), "spectator", id));
}

function start() {
  bindHome();
  bindRoom();
  round.init();
  practice.init();
  setInterval(tick, 200);
  showView("home");

  const spectate = spectateCode();
  const storedName = localStorage.getItem(NAME_KEY);
  if (spectate) {
    // The TV screen: no clicks needed, it joins as a spectator straight away (and again whenever it
    // lost its place: see onWelcome).
    $("#join-code").value = params.get("spectate");
    connection.connect(storedName || "TV");
    return;
  }
  if (connection.hasToken) {
    // A reload: resume our identity (and our seat, if the server still holds it).
    connection.connect(storedName || "Player");
  }
}

start();

// For people reading the reference client in devtools, and for the end-to-end tests.
window.doodleParty = { app, connection, round, practice, tv };
