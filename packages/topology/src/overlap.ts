import { compareIntervals, type SubnetInterval } from "./topology.js";

/**
 * Overlap detection over inclusive address intervals, O(n log n): sort by start, then sweep
 * keeping the interval that reaches furthest. Every interval that overlaps some earlier one is
 * reported once, paired with the furthest-reaching earlier interval (which it overlaps). The set
 * of intervals appearing in the result is exactly the set of intervals that overlap any other.
 */
export function findOverlaps(
  intervals: readonly SubnetInterval[],
): Array<{ readonly first: SubnetInterval; readonly second: SubnetInterval }> {
  const sorted = [...intervals].sort(compareIntervals);
  const out: Array<{ first: SubnetInterval; second: SubnetInterval }> = [];
  let reach: SubnetInterval | undefined;
  for (const current of sorted) {
    if (reach !== undefined && current.start <= reach.end) {
      out.push({ first: reach, second: current });
      if (current.end > reach.end) reach = current;
    } else {
      reach = current;
    }
  }
  return out;
}

/** First position in `sorted` whose start is greater than `start` (upper bound). */
function upperBound(sorted: readonly SubnetInterval[], start: bigint): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as SubnetInterval).start <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * An interval of `sorted` (sorted by start and pairwise disjoint) that overlaps
 * [start, end], or undefined. O(log n): only the neighbours of the insertion point can overlap.
 */
export function findOverlapping(
  sorted: readonly SubnetInterval[],
  start: bigint,
  end: bigint,
): SubnetInterval | undefined {
  const at = upperBound(sorted, start);
  const before = sorted[at - 1];
  if (before !== undefined && before.end >= start) return before;
  const after = sorted[at];
  if (after !== undefined && after.start <= end) return after;
  return undefined;
}

/** A new sorted array with `interval` inserted; `sorted` is not modified. */
export function withInterval(
  sorted: readonly SubnetInterval[],
  interval: SubnetInterval,
): SubnetInterval[] {
  const at = upperBound(sorted, interval.start);
  return [...sorted.slice(0, at), interval, ...sorted.slice(at)];
}

/** A new array without the interval of subnet `id`; `sorted` is not modified. */
export function withoutInterval(sorted: readonly SubnetInterval[], id: string): SubnetInterval[] {
  return sorted.filter((i) => i.id !== id);
}
