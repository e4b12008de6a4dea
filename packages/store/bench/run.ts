// Runs the @ipam/store benchmarks and writes bench-results/store.json (see BENCHMARKS.md).
// Rates (saves/s, entries/s): value and p50 are the median run, p99 the 1st-percentile
// (slowest) run, ratio = this / baseline. Latencies (ms): value and p50 the median, p99 the
// 99th percentile over every operation, ratio = baseline / this. Ratio > 1: faster.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchRaftAppend } from "./raft-append.bench.js";
import { benchSaves } from "./saves.bench.js";
import type { BenchRow } from "./stats.js";

async function main(): Promise<void> {
  const rows: BenchRow[] = [...(await benchSaves()), ...benchRaftAppend()];
  const out = join(dirname(fileURLToPath(import.meta.url)), "..", "bench-results", "store.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
  console.table(
    rows.map((r) => ({
      name: r.name,
      unit: r.unit,
      value: r.value,
      p50: r.p50,
      p99: r.p99,
      samples: r.samples,
      ratio: r.ratio ?? "",
    })),
  );
  console.log(`wrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
