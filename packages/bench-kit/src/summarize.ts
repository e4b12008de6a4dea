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
}

/**
 * Summarises repeated measurements into a row: `value` = `p50` = the nearest-rank median,
 * `p99` the slow tail (see `better`), `samples` = `count` or the number of samples. Does not
 * modify `samples`. Throws a RangeError when `samples` is empty (nothing was measured).
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
  return { name, unit, value: p50, p50, p99, samples: options.count ?? samples.length };
}
