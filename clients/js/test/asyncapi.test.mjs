// docs/asyncapi.json is a valid AsyncAPI 3 document by the standard parser (@asyncapi/parser).

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import { Parser } from "@asyncapi/parser";

const DOCUMENT = new URL("../../../docs/asyncapi.json", import.meta.url);

test("the AsyncAPI parser accepts the document without errors or warnings", async () => {
  const parser = new Parser();
  const text = await readFile(DOCUMENT, "utf8");
  const raw = JSON.parse(text);
  const { document, diagnostics } = await parser.parse(text);
  const problems = diagnostics.filter((d) => d.severity <= 1); // 0 error, 1 warning
  assert.deepEqual(problems.map((d) => `${d.code} ${d.path.join(".")}: ${d.message}`), []);
  assert.ok(document, "the parser produced no document");
  assert.equal(document.version(), "3.0.0");
  const received = document.operations().filterByReceive().length;
  const sent = document.operations().filterBySend().length;
  // The parser's model has one operation per message of each union, and every message.
  const clientTypes = raw.components.schemas.ClientMessage.oneOf.length;
  const serverTypes = raw.components.schemas.ServerMessage.oneOf.length;
  assert.ok(clientTypes >= 12 && serverTypes >= 21);
  assert.equal(received, clientTypes);
  assert.equal(sent, serverTypes);
  assert.equal(document.allMessages().length, clientTypes + serverTypes);
  assert.equal(document.components().schemas().get("ErrorCode").enum().includes("name_taken"), true);
});
