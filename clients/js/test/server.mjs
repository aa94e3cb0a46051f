// Runs a real `doodle-party serve` (the repository's .venv, or $DOODLE_PARTY_BIN) for the tests, with
// its embedded Redis in a temporary folder, and stops it. Restarting on the same port and folder is
// what an operator's restart looks like: the rooms survive in Redis's append-only file.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = process.env.DOODLE_PARTY_BIN ?? fileURLToPath(new URL("../../../.venv/bin/doodle-party", import.meta.url));

export class Server {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "doodle-js-"));
    this.port = 0;
    this.process = null;
    this.url = null;
  }

  /** Start (or restart) the server; resolves with its ws:// URL once it listens. */
  async start() {
    const env = {
      ...process.env,
      DOODLE_REDIS_DATA_DIR: join(this.dir, "redis"),
      DOODLE_ARCHIVE_DIR: join(this.dir, "archive"),
      DOODLE_RECOGNITION_PROCESSES: "0",
      DOODLE_LOG_LEVEL: "warning",
    };
    const child = spawn(BIN, ["serve", "--host", "127.0.0.1", "--port", String(this.port)], { env, stdio: ["ignore", "pipe", "pipe"] });
    this.process = child;
    let output = "";
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${output}`)), 60_000);
      const look = (chunk) => {
        output += chunk;
        const found = /connect to (ws:\/\/\S+)/.exec(output);
        if (found) {
          clearTimeout(timer);
          resolve(found[1]);
        }
      };
      child.stdout.on("data", look);
      child.stderr.on("data", (chunk) => (output += chunk));
      child.on("exit", (code) => reject(new Error(`server exited (${code}):\n${output}`)));
    });
    this.port = Number(new URL(this.url).port);
    return this.url;
  }

  /** SIGTERM, as an operator's restart does (sockets close with 1001); resolves when it has exited. */
  async stop() {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    this.process = null;
  }

  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
