// Benchmark harness: timed batches of per-op times and a seeded PRNG. Rows, statistics, the
// table and the results file come from @ipam/bench-kit. Not part of the published package.
import { type BenchRow, summarize } from "@ipam/bench-kit";

export interface Measurement {
  /** ns/op of each timed batch, in the order they ran. */
  readonly perOp: readonly number[];
  /** Total operations timed. */
  readonly ops: number;
}

/**
 * Times several `run(n)` in turns. Each `run(n)` must perform `n` operations
 * in its own loop (so the loop is optimised with the operation inlined, and no
 * harness call sits between operations); a batch takes about `batchMs`. Reports
 * per-op nanoseconds. After each run's batch size is calibrated on its own,
 * one timed batch of each goes in order, round after round, until `budgetMs`
 * (for all of them together, default 400 ms each) has passed and each has
 * `minBatches`. On a shared machine the load changes from second to second;
 * in turns, an operation and its baseline see the same load, so their ratio
 * holds even when the absolute times do not. Returns one measurement per run,
 * in the order given.
 */
export function measureInterleaved(
  runs: readonly ((n: number) => void)[],
  options: { budgetMs?: number; batchMs?: number; minBatches?: number } = {},
): Measurement[] {
  const budgetMs = options.budgetMs ?? 400 * runs.length;
  const batchMs = options.batchMs ?? 2;
  const minBatches = options.minBatches ?? 5;
  const perBatch = runs.map((run) => calibrate(run, batchMs));
  const samples: number[][] = runs.map(() => []);
  const start = process.hrtime.bigint();
  const budgetNs = BigInt(budgetMs * 1e6);
  while (samples[0]!.length < minBatches || process.hrtime.bigint() - start < budgetNs) {
    for (let i = 0; i < runs.length; i++) {
      const t0 = process.hrtime.bigint();
      runs[i]!(perBatch[i]!);
      samples[i]!.push(Number(process.hrtime.bigint() - t0) / perBatch[i]!);
    }
    if (samples[0]!.length >= 10_000) break;
  }
  return samples.map((perOp, i) => ({ perOp, ops: perOp.length * perBatch[i]! }));
}

/** Warms `run` up and returns the number of operations that take about `batchMs`. */
function calibrate(run: (n: number) => void, batchMs: number): number {
  let perBatch = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    run(perBatch);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns >= batchMs * 1e6 || perBatch >= 1 << 24) return perBatch;
    perBatch =
      ns <= 0 ? perBatch * 8 : Math.max(perBatch * 2, Math.ceil((perBatch * batchMs * 1e6) / ns));
  }
}

/** A row of per-op times over the batches of `m`; `samples` counts operations, not batches. */
export function row(name: string, unit: string, m: Measurement): BenchRow {
  return summarize(name, unit, m.perOp, { count: m.ops });
}

/** Deterministic PRNG (xorshift32) so the scattered fills are the same every run. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
