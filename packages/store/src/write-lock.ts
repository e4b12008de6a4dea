import { StoreError } from "./store-error.js";

/**
 * The write lock of one store file, shared by the threads of this process that write it (the
 * main thread's synchronous writes and the commit thread's group commits). A mutex in shared
 * memory: one `Int32Array` cell, 0 free, 1 held.
 *
 * SQLite serialises the two connections by itself, but a connection that finds the file
 * locked polls with sleeps of 1, 2, 5, 10... ms; on the main thread that stalls the event
 * loop longer than the commit it waits for. Taking this lock first, every transaction waits
 * exactly until the other thread's COMMIT returns, and SQLite's busy wait is left for other
 * processes (a backup, the sqlite3 shell).
 *
 * Not reentrant. A holder must release it on every path (use `hold`).
 */
export class WriteLock {
  readonly #cell: Int32Array;

  /** `cell`: an `Int32Array` of length ≥ 1 over a `SharedArrayBuffer`; cell 0 is the lock. */
  constructor(cell: Int32Array) {
    this.#cell = cell;
  }

  /** A new, free lock in fresh shared memory. */
  static create(): WriteLock {
    return new WriteLock(new Int32Array(new SharedArrayBuffer(4)));
  }

  /** The shared cell, to hand to another thread (`new WriteLock(cell)` there). */
  get cell(): Int32Array {
    return this.#cell;
  }

  /**
   * Runs `fn` holding the lock and releases it however `fn` ends. Blocks the calling thread
   * (`Atomics.wait`) while another thread holds it.
   * @throws StoreError `LOCKED` when the lock stays held for `timeoutMs`; `fn` did not run.
   */
  hold<T>(timeoutMs: number, what: string, fn: () => T): T {
    this.#acquire(timeoutMs, what);
    try {
      return fn();
    } finally {
      Atomics.store(this.#cell, 0, 0);
      Atomics.notify(this.#cell, 0, 1);
    }
  }

  #acquire(timeoutMs: number, what: string): void {
    if (Atomics.compareExchange(this.#cell, 0, 0, 1) === 0) return;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new StoreError(
          "LOCKED",
          `${what}: the store's other writer thread held the write lock for more than ${timeoutMs} ms`,
        );
      }
      Atomics.wait(this.#cell, 0, 1, left);
      if (Atomics.compareExchange(this.#cell, 0, 0, 1) === 0) return;
    }
  }
}
