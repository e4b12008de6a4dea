import {
  createRaftNode,
  type Message,
  type RaftNode,
  type RaftNodeHooks,
  type Transport,
} from "@ipam/raft";
import { createSqliteStorage } from "@ipam/raft/sqlite";
import type { Store } from "@ipam/store";
import {
  type BlockLease,
  type ClusterCommand,
  ClusterState,
  type CommandResult,
  type DirectAllocation,
  decodeCommand,
  encodeCommand,
  type ResultOf,
} from "@ipam/subnet-pool";
import type { Subnet } from "@ipam/topology";
import type { Logger } from "pino";
import { IpamdError, type IpamdErrorCode } from "./ipamd-error.js";
import { pathSubnets } from "./node-subnets.js";

/** The cluster (L1) operations an agent needs; in-process in role all, over gRPC for agents. */
export interface ClusterApi {
  /** Runs one command through the replicated log; rejects with its error code. */
  execute<C extends ClusterCommand>(command: C): Promise<ResultOf<C> & { ok: true }>;
  /** The blocks the cluster says `node` holds (linearizable). */
  nodeLeases(node: string): Promise<BlockLease[]>;
  /** Whether writes can currently commit. */
  available(): boolean;
  /**
   * The subnets on the node's path (its TOR's, pod's and zone's), read from the cluster: the
   * agent uses them to tell direct-mode purposes from block-mode ones. Optional: without it
   * every purpose is treated as block mode.
   */
  nodeSubnets?(node: string): Promise<Subnet[]>;
  /** The node's direct (per-address) allocations held in L1. Optional, with nodeSubnets. */
  nodeDirect?(node: string): Promise<DirectAllocation[]>;
}

/**
 * A cluster that holds a replica of the state machine (role all, servers): what the Cluster
 * gRPC data handlers read through.
 */
export interface ClusterStateReader {
  /**
   * Runs `query` against the replica's ClusterState at a linearizable point (a ReadIndex round),
   * or at once with `{ stale: true }`. Rejects like RaftNode.read (`NOT_LEADER`, `TIMEOUT`,
   * `SHUTTING_DOWN`) translated to IpamdError; a throwing query rejects with its error.
   */
  read<T>(query: (state: ClusterState) => T, options?: { readonly stale?: boolean }): Promise<T>;
  /** The Raft index the local state machine has applied (for `raft_index` fields). */
  appliedIndex(): number;
}

/** A transport for a group of one: nothing is ever sent or received. */
function loneTransport(): Transport {
  return {
    send(_to: string, _messages: readonly Message[]): void {},
    onReceive(_handler: (messages: readonly Message[]) => void): void {},
    close: () => Promise.resolve(),
  };
}

const KNOWN_CODES: ReadonlySet<string> = new Set([
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "CONFLICT",
  "POOL_EXHAUSTED",
  "NOT_LEADER",
  "TIMEOUT",
  "UNAVAILABLE",
  "SHUTTING_DOWN",
]);

/** The daemon's error code for a state-machine or Raft error code. */
export function toIpamdCode(code: string): IpamdErrorCode {
  if (KNOWN_CODES.has(code)) return code as IpamdErrorCode;
  if (code === "NO_SUBNET" || code === "DRAINING") return "POOL_EXHAUSTED";
  return "INTERNAL";
}

/**
 * Translates a driver error (`RaftError`) into an IpamdError: NOT_LEADER keeps the leader hint
 * (`leaderId`, `leaderAddress`) for the gRPC trailers; OVERLOADED and PROPOSAL_DROPPED become
 * UNAVAILABLE (retry later or elsewhere).
 */
export function toClusterError(cause: unknown, what: string): IpamdError {
  if (cause instanceof IpamdError) return cause;
  const raw = (cause as { code?: unknown }).code;
  const code = typeof raw === "string" ? raw : "UNAVAILABLE";
  const details = (cause as { details?: Record<string, unknown> }).details;
  const message = `${what}: ${(cause as Error).message}`;
  if (code === "NOT_LEADER") {
    return new IpamdError("NOT_LEADER", message, {
      cause,
      details: {
        leaderId: typeof details?.leaderId === "string" ? details.leaderId : "",
        leaderAddress: typeof details?.leaderAddress === "string" ? details.leaderAddress : "",
      },
    });
  }
  // Outcome unknown or overloaded: retry later / elsewhere.
  if (code === "OVERLOADED" || code === "PROPOSAL_DROPPED") {
    return new IpamdError("UNAVAILABLE", message, { cause, details: { raftCode: code } });
  }
  return new IpamdError(toIpamdCode(code), message, {
    cause,
    ...(details === undefined ? {} : { details }),
  });
}

