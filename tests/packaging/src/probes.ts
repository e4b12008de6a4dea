import { copyFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Entrypoint } from "./entrypoints.js";
import { cleanEnv, runOk } from "./run.js";

/** What one consumer style got for one entry (see probes/*-probe.*). */
export interface ProbeResult {
  /** The file the entry resolved to. */
  readonly resolved?: string;
  /** Export names, sorted (kind `module`). */
  readonly keys?: readonly string[];
  /** CommonJS only: each export `require()` gave is the value `import()` gives. */
  readonly sameAsImport?: boolean;
  /** The loaded JSON, serialised (kind `json`). */
  readonly json?: string;
  /** The resolved file exists (kind `file`). */
  readonly exists?: boolean;
  /** `code: message` of what was thrown instead. */
  readonly error?: string;
}

/** Specifier → result, for each consumer style, with what the probe wrote to stderr. */
export interface ProbeResults {
  readonly esm: Readonly<Record<string, ProbeResult>>;
  readonly cjs: Readonly<Record<string, ProbeResult>>;
  readonly esmStderr: string;
  readonly cjsStderr: string;
}

const probesDir = resolve(dirname(fileURLToPath(import.meta.url)), "../probes");

/**
 * Loads every entry from inside the consumer project at `projectDir`, once as an ES module
 * consumer (`import`) and once as a CommonJS one (`require`), each in its own `node` process
 * started without flags or `NODE_OPTIONS`: on Node >= 20.19 `require()` of an ES module must
 * work as is. Throws only when a probe process itself fails.
 */
export async function probeEntrypoints(
  projectDir: string,
  entries: readonly Entrypoint[],
): Promise<ProbeResults> {
  writeFileSync(
    join(projectDir, "probe-input.json"),
    JSON.stringify(entries.map(({ specifier, kind }) => ({ specifier, kind }))),
  );
  copyFileSync(join(probesDir, "esm-probe.mjs"), join(projectDir, "esm-probe.mjs"));
  copyFileSync(join(probesDir, "cjs-probe.cjs"), join(projectDir, "cjs-probe.cjs"));
  const options = { cwd: projectDir, env: cleanEnv() };
  const [esm, cjs] = await Promise.all([
    runOk(process.execPath, ["esm-probe.mjs"], options),
    runOk(process.execPath, ["cjs-probe.cjs"], options),
  ]);
  return {
    esm: JSON.parse(esm.stdout) as Record<string, ProbeResult>,
    cjs: JSON.parse(cjs.stdout) as Record<string, ProbeResult>,
    esmStderr: esm.stderr,
    cjsStderr: cjs.stderr,
  };
}
