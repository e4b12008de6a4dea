/**
 * Rounds a measured number for the JSON rows and the table: integers from 100 up, one decimal
 * from 10, two decimals from 1, three significant digits below 1 (so 0.0042 ms stays 0.0042).
 * The sign is kept; NaN and ±Infinity come back unchanged.
 */
export function round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const size = Math.abs(x);
  if (size >= 100) return Math.round(x);
  if (size >= 10) return Math.round(x * 10) / 10;
  if (size >= 1) return Math.round(x * 100) / 100;
  return Number(x.toPrecision(3));
}
