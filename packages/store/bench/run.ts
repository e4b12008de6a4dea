// Runs the @ipam/store benchmarks and writes bench-results/store.json (see BENCHMARKS.md).
// Rates (saves/s, entries/s): value and p50 are the median run, p99 the 1st-percentile
// (slowest) run, ratio = this / baseline. Latencies (ms): value and p50 the median, p99 the
// 99th percentile over every operation, ratio = baseline / this. Ratio > 1: faster.
import { printTable, writeBenchResults } from "@ipam/bench-kit";
import { benchRaftAppend } from "./raft-append.bench.js";
import { benchSaves } from "./saves.bench.js";

async function main(): Promise<void> {
  // Each row carries the load average of when it was summarised (bench-kit `summarize`).
  const rows = [...(await benchSaves()), ...benchRaftAppend()];
  const out = writeBenchResults(new URL("..", import.meta.url), "store", rows);
  printTable(rows);
  console.log(`wrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
