import { type BatchOutcome, type CommitInfo, storeErrorFromData } from "./commit-batch.js";
import { StoreError } from "./store-error.js";
import type { WriteOp, WriteResult } from "./write-op.js";

export type { CommitInfo } from "./commit-batch.js";

/**
 * Where batches run: on this thread's connection (`LocalRunner`) or on the commit thread
 * (`ThreadRunner`). A batch may be handed over while earlier ones are still in flight.
 */
export interface BatchRunner {
  /**
   * Commits `ops` (`runBatch`: alone, or merged with the batches handed over just before or
   * after it into one transaction) and calls `done` exactly once with the batch's outcome, once
   * it is durable: synchronously (local) or from a later event-loop task (thread). Batches are
   * committed, and their `done` called, in the order of the `run` calls.
   */
  run(ops: readonly WriteOp[], done: (outcome: BatchOutcome) => void): void;
  /** Blocks until every batch handed to `run` has called its `done` (used by `close()`). */
  settleSync(): void;
  /** After `settleSync`: releases what the runner holds (the commit thread's connection). */
  close(): void;
}

interface Pending {
  readonly op: WriteOp;
  readonly resolve: (value: WriteResult) => void;
  readonly reject: (err: unknown) => void;
}

export interface GroupCommitOptions {
  /** Wait this long (ms) after the first queued write before flushing; 0 = next event-loop turn. */
  readonly windowMs: number;
  /** At most this many writes per transaction; the rest go into the next one. */
  readonly maxBatch: number;
  readonly onCommit?: (info: CommitInfo) => void;
}

/**
 * Group commit: the queue in front of a `BatchRunner`.
 *
 * `submit(op)` queues a write. Queued writes are handed to the runner together — all writes
 * queued in the same event-loop turn, or within `windowMs` of the first — as one batch of at
 * most `maxBatch` writes (a longer queue goes on in the next turns). The runner commits a
 * batch as ONE transaction, one fsync with `synchronous=FULL`: on the calling thread before
 * `run` returns, or on the commit thread, which merges every batch waiting when it begins a
 * transaction (up to `maxBatch` writes), so that writes arriving while it commits go together
 * into the next one. A write that fails with an item-level error (`CONFLICT`,
 * `INVALID_ARGUMENT`, `NOT_FOUND`) rejects only its own caller; any other failure rejects every
 * caller of the transaction with the same typed error and nothing of it is written. A promise
 * resolves only after the COMMIT that made its write durable has returned. Writes are applied
 * in submission order.
 */
export class GroupCommitter {
  readonly #runner: BatchRunner;
  readonly #options: GroupCommitOptions;
  #queue: Pending[] = [];
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;

  constructor(runner: BatchRunner, options: GroupCommitOptions) {
    this.#runner = runner;
    this.#options = options;
  }

  /** Queues `op`; resolves with its result once durable, rejects with a `StoreError`. */
  submit<T extends WriteResult>(op: WriteOp): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (v: WriteResult) => void, reject });
      this.#schedule(false);
    });
  }

  /** Arms one flush (after the window, or on the next turn when `now`) unless one is armed. */
  #schedule(now: boolean): void {
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

  /** Commits everything queued and in flight, blocking until it is durable (`close()`). */
  flushAll(): void {
    if (this.#scheduled !== undefined) {
      clearTimeout(this.#scheduled as NodeJS.Timeout);
      clearImmediate(this.#scheduled as NodeJS.Immediate);
      this.#scheduled = undefined;
    }
    while (this.#queue.length > 0) this.#flushOne();
    this.#runner.settleSync();
  }

  #flushOne(): void {
    if (this.#queue.length === 0) return;
    const batch =
      this.#queue.length <= this.#options.maxBatch
        ? this.#queue
        : this.#queue.slice(0, this.#options.maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#options.maxBatch);
    this.#runner.run(
      batch.map((p) => p.op),
      (outcome) => this.#settle(batch, outcome),
    );
  }

  #settle(batch: readonly Pending[], outcome: BatchOutcome): void {
    const batchError = outcome.error === undefined ? undefined : storeErrorFromData(outcome.error);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      const item = outcome.items[i];
      if (batchError !== undefined) p.reject(batchError);
      else if (item === undefined) {
        p.reject(new StoreError("INTERNAL", `commit: no outcome for write ${i} of the batch`));
      } else if (item.ok) p.resolve(item.value);
      else p.reject(storeErrorFromData(item.error));
    }
    // After the callers are settled, so an observer that throws cannot lose an acknowledgement.
    if (outcome.commit !== undefined) this.#options.onCommit?.(outcome.commit);
  }
}
