import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from "node:worker_threads";
import { type BatchOutcome, storeErrorFromData, storeErrorToData } from "./commit-batch.js";
import {
  type ConnectionReply,
  type ConnectionRequest,
  GONE,
  type OpenMessage,
  REPLIES,
  SHARED_CELLS,
} from "./commit-protocol.js";
import type { BatchRunner } from "./group-commit.js";
import { StoreError } from "./store-error.js";
import { WriteLock } from "./write-lock.js";
import type { WriteOp } from "./write-op.js";
import { encodeOps, expandOutcomes } from "./write-op-wire.js";

/** The process's commit thread and the runners connected to it. */
interface CommitThread {
  readonly worker: Worker;
  readonly runners: Set<ThreadRunner>;
  /** Requests sent and not answered, over every runner: the worker is ref'd while > 0. */
  inFlight: number;
}

let current: CommitThread | undefined;

/**
 * Starts the worker from the file beside this module: `commit-worker.js` in a build; from
 * source (vitest, tsx) the worker is TypeScript as well and is loaded through tsx, a
 * development dependency of the repository.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./commit-worker.js", here));
  const worker = new URL("./commit-worker.ts", here).href;
  const tsxRoot = dirname(createRequire(here).resolve("tsx/package.json"));
  const tsx = pathToFileURL(join(tsxRoot, "dist/esm/api/index.mjs")).href;
  return new Worker(
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(worker)}); });`,
    { eval: true },
  );
}

/**
 * The commit thread of this process, started on first use: one worker thread for every store
 * of the process (one per process in ipamd). It keeps the process alive only while a request
 * is in flight. When it stops, every runner's requests in flight fail and the next batch
 * starts a new one.
 */
function commitThread(): CommitThread {
  if (current !== undefined) return current;
  const thread: CommitThread = { worker: startWorker(), runners: new Set(), inFlight: 0 };
  let failure: unknown;
  thread.worker.on("error", (err) => {
    failure = err;
  });
  thread.worker.on("exit", (code) => {
    if (current === thread) current = undefined;
    thread.inFlight = 0;
    const reason =
      failure instanceof Error ? failure.message : `the commit thread exited with code ${code}`;
    for (const runner of thread.runners) runner.lost(reason);
  });
  thread.worker.unref();
  current = thread;
  return thread;
}

/** How long a blocking wait (`close()`) waits for one reply of the commit thread, ms. */
const SYNC_WAIT_MS = 120_000;

/**
 * Runs group commit batches on the commit thread (`commitThread: "worker"`): the store's file
 * is opened there a second time, as the connection that writes allocation records, on the first
 * batch. `run` posts the batch and returns at once; `done` is called from a later event-loop
 * task when the commit thread's COMMIT, fsync included, has returned. The main thread keeps its
 * own connection for reads (WAL: readers see every committed transaction) and synchronous
 * writes; the two threads' transactions take turns through the store's `WriteLock`.
 */
export class ThreadRunner implements BatchRunner {
  readonly #path: string;
  readonly #busyTimeoutMs: number;
  readonly #maxBatch: number;
  readonly #maxPageCount: number | undefined;
  readonly #shared: Int32Array;
  #port: MessagePort | undefined;
  #thread: CommitThread | undefined;
  /** One entry per request sent and not yet answered, in order. */
  readonly #waiting: ((reply: ConnectionReply) => void)[] = [];

  constructor(options: {
    path: string;
    busyTimeoutMs: number;
    maxBatch: number;
    maxPageCount?: number;
  }) {
    this.#path = options.path;
    this.#busyTimeoutMs = options.busyTimeoutMs;
    this.#maxBatch = options.maxBatch;
    this.#maxPageCount = options.maxPageCount;
    this.#shared = new Int32Array(new SharedArrayBuffer(SHARED_CELLS * 4));
  }

