/**
 * One row of `bench-results/<package>.json`, as /BENCHMARKS.md describes.
 *
 * `value` is the median of the repeated samples and always equals `p50`. For a cost (time,
 * bytes) `p99` is the 99th percentile, the slow tail; for a rate (ops/s) it is the 1st
 * percentile, which is the slow tail of a rate. `baseline` and `ratio` are present only when
 * the baseline ran in the same process, in the same run; `ratio` above 1 means this row is
 * faster (or smaller) than its baseline.
 */
export interface BenchRow {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly p50: number;
  readonly p99: number;
  /** How many operations (or runs) the row summarises. */
  readonly samples: number;
  /**
   * The machine's load averages over 1, 5 and 15 minutes (`os.loadavg()`) when the row was
   * summarised: absolute figures from a busy machine are inflated, ratios much less so.
   */
  readonly loadavg?: readonly [number, number, number];
  /** The `name` of the row this one is compared with. */
  readonly baseline?: string;
  readonly ratio?: number;
}

/**
 * Which direction of a number is good: `"lower"` for costs (ms, ns/op, bytes), `"higher"` for
 * rates (ops/s, commits/s).
 */
export type Better = "lower" | "higher";
