import { performance } from "node:perf_hooks";

/** One row of bench-results/topology.json (see /docs/benchmarks). */
export interface BenchRow {
  name: string;
  unit: "ms" | "µs/op" | "ns/op";
  value: number;
  p50: number;
  p99: number;
  samples: number;
  baseline?: string;
  ratio?: number;
}

const SCALE = { ms: 1, "µs/op": 1e3, "ns/op": 1e6 } as const;

function quantile(sorted: readonly number[], q: number): number {
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[at] as number;
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}

/**
 * Runs `fn` `warmup` times, then `samples` timed times; each sample is `opsPerSample` operations
 * and is reported per operation in `unit`. `value` is the median.
 */
export function measure(
  name: string,
  unit: BenchRow["unit"],
  fn: () => unknown,
  options: { samples: number; warmup?: number; opsPerSample?: number },
): BenchRow {
  const ops = options.opsPerSample ?? 1;
  for (let i = 0; i < (options.warmup ?? 2); i++) fn();
  const times: number[] = [];
  let sink: unknown;
  for (let i = 0; i < options.samples; i++) {
    const start = performance.now();
    sink = fn();
    times.push(((performance.now() - start) * SCALE[unit]) / ops);
  }
  if (sink === Symbol.for("never")) console.log(sink);
  times.sort((a, b) => a - b);
  const p50 = round(quantile(times, 0.5));
  return { name, unit, value: p50, p50, p99: round(quantile(times, 0.99)), samples: times.length };
}

interface Case {
  name: string;
  fn: () => unknown;
}

/**
 * Measures a candidate against its baseline with samples interleaved (baseline, candidate,
 * baseline, ...) so that machine noise hits both alike. Returns [candidate with ratio, baseline].
 */
export function measurePair(
  candidate: Case,
  baseline: Case,
  unit: BenchRow["unit"],
  options: { samples: number; warmup?: number; opsPerSample?: number },
): [BenchRow, BenchRow] {
  const ops = options.opsPerSample ?? 1;
  for (let i = 0; i < (options.warmup ?? 2); i++) {
    baseline.fn();
    candidate.fn();
  }
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < options.samples; i++) {
    [baseline, candidate].forEach((c, k) => {
      const start = performance.now();
      c.fn();
      times[k]?.push(((performance.now() - start) * SCALE[unit]) / ops);
    });
  }
  const row = (name: string, list: number[]): BenchRow => {
    list.sort((a, b) => a - b);
    const p50 = round(quantile(list, 0.5));
    return { name, unit, value: p50, p50, p99: round(quantile(list, 0.99)), samples: list.length };
  };
  const base = row(baseline.name, times[0]);
  return [withBaseline(row(candidate.name, times[1]), base), base];
}

/** Marks `row` as compared with `baseline` (measured in the same process and run). */
export function withBaseline(row: BenchRow, baseline: BenchRow): BenchRow {
  return { ...row, baseline: baseline.name, ratio: round(baseline.value / row.value) };
}

export function printTable(rows: readonly BenchRow[]): void {
  const header = ["benchmark", "median", "p99", "samples", "vs baseline"];
  const lines = rows.map((r) => [
    r.name,
    `${r.value} ${r.unit}`,
    `${r.p99} ${r.unit}`,
    String(r.samples),
    r.ratio === undefined ? "" : `${r.ratio}x faster`,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => (l[i] as string).length)),
  );
  for (const line of [header, ...lines]) {
    console.log(line.map((cell, i) => cell.padEnd(widths[i] as number)).join("  "));
  }
}