  /** The store's write lock (cell `LOCK` of the memory shared with the commit thread). */
  get lock(): WriteLock {
    return new WriteLock(this.#shared);
  }

  run(ops: readonly WriteOp[], done: (outcome: BatchOutcome) => void): void {
    this.#send({ type: "batch", ops: encodeOps(ops) }, (reply) => {
      if (reply.type !== "batch") return;
      done({ ...reply.outcome, items: expandOutcomes(ops, reply.outcome.items) });
    });
  }

  settleSync(): void {
    while (this.#waiting.length > 0) this.#receiveSync();
  }

  /**
   * Settles what is in flight, then closes the commit thread's connection, blocking until it is
   * closed. @throws StoreError when that connection failed to close.
   */
  close(): void {
    if (this.#port === undefined) return;
    let closeError: StoreError | undefined;
    this.#send({ type: "close" }, (reply) => {
      if (reply.type === "closed" && reply.error !== undefined) {
        closeError = storeErrorFromData(reply.error);
      }
    });
    this.settleSync();
    this.#disconnect();
    if (closeError !== undefined) throw closeError;
  }

  /** The commit thread stopped: fail what is in flight; the next batch connects anew. */
  lost(reason: string): void {
    const error = new StoreError(
      "INTERNAL",
      `commit of ${this.#path}: ${reason}; writes in flight may or may not be committed`,
    );
    const waiting = this.#waiting.splice(0);
    this.#done(waiting.length);
    this.#disconnect();
    for (const w of waiting) {
      w({ type: "batch", outcome: { items: [], error: storeErrorToData(error) } });
    }
  }

  #send(request: ConnectionRequest, onReply: (reply: ConnectionReply) => void): void {
    const port = this.#connect();
    this.#waiting.push(onReply);
    const thread = this.#thread!;
    if (thread.inFlight++ === 0) thread.worker.ref();
    port.postMessage(request);
  }

  /** `n` requests were answered (or given up): unref the worker once none is in flight. */
  #done(n: number): void {
    const thread = this.#thread;
    if (thread === undefined || n === 0) return;
    thread.inFlight = Math.max(0, thread.inFlight - n);
    if (thread.inFlight === 0) thread.worker.unref();
  }

  #connect(): MessagePort {
    if (this.#port !== undefined) return this.#port;
    const thread = commitThread();
    const { port1, port2 } = new MessageChannel();
    Atomics.store(this.#shared, GONE, 0);
    const open: OpenMessage = {
      type: "open",
      port: port2,
      shared: this.#shared,
      path: this.#path,
      busyTimeoutMs: this.#busyTimeoutMs,
      maxBatch: this.#maxBatch,
      ...(this.#maxPageCount === undefined ? {} : { maxPageCount: this.#maxPageCount }),
    };
    thread.worker.postMessage(open, [port2]);
    port1.on("message", (reply: ConnectionReply) => this.#onReply(reply));
    port1.unref();
    thread.runners.add(this);
    this.#thread = thread;
    this.#port = port1;
    return port1;
  }

  #disconnect(): void {
    this.#port?.close();
    this.#port = undefined;
    this.#thread?.runners.delete(this);
    this.#thread = undefined;
  }

  #onReply(reply: ConnectionReply): void {
    const onReply = this.#waiting.shift();
    if (onReply === undefined) return;
    this.#done(1);
    onReply(reply);
  }

  /** Blocks until the next reply arrives and handles it. */
  #receiveSync(): void {
    const port = this.#port;
    if (port === undefined) {
      this.lost("the connection to the commit thread is gone");
      return;
    }
    const deadline = performance.now() + SYNC_WAIT_MS;
    for (;;) {
      const seen = Atomics.load(this.#shared, REPLIES);
      const message = receiveMessageOnPort(port);
      if (message !== undefined) {
        this.#onReply(message.message as ConnectionReply);
        return;
      }
      if (Atomics.load(this.#shared, GONE) === 1) {
        this.lost("the commit thread exited");
        return;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        this.lost(`the commit thread did not answer within ${SYNC_WAIT_MS} ms`);
        return;
      }
      Atomics.wait(this.#shared, REPLIES, seen, left);
    }
  }
}
