import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchRow } from "./bench-row.js";

/**
 * Writes `rows` as a JSON array (2-space indent, trailing newline) to
 * `<packageRoot>/bench-results/<name>.json`, creating the folder, replacing any earlier file.
 * `packageRoot` is a path or a file URL of the package folder (e.g.
 * `new URL("..", import.meta.url)` from `bench/run.ts`). Returns the absolute path written.
 * Throws a RangeError when `name` is not a plain file name (letters, digits, `.`, `_`, `-`).
 */
export function writeBenchResults(
  packageRoot: string | URL,
  name: string,
  rows: readonly BenchRow[],
): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(name)) {
    throw new RangeError(`writeBenchResults: name "${name}" is not a plain file name`);
  }
  const root = typeof packageRoot === "string" ? packageRoot : fileURLToPath(packageRoot);
  const dir = resolve(root, "bench-results");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(rows, null, 2)}\n`);
  return path;
}
