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
  /** Reads the source (or joins the read in flight) and writes the gauges. Never rejects. */
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

  const run = async (read: GaugeSource<T>): Promise<void> => {
    try {
      const value = await read();
      hooks.clear();
      if (value !== undefined) hooks.write(value);
    } catch (error) {
      hooks.clear();
      hooks.onError(error);
    } finally {
      inflight = undefined;
    }
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
      inflight = run(source);
      return inflight;
    },
  };
}
