import type { BenchRow, Better } from "./bench-row.js";
import { round } from "./round.js";

/**
 * A copy of `row` compared with `baseline`, which must have run in the same process and the
 * same run: `baseline` = the baseline's name, `ratio` > 1 when `row` is better. For costs
 * (`better` = `"lower"`, the default) ratio = baseline / row; for rates (`"higher"`) ratio =
 * row / baseline. The ratio is rounded with `round`.
 */
export function withBaseline(
  row: BenchRow,
  baseline: BenchRow,
  better: Better = "lower",
): BenchRow {
  const ratio = better === "higher" ? row.value / baseline.value : baseline.value / row.value;
  return { ...row, baseline: baseline.name, ratio: round(ratio) };
}
