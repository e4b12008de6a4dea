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
 * Times `run(n)`, which must perform `n` operations in its own loop (so the
 * loop is optimised with the operation inlined, and no harness call sits
 * between operations). Each batch takes about `batchMs`; batches repeat until
 * `budgetMs` has passed (at least `minBatches`). Reports per-op nanoseconds.
 */
export function measure(
  run: (n: number) => void,
  options: { budgetMs?: number; batchMs?: number; minBatches?: number } = {},
): Measurement {
  const budgetMs = options.budgetMs ?? 400;
  const batchMs = options.batchMs ?? 2;
  const minBatches = options.minBatches ?? 5;
  // Warm up and calibrate the batch size.
  let perBatch = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    run(perBatch);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns >= batchMs * 1e6 || perBatch >= 1 << 24) break;
    perBatch =
      ns <= 0 ? perBatch * 8 : Math.max(perBatch * 2, Math.ceil((perBatch * batchMs * 1e6) / ns));
  }
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  const budgetNs = BigInt(budgetMs * 1e6);
  while (samples.length < minBatches || process.hrtime.bigint() - start < budgetNs) {
    const t0 = process.hrtime.bigint();
    run(perBatch);
    samples.push(Number(process.hrtime.bigint() - t0) / perBatch);
    if (samples.length >= 10_000) break;
  }
  return { perOp: samples, ops: samples.length * perBatch };
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
