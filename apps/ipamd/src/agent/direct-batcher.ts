import type { AllocateDirectCommand, CommandResult, ReleaseDirectCommand } from "@ipam/subnet-pool";
import type { ClusterApi } from "../cluster/cluster-api.js";
import { IpamdError } from "../ipamd-error.js";

/** A direct-mode command the batcher carries. */
export type DirectCommand = AllocateDirectCommand | ReleaseDirectCommand;

interface Queued {
  readonly command: DirectCommand;
  readonly resolve: (r: CommandResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Queue {
  readonly items: Queued[];
  flushing: boolean;
}

/** Options of {@link DirectBatcher}. */
export interface DirectBatcherOptions {
  readonly cluster: Pick<ClusterApi, "execute">;
  /** Clock for the batch command's `at`, ms since the epoch. */
  readonly now: () => number;
  /** Most commands in one batch; default 256. */
  readonly max?: number;
}

/**
 * Groups direct-mode commands into `batch` commands: the ones submitted in the same event-loop
 * turn, or while the previous batch of the same type is in flight, leave together (one batch in
 * flight per command type, at most `max` commands each).
 */
export class DirectBatcher {
  readonly #cluster: Pick<ClusterApi, "execute">;
  readonly #now: () => number;
  readonly #max: number;
  readonly #queues: Record<DirectCommand["type"], Queue> = {
    "allocate-direct": { items: [], flushing: false },
    "release-direct": { items: [], flushing: false },
  };

  constructor(options: DirectBatcherOptions) {
    this.#cluster = options.cluster;
    this.#now = options.now;
    this.#max = options.max ?? 256;
  }

  /**
   * Resolves with the command's own result inside its batch (which may be `ok: false`); rejects
   * with the batch's error when the batch as a whole failed (cluster unreachable, ...).
   */
  submit(command: DirectCommand): Promise<CommandResult> {
    const q = this.#queues[command.type];
    return new Promise((resolve, reject) => {
      q.items.push({ command, resolve, reject });
      if (!q.flushing) {
        q.flushing = true;
        setImmediate(() => void this.#flush(q));
      }
    });
  }

  async #flush(q: Queue): Promise<void> {
    while (q.items.length > 0) {
      const batch = q.items.splice(0, this.#max);
      try {
        const r = await this.#cluster.execute({
          type: "batch",
          at: this.#now(),
          commands: batch.map((x) => x.command),
        });
        batch.forEach((x, i) => {
          const one = r.value[i];
          if (one === undefined) x.reject(new IpamdError("INTERNAL", "batch: missing result"));
          else x.resolve(one);
        });
      } catch (err) {
        for (const x of batch) x.reject(err);
      }
    }
    q.flushing = false;
  }
}
