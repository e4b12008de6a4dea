// Measuring loops of the @ipam/subnet-pool benchmarks: batch timing and a forced GC. Rows,
// statistics, the table and the results file come from @ipam/bench-kit.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Times `run(n)` (n operations in its own loop) in batches of about `batchMs` until `budgetMs`
 * has passed; returns per-op ns of each batch.
 */
export function timeBatches(
  run: (n: number) => void,
  budgetMs = 500,
  batchMs = 2,
): { perOp: number[]; ops: number } {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    run(n);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns >= batchMs * 1e6 || n >= 1 << 22) break;
    n = ns <= 0 ? n * 8 : Math.max(n * 2, Math.ceil((n * batchMs * 1e6) / ns));
  }
  const perOp: number[] = [];
  const end = process.hrtime.bigint() + BigInt(budgetMs * 1e6);
  while (perOp.length < 5 || process.hrtime.bigint() < end) {
    const t0 = process.hrtime.bigint();
    run(n);
    perOp.push(Number(process.hrtime.bigint() - t0) / n);
    if (perOp.length >= 5000) break;
  }
  return { perOp, ops: perOp.length * n };
}

/** A full garbage collection (through --expose-gc, set at run time). */
export function collect(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}