/**
 * Proposes `command` through `raft` and waits until it is applied here: resolves with its value,
 * rejects with the command's own error code, or with the translated driver error.
 */
export async function proposeCommand<C extends ClusterCommand>(
  raft: RaftNode<CommandResult>,
  command: C,
): Promise<ResultOf<C> & { ok: true }> {
  let result: CommandResult;
  try {
    result = await raft.propose(encodeCommand(command));
  } catch (cause) {
    throw toClusterError(cause, "cluster");
  }
  if (!result.ok) {
    throw new IpamdError(toIpamdCode(result.error.code), result.error.message, {
      details: { command: command.type },
    });
  }
  return result as ResultOf<C> & { ok: true };
}

/**
 * Runs `query` against `state` at a linearizable point (or at once with `stale`). The driver's
 * refusals are translated; an error of the query itself keeps its code.
 */
export async function readState<T>(
  raft: RaftNode<CommandResult>,
  state: ClusterState,
  query: (state: ClusterState) => T,
  stale: boolean,
): Promise<T> {
  let threw = false;
  try {
    return await raft.read(
      () => {
        try {
          return query(state);
        } catch (err) {
          threw = true;
          throw err;
        }
      },
      { stale },
    );
  } catch (cause) {
    if (threw) throw cause;
    throw toClusterError(cause, "cluster read");
  }
}

export interface LocalClusterOptions {
  readonly nodeId: string;
  /** The store holding the Raft log (same ipamd.db); undefined = in-memory Raft storage. */
  readonly store: Store;
  readonly electionMs: number;
  readonly logger: Logger;
  /** Raft observation hooks (metrics). */
  readonly hooks?: RaftNodeHooks;
}

/**
 * A single-server L1: a RaftNode bootstrapped as the only voter over the store's Raft log, with
 * ClusterState as the state machine. Restarting reuses the stored log (the bootstrap
 * configuration is only used when the store holds no Raft state).
 */
export class LocalCluster implements ClusterApi, ClusterStateReader {
  readonly state = new ClusterState();
  readonly raft: RaftNode<CommandResult>;
  readonly #storage: ReturnType<typeof createSqliteStorage>;

  constructor(options: LocalClusterOptions) {
    const state = this.state;
    this.#storage = createSqliteStorage(options.store.raftLog());
    const tickMs = 50;
    const log = options.logger.child({ component: "raft" });
    this.raft = createRaftNode<CommandResult>({
      id: options.nodeId,
      storage: this.#storage,
      transport: loneTransport(),
      bootstrap: { voters: [options.nodeId], learners: [] },
      ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
      tickMs,
      electionTicks: Math.max(2, Math.round(options.electionMs / tickMs)),
      logger: {
        debug: (o, m) => log.debug(o, m),
        info: (o, m) => log.info(o, m),
        warn: (o, m) => log.warn(o, m),
        error: (o, m) => log.error(o, m),
      },
      stateMachine: {
        apply: (data: Uint8Array) => state.apply(decodeCommand(data)),
        snapshot: () => state.snapshot(),
        restore: (data: Uint8Array) => state.restore(data),
      },
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
  available(): boolean {
    return this.raft.status().role === "leader";
  }

  execute<C extends ClusterCommand>(command: C): Promise<ResultOf<C> & { ok: true }> {
    return proposeCommand(this.raft, command);
  }

  nodeLeases(node: string): Promise<BlockLease[]> {
    return this.read((state) => state.nodeLeases(node));
  }

  nodeSubnets(node: string): Promise<Subnet[]> {
    return this.read((state) => pathSubnets(state.topology(), node));
  }

  nodeDirect(node: string): Promise<DirectAllocation[]> {
    return this.read((state) => state.directAllocations(node));
  }

  read<T>(
    query: (state: ClusterState) => T,
    options: { readonly stale?: boolean } = {},
  ): Promise<T> {
    return readState(this.raft, this.state, query, options.stale === true);
  }

  appliedIndex(): number {
    return this.raft.status().applied;
  }

  /** Stops Raft and flushes its storage; the caller closes the store afterwards. */
  async stop(): Promise<void> {
    await this.raft.stop();
    this.#storage.flush();
  }
}
