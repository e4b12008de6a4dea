import type { Readiness } from "@ipam/metrics";
import type { Logger } from "pino";

/**
 * What a role opened while it started (store, Raft, listeners, timers), so that a start that
 * fails half way closes all of it and the process can exit instead of running on with half its
 * listeners up. Each role registers a closer right after the resource opens; on a failure
 * {@link StartScope.close} runs them in reverse order.
 */
export class StartScope {
  readonly #log: Logger;
  readonly #closers: { readonly what: string; readonly close: () => unknown }[] = [];
  #listening = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Registers the closer of `what` (a name for the log), to run when the start fails. */
  add(what: string, close: () => unknown): void {
    this.#closers.push({ what, close });
  }

  /**
   * Closes everything registered, newest first. A closer that throws or rejects is logged and the
   * others still run; never throws. Registered closers are forgotten (a second call does nothing).
   */
  async close(): Promise<void> {
    const closers = this.#closers.splice(0).reverse();
    for (const { what, close } of closers) {
      try {
        await close();
      } catch (err) {
        this.#log.warn({ err, what }, `closing ${what} after a failed start failed`);
      }
    }
  }

  /** Marks every listener of the role as bound and accepting: readiness may now say ready. */
  markListening(): void {
    this.#listening = true;
  }

  /**
   * `readiness` gated on {@link markListening}: not ready (reason "starting: listeners not yet
   * accepting") until every listener accepts, so that `/readyz` never answers 200 before a
   * client could connect.
   */
  gate(readiness: () => Readiness): () => Readiness {
    return () =>
      this.#listening
        ? readiness()
        : { ready: false, reason: "starting: listeners not yet accepting" };
  }
}
