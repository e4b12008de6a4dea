#!/usr/bin/env node
// Builds dist/ipamd-cni-<platform>-<arch>: the plugin bundle (dist/plugin.cjs) as a Node.js
// single executable application, so that a host runs the plugin without Node.js installed.
// Part of `pnpm --filter @ipam/cni build` (after tsup).
//
// How: Node writes a preparation blob of the bundle with a V8 code cache of it
// (`--experimental-sea-config`, `useCodeCache`), a copy of this Node binary is stripped of its
// debug symbols (when `strip` is on PATH: ~13 MB smaller, and faster to inject), and postject
// puts the blob into the copy's NODE_SEA_BLOB note. The result is written under a temporary
// name, answers CNI VERSION, and only then is renamed into place: a build never leaves a
// half-written or broken executable where the installer looks for one.
//
// The executable runs on hosts with the glibc this Node binary needs (Node 20: glibc >= 2.28);
// its Node version is the one that ran this script. Linux only: elsewhere the script says so
// and builds nothing (macOS would need the copy re-signed, and the plugin targets Linux).
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The fuse Node looks for to know that it carries a blob (Node's documentation, "Single
// executable applications"); postject flips it.
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const BUNDLE = join(DIST, "plugin.cjs");
const NAME = `ipamd-cni-${process.platform}-${process.arch}`;
const OUTPUT = join(DIST, NAME);

function fail(message) {
  console.error(`build-sea: ${message}`);
  process.exit(1);
}

function hasStrip() {
  return spawnSync("strip", ["--version"], { stdio: "ignore" }).status === 0;
}

async function main() {
  if (process.platform !== "linux") {
    console.log(`build-sea: ${process.platform} is not Linux: no single executable built`);
    return;
  }
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "ipamd-cni-sea-"));
  const temporary = `${OUTPUT}.${process.pid}.tmp`;
  try {
    const blob = join(work, "sea-prep.blob");
    const config = join(work, "sea-config.json");
    const seaConfig = {
      main: BUNDLE,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
    };
    writeFileSync(config, JSON.stringify(seaConfig));
    const prepared = spawnSync(process.execPath, ["--experimental-sea-config", config], {
      encoding: "utf8",
    });
    if (prepared.status !== 0) fail(`node --experimental-sea-config: ${prepared.stderr}`);
    if (hasStrip()) {
      execFileSync("strip", ["-o", temporary, process.execPath], { stdio: "inherit" });
    } else {
      console.log("build-sea: no strip on PATH: the executable keeps Node's debug symbols");
      copyFileSync(process.execPath, temporary);
    }
    chmodSync(temporary, 0o755);
    // postject is CommonJS; its inject() reads the file, rewrites it and writes it back.
    const { inject } = createRequire(import.meta.url)("postject");
    // postject's ELF library prints harmless "Can't find string offset" warnings for Node's
    // notes; they are not errors, so they are kept off the build log.
    const quiet = console.warn;
    console.warn = () => {};
    try {
      await inject(temporary, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
    } finally {
      console.warn = quiet;
    }
    const version = spawnSync(temporary, [], {
      input: '{"cniVersion":"1.1.0"}',
      env: { CNI_COMMAND: "VERSION" },
      encoding: "utf8",
    });
    if (version.status !== 0 || !version.stdout.includes('"supportedVersions"')) {
      fail(`the built executable does not answer VERSION: ${version.stdout}${version.stderr}`);
    }
    renameSync(temporary, OUTPUT);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`build-sea: dist/${NAME} (Node ${process.version}) in ${seconds} s`);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(temporary, { force: true });
  }
}

await main();
