import type { Clock, TimerHandle } from "../types.js";

/**
 * Test support (not exported): virtual time for RaftNodes. `clock` and `schedule` go into
 * `createRaftNode` (and `schedule`, or `latency()`, into a MemoryNetwork); then either
 * - step by hand: `advance(ms)` fires due timers in order and runs queued work after each, or
 * - `start()` a pump that runs on its own: it runs every queued piece of work, lets promise
 *   reactions (the test's own code) run, and only when nothing is left to do moves time to the
 *   next timer. Time never passes while work is pending, so how busy the machine is changes
 *   how long a test takes in real time, never what happens in it: an election timeout cannot
 *   fire because the CPU was slow to deliver a heartbeat.
 *
 * Waits (`sleep`, `waitFor`) are in virtual milliseconds and are checked after every step.
 */
export class VirtualTime {
  private nowMs = 0;
  private nextId = 1;
  /** Pending timers by id; ids grow, so equal due times fire in the order they were set. */
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private readonly queue: (() => void)[] = [];
  private readonly waiters = new Set<{ check(): boolean }>();
  private running = false;
  private pumping: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  readonly clock: Clock = {
    now: () => this.nowMs,
    setTimeout: (fn: () => void, delayMs: number): TimerHandle => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.nowMs + Math.max(0, delayMs), fn });
      this.poke();
      return id;
    },
    clearTimeout: (handle: TimerHandle): void => {
      this.timers.delete(handle as number);
    },
  };

  /** Queue work for the current virtual instant (a node's `schedule`). */
  readonly schedule = (fn: () => void): void => {
    this.queue.push(fn);
    this.poke();
  };

  /** A MemoryNetwork `schedule` that delivers after `ms` virtual milliseconds (FIFO per link). */
  latency(ms: number): (deliver: () => void) => void {
    return (deliver) => {
      this.clock.setTimeout(deliver, ms);
    };
  }

  /** Virtual milliseconds since this world was made. */
  now(): number {
    return this.nowMs;
  }

  /** Timers still pending. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Run queued work (and the work it queues) until the queue is empty. */
  drain(): void {
    for (let fn = this.queue.shift(); fn !== undefined; fn = this.queue.shift()) fn();
  }

  /** By hand: advance by `ms`, firing due timers in order and draining the queue after each. */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    this.drain();
    while (this.fireNext(end)) this.drain();
    this.nowMs = end;
    this.drain();
  }

  /** Start the pump (see the class comment). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.pumping = this.pump();
  }

  /** Stop the pump; resolves once it has stopped. Pending timers stay pending. */
  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.pumping;
  }

  /** Resolves after `ms` virtual milliseconds (the pump must be running). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.clock.setTimeout(resolve, ms);
    });
  }

  /**
   * Resolves as soon as `condition` holds (checked after every step of the pump); rejects
   * naming `what` when it still does not hold after `timeoutMs` virtual milliseconds.
   */
  waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        check: (): boolean => {
          if (!condition()) return false;
          this.clock.clearTimeout(timer);
          resolve();
          return true;
        },
      };
      const timer = this.clock.setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`not true after ${timeoutMs} virtual ms: ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Fire the earliest timer due at or before `limit`; false when there is none. */
  private fireNext(limit = Number.POSITIVE_INFINITY): boolean {
    let dueId: number | undefined;
    let due: { at: number; fn: () => void } | undefined;
    for (const [id, timer] of this.timers) {
      if (timer.at <= limit && (due === undefined || timer.at < due.at)) {
        dueId = id;
        due = timer;
      }
    }
    if (dueId === undefined || due === undefined) return false;
    this.timers.delete(dueId);
    this.nowMs = Math.max(this.nowMs, due.at);
    due.fn();
    return true;
  }

  private checkWaiters(): void {
    for (const waiter of this.waiters) if (waiter.check()) this.waiters.delete(waiter);
  }

  private async pump(): Promise<void> {
    while (this.running) {
      this.drain();
      this.checkWaiters();
      // One macrotask: promise reactions of the work just done (the test's code) run first
      // and may queue more work at this same instant.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.queue.length > 0) continue;
      if (this.fireNext()) continue;
      // Nothing queued, no timer: sleep until something is scheduled or stop() is called.
      if (this.running) await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
