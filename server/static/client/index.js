// Built from clients/js/src by `npm run build` (tsc): do not edit; edit the TypeScript source.
// doodle-party-client: a typed client for the Doodle Party game protocol (docs/protocol.md).
//
//   import { DoodlePartyClient } from "doodle-party-client";
//   const client = new DoodlePartyClient({ url: "ws://192.168.1.20:8765/", name: "Ana", canvas: [390, 844] });
//   client.on("round_started", (round) => console.log("draw", round.word));
//   client.connect();
//   const room = await client.request({ type: "create_room", settings: { rounds: 3 } });
export * from "./protocol.js";
export * from "./messages.js";
export * from "./client.js";
export { decodeMsgpack, encodeMsgpack } from "./msgpack.js";
