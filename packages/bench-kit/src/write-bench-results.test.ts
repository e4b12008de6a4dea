import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { BenchRow } from "./bench-row.js";
import { writeBenchResults } from "./write-bench-results.js";

const rows: BenchRow[] = [
  { name: "a", unit: "ms", value: 1, p50: 1, p99: 2, samples: 5, baseline: "b", ratio: 3 },
  { name: "b", unit: "ms", value: 3, p50: 3, p99: 4, samples: 5 },
];

describe("writeBenchResults", () => {
  const dirs: string[] = [];
  const packageRoot = () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-kit-test-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("writes bench-results/<name>.json under a package path and returns that path", () => {
    const root = packageRoot();
    const path = writeBenchResults(root, "bitmap", rows);
    expect(path).toBe(join(root, "bench-results", "bitmap.json"));
    const text = readFileSync(path, "utf8");
    expect(text.endsWith("]\n")).toBe(true);
    expect(JSON.parse(text)).toEqual(rows);
  });

  it("accepts the package folder as a file URL and replaces an earlier file", () => {
    const root = packageRoot();
    writeBenchResults(pathToFileURL(`${root}/`), "raft", rows);
    const path = writeBenchResults(pathToFileURL(root), "raft", rows.slice(1));
    expect(path).toBe(join(root, "bench-results", "raft.json"));
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(rows.slice(1));
  });

  it("refuses a name that is not a plain file name", () => {
    const root = packageRoot();
    expect(() => writeBenchResults(root, "../escape", rows)).toThrow(/"..\/escape"/);
    expect(() => writeBenchResults(root, "", rows)).toThrow(RangeError);
  });
});
