import type { AddressEvent, AddressHistory } from "@ipam/store";
import type { Logger } from "pino";

/** Where an agent ships its journal: one server (or, in role all, its own archive). */
export interface HistoryTarget {
  /** Stable name for logs and the cursor (the server's address). */
  readonly name: string;
  /**
   * Stores `events` of `node`'s `journal` (each once) and resolves with the highest seq of that
   * journal the target now stores; an empty batch only asks for it. Rejects when unreachable.
   */
  send(node: string, journal: string, events: readonly AddressEvent[]): Promise<number>;
}

export interface JournalShipperOptions {
  readonly nodeId: string;
  readonly history: Pick<AddressHistory, "journalId" | "journalAfter" | "pruneJournal">;
  /** The targets of this pass (read each pass: servers may change). */
  readonly targets: () => readonly HistoryTarget[];
  /** Events older than this many ms are pruned from the journal. */
  readonly retentionMs: number;
  readonly logger: Logger;
  /** Clock, ms since the epoch. */
  readonly now?: () => number;
  /** Most events in one shipment; default 512 (within the servers' request limit). */
  readonly batch?: number;
}

/** Most shipments per target in one pass, and most prune batches: a pass stays short. */
const MAX_ROUNDS = 16;
/** Journal rows deleted per prune transaction. */
const PRUNE_BATCH = 1000;

/**
 * Ships this node's address journal to every target, in seq order, idempotently (a target
 * stores each `(node, journal, seq)` once and answers how far it has), and prunes the journal
 * past the retention in bounded batches. Runs off the allocation path, on a timer; a target that
 * does not answer is retried on the next pass from where it said it was.
 */
export class JournalShipper {
  readonly #o: JournalShipperOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Per target: the highest seq it said it stores (absent: ask first). */
  readonly #cursors = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: JournalShipperOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "history-shipper" });
    this.#now = options.now ?? Date.now;
  }

  /** Runs a pass every `intervalMs` (one at a time) until {@link stop}. */
  start(intervalMs: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      if (this.#running !== undefined) return;
      this.#running = this.pass().finally(() => {
        this.#running = undefined;
      });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a pass in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One pass: ship to every target at once, then prune. Never rejects. */
  async pass(): Promise<void> {
    const journal = this.#o.history.journalId();
    await Promise.all(this.#o.targets().map((t) => this.#ship(t, journal)));
    this.#prune();
  }

  async #ship(target: HistoryTarget, journal: string): Promise<void> {
    const batch = this.#o.batch ?? 512;
    try {
      let cursor = this.#cursors.get(target.name);
      if (cursor === undefined) {
        cursor = await target.send(this.#o.nodeId, journal, []);
        this.#cursors.set(target.name, cursor);
      }
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const events = this.#o.history.journalAfter(cursor, batch);
        if (events.length === 0) return;
        cursor = await target.send(this.#o.nodeId, journal, events);
        this.#cursors.set(target.name, cursor);
        if (events.length < batch) return;
      }
    } catch (err) {
      // Ask again next time: the target may have restarted or lost its copy.
      this.#cursors.delete(target.name);
      this.#log.debug({ err, target: target.name }, "address history not shipped; retrying");
    }
  }

  #prune(): void {
    const before = this.#now() - this.#o.retentionMs;
    if (before <= 0) return;
    try {
      let pruned = 0;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const n = this.#o.history.pruneJournal(before, PRUNE_BATCH);
        pruned += n;
        if (n < PRUNE_BATCH) break;
      }
      if (pruned > 0) this.#log.debug({ pruned }, "address journal pruned");
    } catch (err) {
      this.#log.warn({ err }, "address journal prune failed");
    }
  }
}
