/**
 * The nearest-rank quantile `q` (0..1) of an ascending-sorted array: the smallest sample with
 * at least `q` of the samples at or below it. `quantile(s, 0.5)` is the median (the lower one
 * for an even count), `quantile(s, 0)` the minimum, `quantile(s, 1)` the maximum. Does not sort
 * or copy: the caller sorts. NaN for an empty array.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}
