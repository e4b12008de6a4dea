// The README's example, run as a test (imports from src/ instead of the package name, and the
// results go to a temp folder instead of the package's bench-results/).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import {
  type BenchRow,
  printTable,
  summarize,
  withBaseline,
  writeBenchResults,
} from "../src/index.js";

/** Per-op nanoseconds of `op`, in `batches` timed batches of 1,000 calls. */
function time(op: (i: number) => unknown, batches = 50): number[] {
  const perOp: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) op(i);
    perOp.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return perOp;
}

it("the README example writes two valid rows, the first compared with the second", () => {
  const root = mkdtempSync(join(tmpdir(), "bench-kit-readme-"));
  try {
    const values = Array.from({ length: 4096 }, (_, i) => i * 3);
    const set = new Set(values);
    const naive = summarize(
      "naive/Array.includes, 4,096 numbers",
      "ns/op",
      time((i) => values.includes(i)),
      { count: 50_000 },
    );
    const ours = summarize(
      "Set.has, 4,096 numbers",
      "ns/op",
      time((i) => set.has(i)),
      {
        count: 50_000,
      },
    );
    const rows = [withBaseline(ours, naive), naive];
    const printed: string[] = [];
    printTable(rows, (line) => printed.push(line));
    const path = writeBenchResults(root, "example", rows);

    const written = JSON.parse(readFileSync(path, "utf8")) as BenchRow[];
    expect(written.map((r) => [r.name, r.unit, r.samples, r.baseline])).toEqual([
      ["Set.has, 4,096 numbers", "ns/op", 50_000, "naive/Array.includes, 4,096 numbers"],
      ["naive/Array.includes, 4,096 numbers", "ns/op", 50_000, undefined],
    ]);
    for (const row of written) {
      expect(row.value).toBe(row.p50);
      expect(row.p99).toBeGreaterThanOrEqual(row.p50);
    }
    expect(written[0]?.ratio).toBeGreaterThan(0);
    expect(printed).toHaveLength(4);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
