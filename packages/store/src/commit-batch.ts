import type Database from "better-sqlite3";
import { toStoreError } from "./map-sqlite-error.js";
import { StoreError, type StoreErrorCode } from "./store-error.js";
import type { WriteLock } from "./write-lock.js";
import type { WriteOp, WriteResult, WriteTarget } from "./write-op.js";

/** A `StoreError` as plain data, so that it crosses threads by structured clone. */
export interface StoreErrorData {
  readonly code: StoreErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** The cause's message and SQLite code, when the error had a cause. */
  readonly cause?: { readonly message: string; readonly code?: string };
}

export function storeErrorToData(err: StoreError): StoreErrorData {
  const cause = err.cause;
  const causeCode = (cause as { code?: unknown } | undefined)?.code;
  return {
    code: err.code,
    message: err.message,
    ...(err.details === undefined ? {} : { details: err.details }),
    ...(cause instanceof Error
      ? {
          cause: {
            message: cause.message,
            ...(typeof causeCode === "string" ? { code: causeCode } : {}),
          },
        }
      : {}),
  };
}

/** The `StoreError` again; its `cause`, if any, is an `Error` with the original message and `code`. */
export function storeErrorFromData(data: StoreErrorData): StoreError {
  const cause =
    data.cause === undefined
      ? undefined
      : Object.assign(
          new Error(data.cause.message),
          data.cause.code === undefined ? {} : { code: data.cause.code },
        );
  return new StoreError(data.code, data.message, {
    details: data.details,
    ...(cause === undefined ? undefined : { cause }),
  });
}

/** What happened to one write of a batch. */
export type ItemOutcome =
  | { readonly ok: true; readonly value: WriteResult }
  | { readonly ok: false; readonly error: StoreErrorData };

/** What one transaction did; passed to the `onCommit` observer (e.g. a latency histogram). */
export interface CommitInfo {
  /** Writes in the transaction (including those rejected on their own, e.g. `CONFLICT`). */
  readonly writes: number;
  /** Time spent in the transaction including the fsync, milliseconds. */
  readonly durationMs: number;
  /** false when the whole transaction failed (every caller was rejected). */
  readonly ok: boolean;
}

/**
 * The outcome of one batch: either `error` (the whole transaction was rolled back, every
 * write failed with it) or one item outcome per write, in order, all durable. `commit`
 * describes the transaction; when the commit thread ran several batches in one transaction,
 * only the last of them carries it.
 */
export interface BatchOutcome {
  readonly items: readonly ItemOutcome[];
  readonly error?: StoreErrorData;
  readonly commit?: CommitInfo;
}

/** Item-level codes: such an error rejects only its own write, the batch carries on. */
const ITEM_CODES: ReadonlySet<string> = new Set(["CONFLICT", "INVALID_ARGUMENT", "NOT_FOUND"]);

/** The prepared BEGIN IMMEDIATE / COMMIT / ROLLBACK of one connection. */
export interface TransactionStatements {
  readonly begin: Database.Statement;
  readonly commit: Database.Statement;
  readonly rollback: Database.Statement;
}

export function prepareTransaction(db: Database.Database): TransactionStatements {
  return {
    begin: db.prepare("BEGIN IMMEDIATE"),
    commit: db.prepare("COMMIT"),
    rollback: db.prepare("ROLLBACK"),
  };
}

/**
 * Runs `ops` in ONE immediate transaction on `db` while holding `lock`, in order, and commits
 * (with `synchronous=FULL`, COMMIT returns after the WAL's fsync). A write that throws an
 * item-level error (`CONFLICT`, `INVALID_ARGUMENT`, `NOT_FOUND`) fails alone — ops are
 * item-atomic (`WriteTarget`); any other failure (disk full, I/O error, lock timeout, failed
 * COMMIT) rolls the whole transaction back and fails the batch. Never throws.
 */
export function runBatch(
  db: Database.Database,
  tx: TransactionStatements,
  target: WriteTarget,
  ops: readonly WriteOp[],
  lock: { readonly lock: WriteLock; readonly timeoutMs: number },
): BatchOutcome {
  const started = performance.now();
  const items: ItemOutcome[] = new Array(ops.length);
  try {
    lock.lock.hold(lock.timeoutMs, `commit of ${ops.length} writes`, () => {
      try {
        tx.begin.run();
        for (let i = 0; i < ops.length; i++) {
          try {
            items[i] = { ok: true, value: target.apply(ops[i]!) };
          } catch (err) {
            const e = toStoreError(err, "write");
            if (!ITEM_CODES.has(e.code) || !db.inTransaction) throw e;
            items[i] = { ok: false, error: storeErrorToData(e) };
          }
        }
        tx.commit.run();
      } catch (err) {
        if (db.inTransaction) {
          try {
            tx.rollback.run();
          } catch {
            // The transaction is already gone (SQLite rolls back on some errors by itself).
          }
        }
        throw err;
      }
    });
  } catch (err) {
    return {
      items: [],
      error: storeErrorToData(toStoreError(err, `commit of ${ops.length} writes`)),
      commit: { writes: ops.length, durationMs: performance.now() - started, ok: false },
    };
  }
  return {
    items,
    commit: { writes: ops.length, durationMs: performance.now() - started, ok: true },
  };
}
