// The commit thread of @ipam/store: a worker thread that owns one write connection per open
// store of this process and runs their group commit batches — the SQL, the COMMIT and its
// fsync — so that the main thread's event loop keeps serving while the disk syncs.
// Started by `commit-thread.ts`; never imported. Every handler catches what it can throw: an
// error goes back to the store as a typed outcome, never as an uncaught exception here.
import { parentPort, receiveMessageOnPort } from "node:worker_threads";
import Database from "better-sqlite3";
import {
  type BatchOutcome,
  prepareTransaction,
  runBatch,
  type StoreErrorData,
  storeErrorToData,
} from "./commit-batch.js";
import {
  type ConnectionReply,
  type ConnectionRequest,
  GONE,
  type OpenMessage,
  REPLIES,
} from "./commit-protocol.js";
import { toStoreError } from "./map-sqlite-error.js";
import { StoreError } from "./store-error.js";
import { WriteLock } from "./write-lock.js";
import { type WriteOp, WriteTarget } from "./write-op.js";
import { compactOutcomes, decodeOps } from "./write-op-wire.js";

if (parentPort === null) throw new Error("commit-worker runs as a worker thread of @ipam/store");

/** Shared memory of every connection still open, to mark GONE when this thread exits. */
const live = new Set<Int32Array>();

parentPort.on("message", (message: OpenMessage) => serve(message));
process.on("exit", () => {
  for (const shared of live) {
    Atomics.store(shared, GONE, 1);
    Atomics.add(shared, REPLIES, 1);
    Atomics.notify(shared, REPLIES);
  }
});

/** The write connection: same pragmas as the store's own, on the file it already opened. */
function open(message: OpenMessage): Database.Database {
  const db = new Database(message.path, { fileMustExist: true, timeout: message.busyTimeoutMs });
  try {
    const mode = db.pragma("journal_mode", { simple: true });
    if (mode !== "wal") {
      throw new StoreError(
        "INTERNAL",
        `journal_mode is ${String(mode)}, the commit thread needs wal`,
      );
    }
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    if (message.maxPageCount !== undefined) {
      db.pragma(`max_page_count = ${message.maxPageCount}`);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function serve(message: OpenMessage): void {
  const { port, shared } = message;
  live.add(shared);
  const lock = { lock: new WriteLock(shared), timeoutMs: message.busyTimeoutMs };
  let commit: (ops: readonly WriteOp[]) => BatchOutcome;
  let db: Database.Database | undefined;
  try {
    const conn = open(message);
    db = conn;
    const tx = prepareTransaction(conn);
    const target = new WriteTarget(conn);
    commit = (ops) => runBatch(conn, tx, target, ops, lock);
  } catch (err) {
    // Every batch fails with the reason, so that no write is acknowledged.
    const error = storeErrorToData(toStoreError(err, `open ${message.path} on the commit thread`));
    commit = (ops) => ({
      items: [],
      error,
      commit: { writes: ops.length, durationMs: 0, ok: false },
    });
  }
  const reply = (r: ConnectionReply) => {
    port.postMessage(r);
    Atomics.add(shared, REPLIES, 1);
    Atomics.notify(shared, REPLIES);
  };
  const close = () => {
    let error: StoreErrorData | undefined;
    try {
      db?.close();
    } catch (err) {
      error = storeErrorToData(toStoreError(err, `close ${message.path} on the commit thread`));
    }
    live.delete(shared);
    reply(error === undefined ? { type: "closed" } : { type: "closed", error });
    port.close();
  };

  /** Requests received and not yet served, in order. */
  const pending: ConnectionRequest[] = [];
  port.on("message", (first: ConnectionRequest) => {
    pending.push(first);
    while (pending.length > 0) {
      // Everything that arrived meanwhile (during the last transaction) joins the next one.
      for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
        pending.push(m.message as ConnectionRequest);
      }
      if (pending[0]!.type === "close") {
        close();
        return;
      }
      const batches = takeBatches(pending, message.maxBatch);
      const outcome = commit(batches.flat());
      let offset = 0;
      batches.forEach((ops, i) => {
        const last = i === batches.length - 1;
        reply({
          type: "batch",
          outcome: {
            items: compactOutcomes(ops, outcome.items.slice(offset, offset + ops.length)),
            ...(outcome.error === undefined ? {} : { error: outcome.error }),
            ...(last && outcome.commit !== undefined ? { commit: outcome.commit } : {}),
          },
        });
        offset += ops.length;
      });
    }
  });
}

/**
 * Removes from the head of `pending` the batches of the next transaction: consecutive batch
 * requests while their writes add up to at most `maxBatch` (always at least one).
 */
function takeBatches(pending: ConnectionRequest[], maxBatch: number): WriteOp[][] {
  const out: WriteOp[][] = [];
  let writes = 0;
  while (pending.length > 0) {
    const head = pending[0]!;
    if (head.type !== "batch") break;
    const ops = decodeOps(head.ops);
    if (out.length > 0 && writes + ops.length > maxBatch) break;
    out.push(ops);
    writes += ops.length;
    pending.shift();
  }
  return out;
}
