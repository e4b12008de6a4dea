import type { Message, RaftNode, RaftNodeHooks, Transport } from "@ipam/raft";
import { createSqliteStorage } from "@ipam/raft/sqlite";
import type { Store } from "@ipam/store";
import type { CommandResult } from "@ipam/subnet-pool";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import { RaftClusterLog } from "./raft-cluster-log.js";
import { ReplicatedCluster } from "./replicated-cluster.js";

/** A transport for a group of one: nothing is ever sent or received. */
function loneTransport(): Transport {
  return {
    send(_to: string, _messages: readonly Message[]): void {},
    onReceive(_handler: (messages: readonly Message[]) => void): void {},
    close: () => Promise.resolve(),
  };
}

export interface LocalClusterOptions {
  readonly nodeId: string;
  /** The store holding the Raft log (same ipamd.db). */
  readonly store: Store;
  readonly electionMs: number;
  readonly logger: Logger;
  /** Raft observation hooks (metrics). */
  readonly hooks?: RaftNodeHooks;
}

/**
 * A single-server L1 (role all): a {@link RaftClusterLog} whose node is the only voter, over the
 * store's Raft log, with no transport. Restarting reuses the stored log (the bootstrap
 * configuration is only used when the store holds no Raft state). Available while it leads.
 */
export class LocalCluster extends ReplicatedCluster {
  readonly raft: RaftNode<CommandResult>;
  readonly #storage: ReturnType<typeof createSqliteStorage>;

  constructor(options: LocalClusterOptions) {
    const log = new RaftClusterLog();
    super(log);
    this.#storage = createSqliteStorage(options.store.raftLog());
    const tickMs = 50;
    this.raft = log.start({
      id: options.nodeId,
      storage: this.#storage,
      transport: loneTransport(),
      bootstrap: { voters: [options.nodeId], learners: [] },
      ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
      tickMs,
      electionTicks: Math.max(2, Math.round(options.electionMs / tickMs)),
      logger: options.logger,
    });
  }

  /** Campaigns (the driver is already started) and resolves once it leads (a group of one elects itself at once). */
  async start(deadlineMs = 10_000): Promise<void> {
    this.raft.campaign();
    const until = Date.now() + deadlineMs;
    // A linearizable read succeeds once this node leads and has applied every earlier entry.
    for (;;) {
      try {
        await this.raft.read(() => undefined);
        return;
      } catch (cause) {
        if (Date.now() > until) {
          throw new IpamdError("UNAVAILABLE", "raft: no leader elected in time", { cause });
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /** Stops Raft and flushes its storage; the caller closes the store afterwards. */
  async stop(): Promise<void> {
    await this.raft.stop();
    this.#storage.flush();
  }
}
