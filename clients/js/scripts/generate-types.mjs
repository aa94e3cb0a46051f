// Generates src/protocol.ts from docs/asyncapi.json: the message types (with json-schema-to-typescript,
// from components.schemas) and the constants a client needs (error and close codes, settings ranges,
// limits, each message's error codes). `--check` writes nothing and exits 1 when the file is stale.
//
// The document is generated from the server's code (`doodle-party contract`), so the chain is
// server/message_types.py -> docs/asyncapi.json -> src/protocol.ts, each step checked in `make test`.

import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const DOCUMENT = here("../../../docs/asyncapi.json");
const OUTPUT = here("../src/protocol.ts");

function rewriteRefs(value) {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith("x-") || key === "examples") continue; // not types
    out[key] = key === "$ref" ? item.replace("#/components/schemas/", "#/definitions/") : rewriteRefs(item);
  }
  return out;
}

export async function generate() {
  const doc = JSON.parse(await readFile(DOCUMENT, "utf8"));
  const schemas = doc.components.schemas;
  const definitions = {};
  for (const [name, schema] of Object.entries(schemas)) definitions[name] = { ...rewriteRefs(schema), title: name };
  const types = await compile(
    { title: "Protocol", type: "object", additionalProperties: false, properties: {}, definitions },
    "Protocol",
    { bannerComment: "", unreachableDefinitions: true, additionalProperties: false, format: true, strictIndexSignatures: true },
  );
  const body = types.replace(/export interface Protocol \{\}\n*/, "");

  const errorsByMessage = {};
  const replies = {};
  for (const operation of Object.values(doc.operations)) {
    if (operation.action !== "receive") continue;
    const message = doc.components.messages[operation.messages[0].$ref.split("/").pop()];
    errorsByMessage[message.name] = operation["x-errors"];
    if (operation.reply) {
      const reply = doc.components.messages[operation.reply.messages[0].$ref.split("/").pop()];
      replies[message.name] = reply.name;
    }
  }
  const settings = {};
  for (const [name, field] of Object.entries(schemas.RoomSettings.properties)) {
    if (field.type === "integer") settings[name] = { default: field.default, min: field.minimum, max: field.maximum };
    else if (field.type === "boolean") settings[name] = { default: field.default };
  }
  const closeNames = {
    1000: "NORMAL", 1001: "GOING_AWAY", 1007: "INVALID_DATA", 1008: "POLICY_VIOLATION", 1009: "MESSAGE_TOO_BIG",
    1011: "INTERNAL_ERROR", 4000: "SESSION_REPLACED", 4001: "HELLO_TIMEOUT",
  };
  const closeCodes = {};
  for (const code of schemas.CloseCode.enum) {
    if (!(code in closeNames)) throw new Error(`close code ${code} has no name here: add it`);
    closeCodes[closeNames[code]] = code;
  }
  const hello = schemas.HelloMessage.properties;
  const stroke = schemas.StrokeMessage.properties;
  const recognize = schemas.RecognizeMessage.properties;
  const limits = {
    nameLength: [hello.name.minLength, hello.name.maxLength],
    canvasSide: [schemas.Canvas.items.minimum, schemas.Canvas.items.maximum],
    maxPointsPerStroke: stroke.points.maxItems,
    maxStrokesPerDrawing: stroke.stroke.maximum + 1,
    maxPointsPerRecognize: recognize.strokes.items.maxItems,
    maxRoundNumber: stroke.round.maximum,
  };
  const json = (value) => JSON.stringify(value, null, 2);
  const text = `// GENERATED from docs/asyncapi.json by scripts/generate-types.mjs: do not edit by hand.
// Regenerate with \`npm run generate\` after \`doodle-party contract\`.

/* eslint-disable */

${body.trim()}

/** The protocol version this file was generated for (\`welcome.protocol\`). */
export const PROTOCOL_VERSION = ${Number(doc.info.version)} as const;

/** Every \`error.code\`, with what it means. Programs switch on the code. */
export const ERROR_CODES: Readonly<Record<ErrorCode, string>> = Object.freeze(${json(schemas.ErrorCode["x-enum-descriptions"])});

/** The WebSocket close codes the server uses, by name. */
export const CLOSE_CODES = Object.freeze(${json(closeCodes)} as const);

/** What each close code means and what a client should do. */
export const CLOSE_CODE_ADVICE: Readonly<Record<CloseCode, string>> = Object.freeze(${json(schemas.CloseCode["x-enum-descriptions"])});

/** Room settings: defaults and inclusive ranges. */
export const SETTINGS = Object.freeze(${json(settings)} as const);

/** Limits on what one message may hold. */
export const MESSAGE_LIMITS = Object.freeze(${json(limits)} as const);

/** Per-connection limits and timings (the server's defaults; operators can change the limits). */
export const CONNECTION_LIMITS = Object.freeze(${json(doc.info["x-limits"])} as const);

/** The error codes each client message can get, besides bad_message, rate_limited, hello_first and conflict. */
export const ERRORS_BY_MESSAGE: Readonly<Record<ClientMessage["type"], readonly ErrorCode[]>> = Object.freeze(${json(errorsByMessage)});

/** The server message that answers a client message (an \`error\` may come instead). */
export const REPLIES = Object.freeze(${json(replies)} as const);

/** Every server message type. */
export const SERVER_MESSAGE_TYPES: readonly ServerMessage["type"][] = Object.freeze(${json(Object.values(doc.operations).filter((op) => op.action === "send").map((op) => doc.components.messages[op.messages[0].$ref.split("/").pop()].name))});

/** A server message by its \`type\`. */
export type ServerMessageOf<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;
/** A client message by its \`type\`. */
export type ClientMessageOf<T extends ClientMessage["type"]> = Extract<ClientMessage, { type: T }>;
`;
  return text;
}

const text = await generate();
if (process.argv.includes("--check")) {
  const current = await readFile(OUTPUT, "utf8").catch(() => "");
  if (current !== text) {
    console.error("src/protocol.ts is out of date with docs/asyncapi.json: run `npm run generate`");
    process.exit(1);
  }
} else {
  await writeFile(OUTPUT, text);
  console.log(`wrote ${OUTPUT}`);
}
