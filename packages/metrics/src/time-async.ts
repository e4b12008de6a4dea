import type { Counter, Histogram, LabelValues } from "prom-client";
import { resultOf } from "./labels.js";

/** A monotonic clock in seconds. */
export type Clock = () => number;

/** `performance.now()` in seconds: monotonic, unaffected by wall-clock steps. */
export const monotonicSeconds: Clock = () => performance.now() / 1000;

/** Options of `timeAsync`. */
export interface TimeAsyncOptions<L extends string> {
  /** Also incremented once, with the same labels and `result`. It must have a `result` label. */
  readonly counter?: Counter<L>;
  /** The clock, in seconds; defaults to `monotonicSeconds`. Tests inject a fake one. */
  readonly now?: Clock;
}

/**
 * Runs `fn`, then observes its duration in `histogram` with `labels` plus a `result` label:
 * `ok` when it resolves, the error's stable code (see `resultOf`) when it throws or rejects.
 * The histogram must declare a `result` label (prom-client throws otherwise).
 *
 * Returns what `fn` returns; rethrows what `fn` throws, unchanged, after recording it. A
 * synchronous `fn` is timed the same way.
 */
export async function timeAsync<T, L extends string>(
  histogram: Histogram<L>,
  labels: LabelValues<Exclude<L, "result">>,
  fn: () => T | Promise<T>,
  options: TimeAsyncOptions<L> = {},
): Promise<T> {
  const now = options.now ?? monotonicSeconds;
  const start = now();
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    record(histogram, labels, resultOf(error), now() - start, options.counter);
    throw error;
  }
  record(histogram, labels, "ok", now() - start, options.counter);
  return value;
}

function record<L extends string>(
  histogram: Histogram<L>,
  labels: LabelValues<Exclude<L, "result">>,
  result: string,
  seconds: number,
  counter: Counter<L> | undefined,
): void {
  const all = { ...labels, result } as LabelValues<L>;
  histogram.observe(all, Math.max(0, seconds));
  counter?.inc(all);
}
