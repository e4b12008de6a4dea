#!/usr/bin/env node
// `pnpm start`: build every package, then run ipamd on its embedded default (a
// single-node system on a local data folder); extra arguments go to ipamd.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };
// Progress, not silence: turbo prints each package's build as it runs (a first build takes a
// few minutes on a small machine; later ones come from turbo's cache and print one line each).
console.error("pnpm start: building every package (turbo run build)...");
const build = spawnSync("pnpm", ["exec", "turbo", "run", "build", "--output-logs=new-only"], {
  stdio: "inherit",
  env,
});
if (build.status !== 0) process.exit(build.status ?? 1);

// `pnpm start -- --flag` hands the script a literal "--" first: drop it.
const raw = process.argv.slice(2);
const args = raw[0] === "--" ? raw.slice(1) : raw;
const command = existsSync("apps/ipamd/dist/main.js")
  ? [process.execPath, ["apps/ipamd/dist/main.js", ...args]]
  : existsSync("packages/bitmap/examples/demo.ts")
    ? ["pnpm", ["exec", "tsx", "packages/bitmap/examples/demo.ts", ...args]]
    : undefined;
if (!command) {
  console.error("nothing to start yet: no build of apps/ipamd and no bitmap demo");
  process.exit(1);
}
const run = spawnSync(command[0], command[1], { stdio: "inherit", env });
process.exit(run.status ?? 1);
