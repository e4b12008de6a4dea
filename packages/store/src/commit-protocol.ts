import type { MessagePort } from "node:worker_threads";
import type { BatchOutcome, ItemOutcome, StoreErrorData } from "./commit-batch.js";

// The messages between a store (main thread) and the commit thread, and the shared memory
// of one store's connection there. Every reply is posted on the store's port first and then
// counted in `REPLIES` (with `Atomics.notify`), so a thread blocked in `Atomics.wait` on that
// cell finds the reply with `receiveMessageOnPort` when it wakes.

/** Int32 cells of a connection's shared memory. */
export const SHARED_CELLS = 3;
/** Cell 0: the store's `WriteLock`. */
export const LOCK = 0;
/** Cell 1: replies posted so far (a wake-up counter, wraps). */
export const REPLIES = 1;
/** Cell 2: 1 once the commit thread is exiting: no further reply will come. */
export const GONE = 2;

/** To the commit thread's own port: open a connection to `path`, served on `port`. */
export interface OpenMessage {
  readonly type: "open";
  readonly port: MessagePort;
  readonly shared: Int32Array;
  readonly path: string;
  readonly busyTimeoutMs: number;
  /** Most writes in one transaction when batches are merged (the store's `maxBatchSize`). */
  readonly maxBatch: number;
  /** `PRAGMA max_page_count` (the store's `maxSizeBytes`), per connection in SQLite. */
  readonly maxPageCount?: number;
}

/**
 * To a connection's port: commit `ops`, or close. Served in order; batches waiting when a
 * transaction begins are merged into it (up to `maxBatch` writes), each still answered alone.
 */
export type ConnectionRequest =
  | { readonly type: "batch" /** `encodeOps` of the batch. */; readonly ops: readonly unknown[] }
  | { readonly type: "close" };

/** A batch's outcome on the way back: a save that created its record is `true` (`compactOutcomes`). */
export type WireOutcome = Omit<BatchOutcome, "items"> & {
  readonly items: readonly (ItemOutcome | true)[];
};

/** From a connection's port, one per request, in order (`outcome.commit` on the last batch of a transaction). */
export type ConnectionReply =
  | { readonly type: "batch"; readonly outcome: WireOutcome }
  | { readonly type: "closed"; readonly error?: StoreErrorData };
