#!/usr/bin/env node
// `pnpm test`: every check, in two phases (docs/contributing.md, "Tests").
//   1. lint, typecheck and the fast tests (`test:fast`) of every package, FAST_CONCURRENCY tasks
//      at once: they are CPU-bound and none waits for wall-clock time, so sharing the CPU only
//      makes them slower.
//   2. the process tests (`test:process`: daemons, crash loops, namespaces, external binaries),
//      after phase 1, so a daemon that must answer within its deadlines never competes with a
//      full pool of fast tests and typecheckers: PROCESS_CONCURRENCY packages at a time, each a
//      few files at a time (its vitest.config.ts `processWorkers`). The packages queue longest
//      first (PROCESS_ORDER, measured), each lane taking the next when its package is done, so
//      the longest package starts at once instead of after small ones.
// Both phases always run (--continue); the exit status is non-zero when either failed. Extra
// arguments go to both turbo runs (`pnpm test --filter=@ipam/raft`).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Tasks of phase 1 at once: enough to keep 2 cores busy (each vitest runs 2 workers), few
 * enough that a CPU-bound test is not slowed by a dozen others of ours.
 */
const FAST_CONCURRENCY = 4;
/** Packages whose process tests run at once (2 cores: two daemons' worth of CPU). */
const PROCESS_CONCURRENCY = 2;
/**
 * Packages in the order their process tests start, longest first (seconds on an idle machine,
 * December 2026: ipamd 430, ipamctl 305 on one worker, deploy 74, packaging 39, store 35, cni
 * 24, raft 18, grpc-server 9, grpc-client 8, metrics 2). A package with process tests that is
 * not listed starts last.
 */
const PROCESS_ORDER = [
  "@ipam/ipamd",
  "ipamctl",
  "@ipam/deploy-tests",
  "@ipam/packaging-tests",
  "@ipam/store",
  "@ipam/cni",
  "@ipam/raft",
  "@ipam/grpc-server",
  "@ipam/grpc-client",
  "@ipam/metrics",
];

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };
// `pnpm test -- --flag` hands the script a literal "--" first: drop it.
const raw = process.argv.slice(2);
const extra = raw[0] === "--" ? raw.slice(1) : raw;

function turbo(args) {
  const run = spawnSync("pnpm", ["exec", "turbo", "run", ...args, "--continue", ...extra], {
    stdio: "inherit",
    env,
  });
  return run.status ?? 1;
}

/** Like {@link turbo}, without waiting: resolves with the exit status. */
function turboAsync(args) {
  return new Promise((resolve) => {
    const child = spawn("pnpm", ["exec", "turbo", "run", ...args, "--continue", ...extra], {
      stdio: "inherit",
      env,
    });
    child.once("error", () => resolve(1));
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

/** The workspace packages with a `test:process` script, in PROCESS_ORDER (others last). */
function processPackages() {
  const names = [];
  for (const group of ["packages", "apps", "tests"]) {
    if (!existsSync(group)) continue;
    for (const dir of readdirSync(group).sort()) {
      const file = join(group, dir, "package.json");
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      if (pkg.scripts?.["test:process"] !== undefined) names.push(pkg.name);
    }
  }
  const rank = (name) => {
    const i = PROCESS_ORDER.indexOf(name);
    return i < 0 ? PROCESS_ORDER.length : i;
  };
  return names.sort((a, b) => rank(a) - rank(b));
}

/**
 * Phase 2. With arguments of the caller's (a `--filter`) one turbo run, PROCESS_CONCURRENCY
 * packages at a time (turbo's order). Else PROCESS_CONCURRENCY lanes take packages from one
 * queue longest first, one turbo run each with `--only` after one `build` run (turbo's cache:
 * phase 1 built everything), so that no run rewrites a `dist/` another lane's daemons load.
 * A failed build falls back to the single run (which skips the tests of what did not build).
 */
async function processTests() {
  const single = () => turbo(["test:process", `--concurrency=${PROCESS_CONCURRENCY}`]);
  if (extra.length > 0 || turbo(["build", "--output-logs=errors-only"]) !== 0) return single();
  const queue = processPackages();
  let status = 0;
  const lane = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const code = await turboAsync(["test:process", "--only", `--filter=${name}`]);
      if (code !== 0) status = code;
    }
  };
  await Promise.all(Array.from({ length: PROCESS_CONCURRENCY }, lane));
  return status;
}

const started = performance.now();
const fast = turbo(["lint", "typecheck", "test:fast", `--concurrency=${FAST_CONCURRENCY}`]);
const fastSeconds = (performance.now() - started) / 1000;
const slow = await processTests();
const totalSeconds = (performance.now() - started) / 1000;
console.log(
  `\npnpm test: lint + typecheck + fast tests ${fast === 0 ? "passed" : "FAILED"} ` +
    `(${fastSeconds.toFixed(0)} s); process tests ${slow === 0 ? "passed" : "FAILED"} ` +
    `(${(totalSeconds - fastSeconds).toFixed(0)} s)`,
);
process.exit(fast !== 0 ? fast : slow);
