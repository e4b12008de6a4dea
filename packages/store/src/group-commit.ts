import { type BatchOutcome, storeErrorFromData } from "./commit-batch.js";
import { StoreError } from "./store-error.js";
import type { WriteOp, WriteResult } from "./write-op.js";

/** What one flushed batch did; passed to the `onCommit` observer (e.g. a latency histogram). */
export interface CommitInfo {
  /** Writes in the batch (including those rejected on their own, e.g. `CONFLICT`). */
  readonly writes: number;
  /** Time spent in the transaction including the fsync, milliseconds. */
  readonly durationMs: number;
  /** false when the whole batch failed (every caller was rejected). */
  readonly ok: boolean;
}

/**
 * Where batches run: on this thread's connection (`LocalRunner`) or on the commit thread
 * (`ThreadRunner`). The group committer hands it one batch at a time.
 */
export interface BatchRunner {
  /**
   * Runs `ops` as one durable transaction (`runBatch`) and calls `done` exactly once with the
   * outcome, once it is durable: synchronously (local) or from a later event-loop task (thread).
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
 * `submit(op)` queues a write. Queued writes are flushed together — all writes queued in the
 * same event-loop turn, or within `windowMs` of the first — as ONE transaction, one fsync with
 * `synchronous=FULL`. At most one batch is in flight: writes submitted while a batch commits
 * (on the commit thread, the event loop keeps running) wait for it and then go together as
 * the next batch, so the batch size follows the commit latency. A write that fails with an
 * item-level error (`CONFLICT`, `INVALID_ARGUMENT`, `NOT_FOUND`) rejects only its own caller;
 * any other failure rejects every caller of the batch with the same typed error and nothing
 * of the batch is written. A promise resolves only after the COMMIT that made its write
 * durable has returned. Writes are applied in submission order.
 */
export class GroupCommitter {
  readonly #runner: BatchRunner;
  readonly #options: GroupCommitOptions;
  #queue: Pending[] = [];
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  #inFlight = false;

  constructor(runner: BatchRunner, options: GroupCommitOptions) {
    this.#runner = runner;
    this.#options = options;
  }

  /** Queues `op`; resolves with its result once durable, rejects with a `StoreError`. */
  submit<T extends WriteResult>(op: WriteOp): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve: resolve as (v: WriteResult) => void, reject });
      this.#schedule();
    });
  }

  /** Arms one flush, after the window, unless one is armed or a batch is in flight. */
  #schedule(): void {
    if (this.#scheduled !== undefined || this.#inFlight) return;
    const run = () => {
      this.#scheduled = undefined;
      this.#flushOne();
    };
    this.#scheduled =
      this.#options.windowMs > 0 ? setTimeout(run, this.#options.windowMs) : setImmediate(run);
  }

  /** Commits everything queued and in flight, blocking until it is durable (`close()`). */
  flushAll(): void {
    for (;;) {
      this.#runner.settleSync();
      if (this.#scheduled !== undefined) {
        clearTimeout(this.#scheduled as NodeJS.Timeout);
        clearImmediate(this.#scheduled as NodeJS.Immediate);
        this.#scheduled = undefined;
      }
      if (this.#queue.length === 0) return;
      this.#flushOne();
    }
  }

  #flushOne(): void {
    if (this.#queue.length === 0) return;
    const batch =
      this.#queue.length <= this.#options.maxBatch
        ? this.#queue
        : this.#queue.slice(0, this.#options.maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#options.maxBatch);
    this.#inFlight = true;
    this.#runner.run(
      batch.map((p) => p.op),
      (outcome) => {
        this.#inFlight = false;
        this.#settle(batch, outcome);
        // What is queued now was queued while this batch committed: it has had its window.
        if (this.#queue.length > 0 && this.#scheduled === undefined) {
          this.#scheduled = setImmediate(() => {
            this.#scheduled = undefined;
            this.#flushOne();
          });
        }
      },
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
    this.#options.onCommit?.({
      writes: batch.length,
      durationMs: outcome.durationMs,
      ok: outcome.error === undefined,
    });
  }
}
