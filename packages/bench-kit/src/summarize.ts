import { loadavg } from "node:os";
import type { BenchRow, Better } from "./bench-row.js";
import { quantile } from "./quantile.js";
import { round as roundNumber } from "./round.js";

export interface SummarizeOptions {
  /** `samples` in the row, when it counts operations rather than samples (batches of n ops). */
  readonly count?: number;
  /** Round value, p50 and p99 with `round` (default true). */
  readonly round?: boolean;
  /**
   * `"higher"` for rates: then `p99` is the 1st percentile, the slow tail of a rate.
   * Default `"lower"`: `p99` is the 99th percentile.
   */
  readonly better?: Better;
  /**
   * The row's `loadavg`. Default `os.loadavg()` read when `summarize` is called (right after
   * the measurement), rounded to two decimals.
   */
  readonly loadavg?: readonly [number, number, number];
}

/**
 * Summarises repeated measurements into a row: `value` = `p50` = the nearest-rank median,
 * `p99` the slow tail (see `better`), `samples` = `count` or the number of samples, `loadavg`
 * the machine's load averages now (see {@link SummarizeOptions.loadavg}). Does not modify
 * `samples`. Throws a RangeError when `samples` is empty (nothing was measured).
 */
export function summarize(
  name: string,
  unit: string,
  samples: ArrayLike<number>,
  options: SummarizeOptions = {},
): BenchRow {
  if (samples.length === 0) throw new RangeError(`summarize("${name}"): no samples`);
  const sorted = Float64Array.from(samples).sort();
  const r = options.round === false ? (x: number) => x : roundNumber;
  const p50 = r(quantile(sorted, 0.5));
  const p99 = r(quantile(sorted, options.better === "higher" ? 0.01 : 0.99));
  const load = options.loadavg ?? currentLoad();
  return {
    name,
    unit,
    value: p50,
    p50,
    p99,
    samples: options.count ?? samples.length,
    loadavg: load,
  };
}

function currentLoad(): [number, number, number] {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  const r = (x: number) => Math.round(x * 100) / 100;
  return [r(one), r(five), r(fifteen)];
}
