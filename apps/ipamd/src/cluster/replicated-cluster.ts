import type {
  BlockLease,
  ClusterCommand,
  ClusterState,
  DirectAllocation,
  ResultOf,
} from "@ipam/subnet-pool";
import type { Family, Subnet } from "@ipam/topology";
import type { ClusterApi, ClusterStateReader, ReadOptions } from "./cluster-api.js";
import { refusal } from "./cluster-errors.js";
import type { ClusterLog } from "./cluster-log.js";
import { type NodeReport, NodeReports } from "./node-reports.js";
import { pathSubnets } from "./path-subnets.js";

/**
 * A cluster that holds a replica: the {@link ClusterApi} and {@link ClusterStateReader} of any
 * {@link ClusterLog}. Every replicated provider (Raft's {@link LocalCluster} and
 * {@link RaftCluster}, an etcd one) shares these reads and this error translation; the
 * provider brings the log and its life cycle.
 */
export class ReplicatedCluster implements ClusterApi, ClusterStateReader {
  readonly #log: ClusterLog;
  /** The last report of each node that reported to this server (soft state). */
  readonly reports = new NodeReports();

  constructor(log: ClusterLog) {
    this.#log = log;
  }

  /** The local replica (stale reads only: metric gauges, start-up checks). */
  get state(): ClusterState {
    return this.#log.state;
  }

  available(): boolean {
    return this.#log.available();
  }

  /**
   * Proposes `command` and waits until it is applied here: resolves with its value, rejects with
   * the command's own error code (details: `command`), or with the log's error.
   */
  async execute<C extends ClusterCommand>(command: C): Promise<ResultOf<C> & { ok: true }> {
    const result = await this.#log.propose(command);
    if (!result.ok) throw refusal(result, { ...result.error.details, command: command.type });
    return result as ResultOf<C> & { ok: true };
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

  /** A stale read of the local replica's {@link ClusterState.capacity} (see ClusterApi). */
  async checkCapacity(node: string, purpose: string, family: Family): Promise<void> {
    const r = await this.read((state) => state.capacity(node, purpose, family, Date.now()), {
      stale: true,
    });
    if (!r.ok) throw refusal(r, { ...r.error.details, command: "capacity" });
  }

  async reportNode(report: Omit<NodeReport, "reportedAt">): Promise<void> {
    this.reports.put({ ...report, reportedAt: Date.now() });
  }

  read<T>(query: (state: ClusterState) => T, options: ReadOptions = {}): Promise<T> {
    return this.#log.read(query, options);
  }

  appliedIndex(): number {
    return this.#log.appliedIndex();
  }
}
