// Measuring loops of the topology benchmarks: plain timed samples and interleaved
// candidate/baseline pairs. Rows, statistics and the table come from @ipam/bench-kit.
import { performance } from "node:perf_hooks";
import { type BenchRow, summarize, withBaseline } from "@ipam/bench-kit";

/** The units these benchmarks report in (each sample is scaled from ms). */
export type Unit = "ms" | "µs/op" | "ns/op";

const SCALE = { ms: 1, "µs/op": 1e3, "ns/op": 1e6 } as const;

/**
 * Runs `fn` `warmup` times, then `samples` timed times; each sample is `opsPerSample` operations
 * and is reported per operation in `unit`. `value` is the median.
 */
export function measure(
  name: string,
  unit: Unit,
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
  return summarize(name, unit, times);
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
  unit: Unit,
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
  const base = summarize(baseline.name, unit, times[0]);
  return [withBaseline(summarize(candidate.name, unit, times[1]), base), base];
}
