import type { ClusterCommand, ClusterState, CommandResult } from "@ipam/subnet-pool";
import type { ReadOptions } from "./cluster-api.js";

/**
 * The seam a replication provider implements: a replica of {@link ClusterState} kept current
 * by a replicated log, plus propose and a linearizable read. Raft provides it today
 * ({@link RaftClusterLog}, used by {@link LocalCluster} and {@link RaftCluster}); another log
 * (etcd) plugs in beside it. {@link ReplicatedCluster} turns any ClusterLog into the
 * {@link ClusterApi} agents use and the {@link ClusterStateReader} the Cluster API reads through.
 *
 * Contract:
 * - `state` is applied to by the provider only, one committed command at a time, in log order,
 *   with `state.apply(command)`; the same commands in the same order give the same state on
 *   every replica (timestamps travel inside the commands). `state.snapshot()`/`restore()` are
 *   the provider's way to compact and catch up.
 * - Errors are IpamdErrors with the daemon's codes: `NOT_LEADER` (details `leaderId`,
 *   `leaderAddress` when known), `UNAVAILABLE` (no quorum, overloaded, outcome unknown: retry),
 *   `TIMEOUT`, `SHUTTING_DOWN`.
 */
export interface ClusterLog {
  /** The local replica. Read it directly only where staleness is fine (metric gauges). */
  readonly state: ClusterState;
  /**
   * Appends `command` to the log and resolves with its result once the local replica has
   * applied it (`ok: false` is the state machine's refusal, not a log failure). Rejects when the
   * log did not take the command or its outcome is unknown.
   */
  propose(command: ClusterCommand): Promise<CommandResult>;
  /**
   * Runs `query` on `state` once the replica has applied everything committed before the call
   * (linearizable), or at once with `stale`. A throwing query rejects with its own error.
   */
  read<T>(query: (state: ClusterState) => T, options?: ReadOptions): Promise<T>;
  /** Whether a proposal made now can commit (this replica can reach the log's quorum). */
  available(): boolean;
  /** The log index of the last command applied to `state` (0 before the first). */
  appliedIndex(): number;
}
