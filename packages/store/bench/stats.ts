/** One row of `bench-results/store.json` (see BENCHMARKS.md). */
export interface BenchRow {
  name: string;
  unit: string;
  value: number;
  p50: number;
  p99: number;
  samples: number;
  baseline?: string;
  ratio?: number;
}

/** Value at quantile q (0..1) of an ascending-sorted array (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
