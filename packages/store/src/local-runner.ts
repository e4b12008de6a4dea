import type Database from "better-sqlite3";
import {
  type BatchOutcome,
  prepareTransaction,
  runBatch,
  type TransactionStatements,
} from "./commit-batch.js";
import type { BatchRunner } from "./group-commit.js";
import type { WriteLock } from "./write-lock.js";
import { type WriteOp, WriteTarget } from "./write-op.js";

/**
 * Runs group commit batches on the calling thread's connection (`commitThread: "main"`, and
 * always for `:memory:` and read-only stores): `run` commits — fsync included — before it
 * returns, blocking the event loop meanwhile, and calls `done` synchronously.
 */
export class LocalRunner implements BatchRunner {
  readonly #db: Database.Database;
  readonly #tx: TransactionStatements;
  readonly #target: WriteTarget;
  readonly #lock: { readonly lock: WriteLock; readonly timeoutMs: number };

  constructor(db: Database.Database, lock: WriteLock, lockTimeoutMs: number) {
    this.#db = db;
    this.#tx = prepareTransaction(db);
    this.#target = new WriteTarget(db);
    this.#lock = { lock, timeoutMs: lockTimeoutMs };
  }

  run(ops: readonly WriteOp[], done: (outcome: BatchOutcome) => void): void {
    done(runBatch(this.#db, this.#tx, this.#target, ops, this.#lock));
  }

  settleSync(): void {}

  close(): void {}
}
