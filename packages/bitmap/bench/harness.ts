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
 * harness call sits between operations); a batch takes about `batchMs` of CPU
 * time. Reports per-op nanoseconds of the process's CPU time
 * (`process.cpuUsage()`, user + system), not wall time: on a shared machine a
 * batch that waited for a core while other processes ran is not counted as
 * slow (under a load average of 40 on 2 cores the wall-clock median of the
 * same loop was 5x its CPU-time median; on an idle machine the two agree).
 *
 * After each run's batch size is calibrated on its own, one timed batch of
 * each goes in order, round after round, until `budgetMs` of CPU time (for all
 * of them together, default 400 ms each) has been spent and each has
 * `minBatches`. In turns, an operation and its baselines see the same machine
 * (caches, frequency, neighbours), so their ratio holds even when absolute
 * times do not. Returns one measurement per run, in the order given.
 */
export function measureInterleaved(
  runs: readonly ((n: number) => void)[],
  options: { budgetMs?: number; batchMs?: number; minBatches?: number } = {},
): Measurement[] {
  const budgetNs = (options.budgetMs ?? 400 * runs.length) * 1e6;
  const batchNs = (options.batchMs ?? 2) * 1e6;
  const minBatches = options.minBatches ?? 5;
  const perBatch = runs.map((run) => calibrate(run, batchNs));
  const samples: number[][] = runs.map(() => []);
  const start = cpuNs();
  while (samples[0]!.length < minBatches || cpuNs() - start < budgetNs) {
    for (let i = 0; i < runs.length; i++) {
      const t0 = cpuNs();
      runs[i]!(perBatch[i]!);
      samples[i]!.push((cpuNs() - t0) / perBatch[i]!);
    }
    if (samples[0]!.length >= 10_000) break;
  }
  return samples.map((perOp, i) => ({ perOp, ops: perOp.length * perBatch[i]! }));
}

/**
 * Warms `run` up and returns the number of operations that take about `batchNs`
 * of CPU time: doubles (or scales) `n` until two batches in a row reach
 * `batchNs`, so one slow first call (compilation, a GC) does not leave batches
 * of one operation, which would time the clock instead of the operation.
 */
function calibrate(run: (n: number) => void, batchNs: number): number {
  let perBatch = 1;
  let longEnough = 0;
  for (;;) {
    const t0 = cpuNs();
    run(perBatch);
    const ns = cpuNs() - t0;
    if (ns >= batchNs) {
      if (++longEnough === 2 || perBatch >= 1 << 24) return perBatch;
      continue;
    }
    longEnough = 0;
    if (perBatch >= 1 << 24) return perBatch;
    perBatch =
      ns <= 0 ? perBatch * 8 : Math.max(perBatch * 2, Math.ceil((perBatch * batchNs) / ns));
  }
}

/** CPU time used by this process so far (user + system, all threads), in nanoseconds. */
function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
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
