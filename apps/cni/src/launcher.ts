#!/usr/bin/env node
// The `ipamd-cni` executable (dist/main.cjs): runs the plugin bundle (dist/plugin.cjs) through a
// V8 code cache kept beside it, as Python keeps __pycache__ beside its sources.
//
// The runtime starts this process for every pod interface, and most of what the plugin itself
// adds to a Node start is V8 compiling the bundle and then, function by function, the code one
// ADD runs (~4 ms of ~70 here). A code cache taken after a successful ADD holds all of it. V8
// checks every cache against the source, its own version and its flags and ignores one that does
// not match (then the plugin compiles as usual and the next successful ADD writes a fresh one),
// so a stale, foreign or damaged cache costs time, never correctness. The cache is written
// atomically (temporary file, then rename), only when missing or rejected, and only by ADD; when
// the folder is not writable there is simply no cache. IPAMD_CNI_CODE_CACHE=off turns it off;
// IPAMD_CNI_DEBUG=1 adds a debug line on stderr saying what happened to the cache.

import { readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Script } from "node:vm";

const PLUGIN = join(__dirname, "plugin.cjs");
const CACHE = join(__dirname, "plugin.cjs.v8-cache");

type CacheState = "off" | "missing" | "rejected" | "used";

/** Writes the code cache of `script` (compiled so far) atomically; any failure leaves none. */
function saveCache(script: Script): string | undefined {
  const temporary = `${CACHE}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, script.createCachedData(), { mode: 0o644 });
    renameSync(temporary, CACHE);
    return undefined;
  } catch (error) {
    rmSync(temporary, { force: true });
    return (error as Error).message;
  }
}

/** One line in the plugin's debug format (stderr; stdout carries only the CNI result). */
function debugLine(state: CacheState, written: boolean, error: string | undefined): void {
  const flag = process.env.IPAMD_CNI_DEBUG;
  if (flag !== "1" && flag?.toLowerCase() !== "true") return;
  const fields = { cache: CACHE, state, written, ...(error === undefined ? {} : { error }) };
  const line = { time: new Date().toISOString(), level: "debug", msg: "code cache", ...fields };
  writeSync(2, `${JSON.stringify(line)}\n`);
}

function launch(): void {
  let source: string;
  try {
    source = readFileSync(PLUGIN, "utf8");
  } catch (error) {
    // A broken install: still answer in the CNI error shape (100: our own "internal").
    const msg = `ipamd-cni is not installed completely: ${(error as Error).message}`;
    writeSync(1, `${JSON.stringify({ cniVersion: "1.1.0", code: 100, msg, details: "" })}\n`);
    process.exit(100);
  }
  const useCache = process.env.IPAMD_CNI_CODE_CACHE !== "off";
  let cachedData: Buffer | undefined;
  if (useCache) {
    try {
      cachedData = readFileSync(CACHE);
    } catch {
      // None yet: the first successful ADD writes it.
    }
  }
  // The CommonJS wrapper Node itself puts around a module, so the bundle runs as it would if
  // required, with the launcher's `require` (it needs node built-ins only).
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    { filename: PLUGIN, cachedData },
  );
  const state: CacheState = !useCache
    ? "off"
    : cachedData === undefined
      ? "missing"
      : script.cachedDataRejected === true
        ? "rejected"
        : "used";
  process.once("exit", (code) => {
    // After the result is on stdout; a successful ADD has compiled the code every call needs.
    const write =
      (state === "missing" || state === "rejected") &&
      code === 0 &&
      process.env.CNI_COMMAND === "ADD";
    const error = write ? saveCache(script) : undefined;
    debugLine(state, write && error === undefined, error);
  });
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, require, module, PLUGIN, __dirname);
}

launch();
