// Copies the built ES modules (dist/*.js) to server/static/client/, where the gateway serves them to
// the reference web client as they are: no bundler at serve time. The copies are committed;
// `--check` exits 1 when they differ from a fresh build (run after `tsc`), so they cannot go stale.

import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const DIST = here("../dist/");
const STATIC = here("../../../server/static/client/");
const BANNER = "// Built from clients/js/src by `npm run build` (tsc): do not edit; edit the TypeScript source.\n";

const built = (await readdir(DIST)).filter((name) => name.endsWith(".js")).sort();
const check = process.argv.includes("--check");
const stale = [];
for (const name of built) {
  const text = BANNER + (await readFile(DIST + name, "utf8"));
  if (check) {
    const current = await readFile(STATIC + name, "utf8").catch(() => null);
    if (current !== text) stale.push(name);
  } else {
    await mkdir(STATIC, { recursive: true });
    await writeFile(STATIC + name, text);
  }
}
if (check) {
  const extra = (await readdir(STATIC).catch(() => [])).filter((name) => !built.includes(name));
  if (stale.length || extra.length) {
    console.error(`server/static/client/ is stale (${[...stale, ...extra].join(", ")}): run \`npm run build\` in clients/js`);
    process.exit(1);
  }
} else {
  console.log(`copied ${built.join(", ")} to ${STATIC}`);
}
