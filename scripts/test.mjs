#!/usr/bin/env node
// `pnpm test`: every check, in two phases (docs/contributing.md, "Tests").
//   1. lint, typecheck and the fast tests (`test:fast`) of every package, FAST_CONCURRENCY tasks
//      at once: they are CPU-bound and none waits for wall-clock time, so sharing the CPU only
//      makes them slower.
//   2. the process tests (`test:process`: daemons, crash loops, namespaces, external binaries),
//      PROCESS_CONCURRENCY packages at a time, each one file at a time, after phase 1, so a
//      daemon that must answer within its deadlines never competes with a full pool of fast
//      tests and typecheckers.
// Both phases always run (--continue); the exit status is non-zero when either failed. Extra
// arguments go to both turbo runs (`pnpm test --filter=@ipam/raft`).
import { spawnSync } from "node:child_process";

/**
 * Tasks of phase 1 at once: enough to keep 2 cores busy (each vitest runs 2 workers), few
 * enough that a CPU-bound test is not slowed by a dozen others of ours.
 */
const FAST_CONCURRENCY = 4;
/** Packages whose process tests run at once (2 cores: two daemons' worth of CPU). */
const PROCESS_CONCURRENCY = 2;

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

const started = performance.now();
const fast = turbo(["lint", "typecheck", "test:fast", `--concurrency=${FAST_CONCURRENCY}`]);
const fastSeconds = (performance.now() - started) / 1000;
const slow = turbo(["test:process", `--concurrency=${PROCESS_CONCURRENCY}`]);
const totalSeconds = (performance.now() - started) / 1000;
console.log(
  `\npnpm test: lint + typecheck + fast tests ${fast === 0 ? "passed" : "FAILED"} ` +
    `(${fastSeconds.toFixed(0)} s); process tests ${slow === 0 ? "passed" : "FAILED"} ` +
    `(${(totalSeconds - fastSeconds).toFixed(0)} s)`,
);
process.exit(fast !== 0 ? fast : slow);
