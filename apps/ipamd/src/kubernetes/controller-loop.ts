import type { Logger } from "pino";
import type { K8sMetrics } from "./k8s-metrics.js";

/**
 * Runs `pass` one at a time: every `resyncMs`, and soon after {@link ControllerLoop.trigger}
 * (several triggers while a pass runs make one more pass). A pass that throws is logged and
 * counted (`ipamd_k8s_reconciled_total{result="error"}`) and retried at the next trigger or
 * resync.
 */
export class ControllerLoop {
  readonly #name: string;
  readonly #pass: () => Promise<void>;
  readonly #log: Logger;
  readonly #metrics: K8sMetrics;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #stopped = false;

  constructor(name: string, pass: () => Promise<void>, log: Logger, metrics: K8sMetrics) {
    this.#name = name;
    this.#pass = pass;
    this.#log = log;
    this.#metrics = metrics;
  }

  start(resyncMs: number): void {
    this.#timer = setInterval(() => this.trigger(), resyncMs);
    this.#timer.unref();
  }

  /** Asks for a pass within ~100 ms. */
  trigger(): void {
    if (this.#stopped || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.#run();
    }, 100);
    this.#soon.unref();
  }

  async #run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      await this.#pass();
      this.#metrics.reconciled(this.#name, "ok");
    } catch (err) {
      this.#metrics.reconciled(this.#name, "error");
      this.#log.warn({ err, controller: this.#name }, `${this.#name} controller pass failed`);
    } finally {
      this.#running = false;
    }
    if (this.#again && !this.#stopped) {
      this.#again = false;
      this.trigger();
    }
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
  }
}
