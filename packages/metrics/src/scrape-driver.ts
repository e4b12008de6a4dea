import type { GaugeSource } from "./sources.js";

/**
 * Reads one source at most once per scrape and fans the value out to the gauges it feeds.
 *
 * prom-client calls the `collect` of every metric of a registry synchronously, one after the
 * other, before awaiting any of them; each gauge fed by this driver returns `refresh()`, so all
 * of them share the one read started by the first. The read is forgotten once it settles, so
 * the next scrape reads again: values are never older than the scrape that shows them.
 */
export interface ScrapeDriver<T> {
  /** Replaces the source; `undefined` removes it (the gauges then export no series). */
  setSource(source: GaugeSource<T> | undefined): void;
  /**
   * Reads the source (or joins the read in flight) and writes the gauges. Never rejects. With
   * a synchronous source the gauges are written before `refresh` returns.
   */
  refresh(): Promise<void>;
}

/** What a driver does with a value; `clear` must remove every series `write` may set. */
export interface ScrapeDriverHooks<T> {
  readonly clear: () => void;
  readonly write: (value: T) => void;
  /** Called when the source throws or rejects; the gauges are cleared first. */
  readonly onError: (error: unknown) => void;
}

/** Creates a driver with no source. */
export function createScrapeDriver<T>(hooks: ScrapeDriverHooks<T>): ScrapeDriver<T> {
  let source: GaugeSource<T> | undefined;
  let inflight: Promise<void> | undefined;

  const fail = (error: unknown): void => {
    hooks.clear();
    hooks.onError(error);
  };
  const apply = (value: T | undefined): void => {
    try {
      hooks.clear();
      if (value !== undefined) hooks.write(value);
    } catch (error) {
      fail(error);
    }
  };
  // Synchronous sources are applied synchronously; only a promise costs a turn.
  const run = (read: GaugeSource<T>): Promise<void> => {
    let value: T | undefined | Promise<T | undefined>;
    try {
      value = read();
    } catch (error) {
      fail(error);
      return Promise.resolve();
    }
    if (isThenable(value)) return Promise.resolve(value).then(apply, fail);
    apply(value);
    return Promise.resolve();
  };

  return {
    setSource(next) {
      source = next;
      if (next === undefined) hooks.clear();
    },
    refresh() {
      if (inflight !== undefined) return inflight;
      if (source === undefined) {
        hooks.clear();
        return Promise.resolve();
      }
      // Forgotten asynchronously: a source that throws synchronously settles `run` before the
      // assignment below, and must not leave a settled read behind for the next scrape.
      const read: Promise<void> = run(source).finally(() => {
        if (inflight === read) inflight = undefined;
      });
      inflight = read;
      return read;
    },
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { readonly then?: unknown }).then === "function"
  );
}
