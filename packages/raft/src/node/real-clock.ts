import type { Clock, TimerHandle } from "../types.js";

/**
 * The production {@link Clock}: `performance.now()` (monotonic milliseconds) and the global
 * timers. Creating it has no side effect; timers exist only while scheduled.
 */
export function createRealClock(): Clock {
  return {
    now: () => performance.now(),
    setTimeout: (callback: () => void, delayMs: number): TimerHandle =>
      globalThis.setTimeout(callback, delayMs),
    clearTimeout: (handle: TimerHandle): void => {
      globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
    },
  };
}
