// Benchmark harness for @ipam/subnet-pool: batch timing with medians and p99, rows as
// BENCHMARKS.md describes, a printed table. Not part of the published package.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

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

/** Sorted-sample statistics. */
export function stats(samples: number[]): { median: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
  return { median: at(0.5), p99: at(0.99) };
}

/**
 * Times `run(n)` (n operations in its own loop) in batches of about `batchMs` until `budgetMs`
 * has passed; returns per-op ns of each batch.
 */
export function timeBatches(
  run: (n: number) => void,
  budgetMs = 500,
  batchMs = 2,
): { perOp: number[]; ops: number } {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    run(n);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns >= batchMs * 1e6 || n >= 1 << 22) break;
    n = ns <= 0 ? n * 8 : Math.max(n * 2, Math.ceil((n * batchMs * 1e6) / ns));
  }
  const perOp: number[] = [];
  const end = process.hrtime.bigint() + BigInt(budgetMs * 1e6);
  while (perOp.length < 5 || process.hrtime.bigint() < end) {
    const t0 = process.hrtime.bigint();
    run(n);
    perOp.push(Number(process.hrtime.bigint() - t0) / n);
    if (perOp.length >= 5000) break;
  }
  return { perOp, ops: perOp.length * n };
}

export function round(x: number): number {
  if (x >= 100) return Math.round(x);
  if (x >= 10) return Math.round(x * 10) / 10;
  return Math.round(x * 100) / 100;
}

export function makeRow(
  name: string,
  unit: string,
  samples: number[],
  count = samples.length,
): BenchRow {
  const { median, p99 } = stats(samples);
  return { name, unit, value: round(median), p50: round(median), p99: round(p99), samples: count };
}

export function withBaseline(ours: BenchRow, baseline: BenchRow): BenchRow {
  return { ...ours, baseline: baseline.name, ratio: round(baseline.value / ours.value) };
}

/** A full garbage collection (through --expose-gc, set at run time). */
export function collect(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
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
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => (l[i] as string).length)),
  );
  const fmt = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(fmt(l));
}
