import { createRaftNode, type RaftLogger, type RaftNode, type RaftNodeOptions } from "@ipam/raft";
import {
  type ClusterCommand,
  ClusterState,
  type CommandResult,
  decodeCommand,
  encodeCommand,
} from "@ipam/subnet-pool";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import type { ReadOptions } from "./cluster-api.js";
import { toClusterError } from "./cluster-errors.js";
import type { ClusterLog } from "./cluster-log.js";
import { ProposalBatcher } from "./proposal-batcher.js";

/** Options of {@link RaftClusterLog.start}: the driver's, less the state machine it supplies. */
export type RaftClusterLogStart = Omit<
  RaftNodeOptions<CommandResult>,
  "stateMachine" | "logger"
> & {
  /** Where the driver logs (as `component: "raft"`). */
  readonly logger: Logger;
};

/** The driver's logger interface over a pino logger. */
function raftLogger(log: Logger): RaftLogger {
  return {
    debug: (o, m) => log.debug(o, m),
    info: (o, m) => log.info(o, m),
    warn: (o, m) => log.warn(o, m),
    error: (o, m) => log.error(o, m),
  };
}

/**
 * The Raft {@link ClusterLog}: a RaftNode whose state machine is `state` (commands travel
 * encoded with `encodeCommand`). Driver refusals are translated to IpamdErrors
 * ({@link toClusterError}). Life cycle: {@link start} once, then the node's own `stop()`.
 */
export class RaftClusterLog implements ClusterLog {
  readonly state = new ClusterState();
  #raft: RaftNode<CommandResult> | undefined;

  /** Creates and starts the Raft node that replicates {@link state}; once. */
  start(options: RaftClusterLogStart): RaftNode<CommandResult> {
    if (this.#raft !== undefined) throw new IpamdError("INTERNAL", "raft: started twice");
    const state = this.state;
    this.#raft = createRaftNode<CommandResult>({
      ...options,
      logger: raftLogger(options.logger.child({ component: "raft" })),
      stateMachine: {
        apply: (data: Uint8Array) => state.apply(decodeCommand(data)),
        snapshot: () => state.snapshot(),
        restore: (data: Uint8Array) => state.restore(data),
      },
    });
    return this.#raft;
  }

  /** The Raft driver; UNAVAILABLE before {@link start}. */
  get raft(): RaftNode<CommandResult> {
    if (this.#raft === undefined) throw new IpamdError("UNAVAILABLE", "raft: not started yet");
    return this.#raft;
  }

  /** Concurrent allocation commands share log entries (see {@link ProposalBatcher}). */
  readonly #batcher = new ProposalBatcher({
    propose: async (command) => {
      try {
        return await this.raft.propose(encodeCommand(command));
      } catch (cause) {
        throw toClusterError(cause, "cluster");
      }
    },
  });

  propose(command: ClusterCommand): Promise<CommandResult> {
    return this.#batcher.submit(command);
  }

  async read<T>(query: (state: ClusterState) => T, options: ReadOptions = {}): Promise<T> {
    const raft = this.raft;
    let threw = false;
    try {
      return await raft.read(
        () => {
          try {
            return query(this.state);
          } catch (err) {
            threw = true;
            throw err;
          }
        },
        { stale: options.stale === true },
      );
    } catch (cause) {
      if (threw) throw cause;
      throw toClusterError(cause, "cluster read");
    }
  }

  /** True while this node leads (only a leader's proposals commit). */
  available(): boolean {
    return this.#raft?.status().role === "leader";
  }

  appliedIndex(): number {
    return this.#raft?.status().applied ?? 0;
  }
}
