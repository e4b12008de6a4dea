import type Database from "better-sqlite3";
import { toStoreError } from "./map-sqlite-error.js";
import type { StoreError } from "./store-error.js";

/** What one flushed batch did; passed to the `onCommit` observer (e.g. a latency histogram). */
export interface CommitInfo {
  /** Writes in the batch (including those rejected on their own, e.g. `CONFLICT`). */
  readonly writes: number;
  /** Time spent in the transaction including the fsync, milliseconds. */
  readonly durationMs: number;
  /** false when the whole batch failed (every caller was rejected). */
  readonly ok: boolean;
}

interface Pending {
  readonly op: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** Item-level codes: such an error rejects only its own write, the batch carries on. */
const ITEM_CODES: ReadonlySet<string> = new Set(["CONFLICT", "INVALID_ARGUMENT", "NOT_FOUND"]);

export interface GroupCommitOptions {
  /** Wait this long (ms) after the first queued write before flushing; 0 = next event-loop turn. */
  readonly windowMs: number;
  /** At most this many writes per transaction; the rest go into the next one. */
  readonly maxBatch: number;
  readonly onCommit?: (info: CommitInfo) => void;
}

/**
 * Group commit over one better-sqlite3 connection.
 *
 * `submit(op)` queues a synchronous write. Queued writes are flushed together — all writes
 * queued in the same event-loop turn, or within `windowMs` of the first — in ONE immediate
 * transaction, one fsync with `synchronous=FULL`. A write that throws an item-level error
 * (`CONFLICT`, `INVALID_ARGUMENT`, `NOT_FOUND`) rejects only its own caller; ops MUST be
 * item-atomic: write nothing when they throw such an error (a savepoint per write would
 * guarantee it generically but costs two statements per write on the hot path). Any other failure (disk full, I/O error,
 * lock timeout, failed COMMIT) rolls the whole transaction back and rejects every caller in
 * the batch with the same typed error. A promise resolves only after the COMMIT that made its
 * write durable has returned. Writes are applied in submission order.
 */
export class GroupCommitter {
  readonly #db: Database.Database;
  readonly #options: GroupCommitOptions;
  #queue: Pending[] = [];
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;

  constructor(db: Database.Database, options: GroupCommitOptions) {
    this.#db = db;
    this.#options = options;
    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#commit = db.prepare("COMMIT");
    this.#rollback = db.prepare("ROLLBACK");
  }

  /** Queues `op`; resolves with its result once durable, rejects with a `StoreError`. */
  submit<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Arms one flush: after the window, or on the next turn when `now`. */
  #schedule(now = false): void {
    if (this.#scheduled !== undefined) return;
    const run = () => {
      this.#scheduled = undefined;
      this.#flushOne();
      // What is still queued was queued before this flush: it has had its window.
      if (this.#queue.length > 0) this.#schedule(true);
    };
    this.#scheduled =
      this.#options.windowMs > 0 && !now
        ? setTimeout(run, this.#options.windowMs)
        : setImmediate(run);
  }

  /** Flushes everything queued now, synchronously (used by `close()`). */
  flushAll(): void {
    if (this.#scheduled !== undefined) {
      clearTimeout(this.#scheduled as NodeJS.Timeout);
      clearImmediate(this.#scheduled as NodeJS.Immediate);
      this.#scheduled = undefined;
    }
    while (this.#queue.length > 0) this.#flushOne();
  }

  #flushOne(): void {
    const batch =
      this.#queue.length <= this.#options.maxBatch
        ? this.#queue
        : this.#queue.slice(0, this.#options.maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#options.maxBatch);
    const results: unknown[] = new Array(batch.length);
    const failed: boolean[] = new Array(batch.length).fill(false);
    const started = performance.now();
    let batchError: StoreError | undefined;
    try {
      this.#begin.run();
      for (let i = 0; i < batch.length; i++) {
        try {
          results[i] = batch[i]!.op();
        } catch (err) {
          const e = toStoreError(err, "write");
          if (!ITEM_CODES.has(e.code) || !this.#db.inTransaction) throw e;
          results[i] = e;
          failed[i] = true;
        }
      }
      this.#commit.run();
    } catch (err) {
      batchError = toStoreError(err, `commit of ${batch.length} writes`);
      if (this.#db.inTransaction) {
        try {
          this.#rollback.run();
        } catch {
          // The transaction is already gone (SQLite rolls back on some errors by itself).
        }
      }
    }
    const elapsed = performance.now() - started;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      if (batchError !== undefined) p.reject(batchError);
      else if (failed[i]) p.reject(results[i]);
      else p.resolve(results[i]);
    }
    // After the callers are settled, so an observer that throws cannot lose an acknowledgement.
    this.#options.onCommit?.({
      writes: batch.length,
      durationMs: elapsed,
      ok: batchError === undefined,
    });
  }
}
