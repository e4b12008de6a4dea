// Public API of @ipam/bench-kit: the shared pieces of every package's bench/ (rows, statistics,
// baselines, the printed table, the results file). Measuring loops stay in the packages.
export type { BenchRow, Better } from "./bench-row.js";
export { printTable } from "./print-table.js";
export { quantile } from "./quantile.js";
export { round } from "./round.js";
export { type SummarizeOptions, summarize } from "./summarize.js";
export { withBaseline } from "./with-baseline.js";
export { writeBenchResults } from "./write-bench-results.js";
