import type {
  BlockLease,
  ClusterCommand,
  ClusterState,
  DirectAllocation,
  ResultOf,
} from "@ipam/subnet-pool";
import type { Family, Subnet } from "@ipam/topology";
import type { NodeReport } from "./node-reports.js";

/**
 * The cluster (L1) operations an agent needs: in-process in role all ({@link LocalCluster}),
 * over gRPC for agents ({@link RemoteCluster}). Every read is linearizable.
 */
export interface ClusterApi {
  /** Runs one command through the replicated log; rejects with its error code (IpamdError). */
  execute<C extends ClusterCommand>(command: C): Promise<ResultOf<C> & { ok: true }>;
  /** Whether writes can currently commit. */
  available(): boolean;
  /** The blocks the cluster says `node` holds. The array is the caller's. */
  nodeLeases(node: string): Promise<BlockLease[]>;
  /**
   * The subnets on the node's path (its TOR's, pod's and zone's), sorted by id: the agent tells
   * direct-mode purposes from block-mode ones with them. The array is the caller's.
   */
  nodeSubnets(node: string): Promise<Subnet[]>;
  /** The node's direct (per-address) allocations held in L1. The array is the caller's. */
  nodeDirect(node: string): Promise<DirectAllocation[]>;
  /**
   * Whether `node` can get one more `purpose` address of `family` from L1 now: a block it could
   * lease (block mode) or a free address (direct mode). A cheap read (it may be a little stale;
   * nothing changes). Resolves when there is room; rejects with an IpamdError saying why not:
   * `INVALID_ARGUMENT` (a purpose no subnet has: `details.field` `purpose`, `details.purposes`),
   * `NOT_FOUND` (none of that purpose and family on the node's path), `POOL_EXHAUSTED` (no free
   * block / address, or every subnet draining), or an outage code.
   */
  checkCapacity(node: string, purpose: string, family: Family): Promise<void>;
  /**
   * Tells the servers what this node's pods hold in its blocks (soft state, see
   * node-reports.ts): best effort, to every server it knows; never rejects.
   */
  reportNode(report: Omit<NodeReport, "reportedAt">): Promise<void>;
}

/** Options of {@link ClusterStateReader.read}. */
export interface ReadOptions {
  /** Run the query on the local replica at once, without a linearizable point. */
  readonly stale?: boolean;
}

/**
 * A cluster that holds a replica of the state machine (role all, servers): what the Cluster
 * gRPC data handlers read through.
 */
export interface ClusterStateReader {
  /**
   * Runs `query` against the replica's ClusterState at a linearizable point, or at once with
   * `{ stale: true }`. Rejects with an IpamdError when no linearizable point can be had
   * (`NOT_LEADER` with the leader hint, `TIMEOUT`, `SHUTTING_DOWN`, `UNAVAILABLE`); a throwing
   * query rejects with its own error.
   */
  read<T>(query: (state: ClusterState) => T, options?: ReadOptions): Promise<T>;
  /** The log index the local state machine has applied (for `raft_index` fields). */
  appliedIndex(): number;
}
