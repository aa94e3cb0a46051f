// Parts of the client that need no server: back-off, msgpack, message builders, generated constants.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CLOSE_CODES,
  DEFAULT_BACKOFF,
  ERROR_CODES,
  ERRORS_BY_MESSAGE,
  LIMITS,
  SETTINGS,
  backoffDelay,
  decodeMsgpack,
  encodeMsgpack,
  hello,
  msUntil,
  stroke,
} from "../dist/index.js";

test("back-off stays short inside the seat window and grows after it", () => {
  const mid = () => 0.5; // no jitter
  assert.equal(backoffDelay(1, 0, DEFAULT_BACKOFF, mid), 250);
  assert.equal(backoffDelay(2, 0, DEFAULT_BACKOFF, mid), 500);
  assert.equal(backoffDelay(10, 29_000, DEFAULT_BACKOFF, mid), 2_000);
  assert.equal(backoffDelay(10, 31_000, DEFAULT_BACKOFF, mid), 15_000);
  assert.equal(backoffDelay(10, 0, DEFAULT_BACKOFF, () => 1), 2_500);
  assert.equal(backoffDelay(1, 0, DEFAULT_BACKOFF, () => 0), 188);
  // Attempts 1..N within 30 s: a server back after up to ~30 s is found within about 2.5 s.
  let elapsed = 0;
  let attempt = 0;
  while (elapsed < 30_000) elapsed += backoffDelay(++attempt, elapsed, DEFAULT_BACKOFF, () => 1);
  assert.ok(attempt >= 12, `only ${attempt} attempts in the seat window`);
});

test("msgpack round-trips every kind of value the protocol uses", () => {
  const value = {
    type: "room",
    small: 5,
    negative: -3,
    byte: 200,
    short: 60_000,
    int: -70_000,
    big: 1_764_078_000_000,
    float: 120.5,
    text: "é".repeat(40),
    long: "x".repeat(70_000),
    none: null,
    flags: [true, false],
    list: Array.from({ length: 20 }, (_, i) => [i, i * 0.5, i - 10]),
    map: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  };
  assert.deepEqual(decodeMsgpack(encodeMsgpack(value)), value);
  // What Python's msgpack sends for server_time: uint64 (0xcf).
  const uint64 = Uint8Array.from([0xcf, 0, 0, 0x01, 0x9a, 0xb6, 0x5c, 0x9c, 0x00]);
  assert.equal(decodeMsgpack(uint64), 0x019ab65c9c00);
  assert.throws(() => decodeMsgpack(Uint8Array.from([0x92, 0x01])), RangeError);
});

test("builders make the documented messages", () => {
  assert.deepEqual(hello("Ana", { canvas: [390, 844], resume: "tok", consentArchive: true, groupStrokes: true, id: 1 }), {
    type: "hello",
    name: "Ana",
    canvas: [390, 844],
    resume: "tok",
    consent: { archive: true },
    group_strokes: true,
    id: 1,
  });
  assert.deepEqual(stroke(1, 0, [[1, 2, 3]], true), { type: "stroke", round: 1, stroke: 0, points: [[1, 2, 3]], end: true });
  assert.deepEqual(stroke(1, 0, [[1, 2, 3]], false, "s1", 2), {
    type: "stroke",
    round: 1,
    stroke: 0,
    points: [[1, 2, 3]],
    end: false,
    game: 2,
    id: "s1",
  });
  assert.equal(msUntil(2_000, 500, 1_000), 500);
});

test("constants come from the contract", () => {
  assert.equal(CLOSE_CODES.SESSION_REPLACED, 4000);
  assert.ok("name_taken" in ERROR_CODES);
  assert.ok(ERRORS_BY_MESSAGE.join_room.includes("spectators_full"));
  assert.deepEqual(SETTINGS.rounds, { default: 6, min: 1, max: 20 });
  assert.equal(LIMITS.maxPointsPerStroke, 512);
  assert.equal(LIMITS.seatHeldMs, 30_000);
});
