// DoodlePartyClient against a real `doodle-party serve`: typed events, requests, JSON and msgpack, and
// a server restart that the client rides out with its seat.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DoodlePartyClient, DoodlePartyError, memoryTokenStore, stroke } from "../dist/index.js";
import { Server } from "./server.mjs";

const server = new Server();
const clients = [];

before(async () => {
  await server.start();
});

after(async () => {
  for (const client of clients) client.disconnect();
  await server.dispose();
});

function client(name, options = {}) {
  const made = new DoodlePartyClient({ url: server.url, name, canvas: [400, 400], pingIntervalMs: 1000, ...options });
  clients.push(made);
  return made;
}

test("connects, says hello and gets a typed welcome", async () => {
  const ana = client("Ana");
  const welcome = ana.next("welcome");
  ana.connect();
  const message = await welcome;
  assert.equal(message.protocol, 1);
  assert.match(message.player_id, /^p_/);
  assert.equal(ana.playerId, message.player_id);
  assert.equal(ana.token, message.token);
  assert.ok(Math.abs(ana.serverNow() - Date.now()) < 5_000);
  ana.disconnect({ leave: true });
});

test("create and join a room, over JSON and msgpack, with events for each message type", async () => {
  const host = client("Host");
  const guest = client("Guest", { encoding: "msgpack" });
  host.connect();
  guest.connect();
  const room = await host.request({ type: "create_room", settings: { rounds: 1, words: ["apple"] } });
  assert.equal(room.type, "room");
  assert.equal(room.phase, "lobby");
  assert.equal(room.game, 0);
  assert.deepEqual(room.settings.words, ["apple"]);
  const joined = host.next("player_joined");
  const snapshot = await guest.request({ type: "join_room", code: room.code });
  assert.equal(snapshot.code, room.code);
  assert.equal(snapshot.players.length, 2);
  assert.equal((await joined).name, "Guest");
  // A big integer (server_time > 2^32) survives msgpack.
  assert.ok(snapshot.server_time > 2 ** 32);
  const started = guest.next("round_started");
  host.send({ type: "start_game" });
  const round = await started;
  assert.equal(round.word, "apple");
  assert.deepEqual(new Set(round.drawers), new Set([host.playerId, guest.playerId]));
  host.disconnect({ leave: true });
  guest.disconnect({ leave: true });
});

test("other players' strokes, grouped by the server, arrive as one stroke event each, in order", async () => {
  const host = client("Hana");
  const guest = client("Gus", { encoding: "msgpack" });
  host.connect();
  guest.connect();
  const room = await host.request({ type: "create_room", settings: { rounds: 1, words: ["apple"] } });
  await guest.request({ type: "join_room", code: room.code });
  const started = guest.next("round_started");
  host.send({ type: "start_game" });
  await started;
  const seen = [];
  let grouped = 0;
  guest.on("stroke", (relay) => seen.push(relay.points[0][2]));
  guest.on("message", (message) => (grouped += message.type === "strokes" ? 1 : 0));
  const last = new Promise((resolve) => guest.on("stroke", (relay) => relay.end && resolve()));
  for (let index = 0; index < 6; index += 1) {
    host.send(stroke(1, 0, [[index, index, index * 10]], index === 5));
  }
  await last;
  assert.deepEqual(seen, [0, 10, 20, 30, 40, 50]);
  assert.equal(grouped, 0); // handed on as `stroke` events, never as a `strokes` one
  host.disconnect({ leave: true });
  guest.disconnect({ leave: true });
});

test("an error answer rejects the request with its code", async () => {
  const bo = client("Bo");
  bo.connect();
  await assert.rejects(bo.request({ type: "join_room", code: "AAAAAA" }), (error) => {
    assert.ok(error instanceof DoodlePartyError);
    assert.equal(error.code, "invalid_room_code");
    return true;
  });
  await assert.rejects(bo.request({ type: "join_room", code: "CDF4HJ" }), { code: "room_not_found" });
  bo.disconnect();
});

test("ping answers come back through request()", async () => {
  const cy = client("Cy");
  cy.connect();
  const pong = await cy.request({ type: "ping" });
  assert.equal(pong.type, "pong");
  assert.equal(typeof pong.server_time, "number");
  cy.disconnect();
});

test("a server restart does not cost the seat: the client resumes with short delays", async () => {
  const tokens = memoryTokenStore();
  const dee = client("Dee", { tokenStore: tokens });
  dee.connect();
  const room = await dee.request({ type: "create_room" });
  const statuses = [];
  dee.on("status", (status) => statuses.push(status));
  const resumedSnapshot = dee.next("room", 60_000);
  const firstId = dee.playerId;
  await server.stop(); // close 1001
  await new Promise((resolve) => setTimeout(resolve, 3_000)); // a restart takes a while
  await server.start();
  const snapshot = await resumedSnapshot;
  assert.equal(snapshot.code, room.code);
  assert.equal(dee.playerId, firstId);
  assert.deepEqual(snapshot.you, { player_id: firstId, role: "player" });
  assert.ok(snapshot.players.find((player) => player.player_id === firstId).connected);
  const retries = statuses.filter((status) => status.state === "retrying");
  assert.ok(retries.length >= 1);
  assert.equal(retries[0].closeCode, 1001);
  // Inside the seat window no delay exceeds 2 s (plus jitter): the seat is taken back soon after.
  assert.ok(retries.every((status) => status.delayMs <= 2_500), JSON.stringify(retries));
  const online = statuses.find((status) => status.state === "online");
  assert.equal(online.welcome.resumed, true);
  dee.disconnect({ leave: true });
});
