// The load loop and the rows of ipamd's throughput benchmarks (run, cluster, agent).
import { type BenchRow, quantile, summarize, withBaseline } from "@ipam/bench-kit";

export interface Driven {
  /** Completed operations per second over the run (the median round's, for rounds). */
  readonly rate: number;
  /** Per-operation latencies, ms. */
  readonly latencies: number[];
  /** The rate of each round, when the run was made of rounds ({@link alternate}). */
  readonly rates?: readonly number[];
}

/**
 * Runs `a` and `b` in turns, `rounds` times each (a b a b ...), and returns both as one run
 * each: the median round's rate, every round's rate and every latency. Alternating short
 * rounds lets a noisy shared machine slow both sides alike, where two long runs one after the
 * other could each meet a different load.
 */
export async function alternate(
  rounds: number,
  a: () => Promise<Driven>,
  b: () => Promise<Driven>,
): Promise<[Driven, Driven]> {
  const runs: [Driven[], Driven[]] = [[], []];
  for (let round = 0; round < rounds; round++) {
    runs[0].push(await a());
    runs[1].push(await b());
  }
  return [combineRounds(runs[0]), combineRounds(runs[1])];
}

/** Rounds of one side as one run: the median round's rate, every round's rate, every latency. */
export function combineRounds(list: readonly Driven[]): Driven {
  const rates = list.map((r) => r.rate);
  return {
    rate: quantile(
      [...rates].sort((x, y) => x - y),
      0.5,
    ),
    latencies: list.flatMap((r) => r.latencies),
    rates,
  };
}

/**
 * Runs `op` in `concurrency` loops for `runMs`; returns the rate and the latencies. An error
 * for which `stopOn(err)` is true ends the whole run early instead of failing it.
 */
export async function drive(
  concurrency: number,
  runMs: number,
  op: (worker: number, i: number) => Promise<void>,
  stopOn: (err: unknown) => boolean = () => false,
): Promise<Driven> {
  const latencies: number[] = [];
  let stopped = false;
  const start = performance.now();
  const end = start + runMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < end && !stopped; i++) {
        const t = performance.now();
        try {
          await op(w, i);
        } catch (err) {
          if (!stopOn(err)) throw err;
          stopped = true;
          break;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { rate: latencies.length / ((performance.now() - start) / 1000), latencies };
}

/** A rate row and a latency row for one run (BENCHMARKS.md: one unit per row). */
export interface RunRows {
  readonly rate: BenchRow;
  readonly latency: BenchRow;
}

/**
 * The rows of a run: `name` in `unit` (per second; `scale` multiplies the rate, e.g. items per
 * call), and `name, latency` in ms. With `baseline`, each row carries its ratio against the
 * baseline's row of the same kind (above 1 = faster than the baseline).
 */
export function runRows(
  name: string,
  unit: string,
  r: Driven,
  options: { baseline?: RunRows; scale?: number } = {},
): RunRows {
  let rate = summarize(
    name,
    unit,
    (r.rates ?? [r.rate]).map((x) => x * (options.scale ?? 1)),
    {
      count: r.latencies.length,
      better: "higher",
    },
  );
  let latency = summarize(`${name}, latency`, "ms", r.latencies);
  if (options.baseline !== undefined) {
    rate = withBaseline(rate, options.baseline.rate, "higher");
    latency = withBaseline(latency, options.baseline.latency);
  }
  return { rate, latency };
}
