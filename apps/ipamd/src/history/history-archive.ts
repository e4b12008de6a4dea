import { type AddressEvent, type AddressHistory, canonicalAddress } from "@ipam/store";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import { holdersAt } from "./holders.js";

/** What {@link HistoryArchive.query} answers. */
export interface HistoryAnswer {
  /** Events of the address in the asked window, oldest first (time, node, seq). */
  readonly events: AddressEvent[];
  /** With `at`: the allocate events of the holders at that time. */
  readonly holders: AddressEvent[];
  /** The oldest event kept, ms (undefined: none). */
  readonly oldestKept: number | undefined;
}

export interface HistoryArchiveOptions {
  readonly history: Pick<
    AddressHistory,
    "archive" | "archivedOf" | "oldestArchived" | "pruneArchive" | "growth"
  >;
  /** Events older than this many ms are pruned. */
  readonly retentionMs: number;
  readonly logger: Logger;
  /** Clock, ms since the epoch. */
  readonly now?: () => number;
}

/** Archive rows deleted per prune transaction, and most transactions per pass. */
const PRUNE_BATCH = 1000;
const PRUNE_ROUNDS = 16;

/**
 * A server's copy of every node's address events (the agents ship them; see JournalShipper):
 * answers who held an address and when, also for nodes that are down or gone, and prunes past
 * the retention in bounded batches on a timer.
 */
export class HistoryArchive {
  readonly #o: HistoryArchiveOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HistoryArchiveOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "history-archive" });
    this.#now = options.now ?? Date.now;
  }

  get retentionMs(): number {
    return this.#o.retentionMs;
  }

  /** The clock the archive prunes and answers by, ms. */
  now(): number {
    return this.#now();
  }

  /** The underlying history (forecast series). */
  get history(): HistoryArchiveOptions["history"] {
    return this.#o.history;
  }

  /** Stores shipped events (each once); returns the highest seq of that journal now stored. */
  put(node: string, journal: string, events: readonly AddressEvent[]): number {
    return this.#o.history.archive(node, journal, events);
  }

  /**
   * The events of `address` with `since <= at <= until` and, with `at`, its holders then.
   * @throws IpamdError INVALID_ARGUMENT naming `address` or a time field.
   */
  query(address: string, window: { since?: number; until?: number; at?: number }): HistoryAnswer {
    const canon = canonicalAddress(address);
    if (canon === undefined) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `address: ${JSON.stringify(address)} is not an IP address`,
      );
    }
    const since = window.since ?? 0;
    const until = window.until ?? Number.MAX_SAFE_INTEGER;
    if (until < since) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `until_unix_ms: ${until} is before since_unix_ms ${since}`,
      );
    }
    const h = this.#o.history;
    const events = h.archivedOf(canon, since, until);
    const holders =
      window.at === undefined ? [] : holdersAt(h.archivedOf(canon, 0, window.at), window.at);
    return { events, holders, oldestKept: h.oldestArchived() };
  }

  /** Prunes every `intervalMs` until {@link stop}. */
  startPruning(intervalMs: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.prune(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One bounded prune pass; returns how many events it removed. Never throws. */
  prune(): number {
    const before = this.#now() - this.#o.retentionMs;
    if (before <= 0) return 0;
    let pruned = 0;
    try {
      for (let round = 0; round < PRUNE_ROUNDS; round++) {
        const n = this.#o.history.pruneArchive(before, PRUNE_BATCH);
        pruned += n;
        if (n < PRUNE_BATCH) break;
      }
    } catch (err) {
      this.#log.warn({ err }, "address history prune failed");
    }
    if (pruned > 0) this.#log.debug({ pruned }, "address history pruned");
    return pruned;
  }
}

/** How often the journal and the archive are pruned for a retention: a tenth of it, 1 s..60 s. */
export function pruneIntervalMs(retentionMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(retentionMs / 10)));
}
