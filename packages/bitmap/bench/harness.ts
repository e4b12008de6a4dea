// Benchmark harness: timed batches, median and p99 per-op times, JSON rows as
// BENCHMARKS.md describes. Not part of the published package.

export interface BenchRow {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
  readonly baseline?: string;
  readonly ratio?: number;
}

export interface Measurement {
  /** Median ns/op over the timed batches. */
  readonly median: number;
  readonly p99: number;
  /** Number of timed batches. */
  readonly batches: number;
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
  samples.sort((a, b) => a - b);
  return {
    median: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
    batches: samples.length,
    ops: samples.length * perBatch,
  };
}

function percentile(sorted: readonly number[], q: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

export function round(x: number): number {
  if (x >= 100) return Math.round(x);
  if (x >= 10) return Math.round(x * 10) / 10;
  return Math.round(x * 100) / 100;
}

export function row(name: string, unit: string, m: Measurement): BenchRow {
  return {
    name,
    unit,
    value: round(m.median),
    p50: round(m.median),
    p99: round(m.p99),
    samples: m.ops,
  };
}

export function withBaseline(ours: BenchRow, baseline: BenchRow): BenchRow {
  return { ...ours, baseline: baseline.name, ratio: round(baseline.value / ours.value) };
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

export function printTable(rows: readonly BenchRow[]): void {
  const header = ["name", "value", "unit", "p99", "samples", "ratio"];
  const lines = rows.map((r) => [
    r.name,
    String(r.value),
    r.unit,
    String(r.p99),
    String(r.samples),
    r.ratio === undefined ? "" : `${r.ratio}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(fmt(l));
}
