import type { ClusterHandlers } from "@ipam/grpc-server";
import type { Logger } from "pino";
import { carveHandlers } from "./carve-handlers.js";
import { clusterAllocationHandlers } from "./cluster-allocation-handlers.js";
import type { ClusterApi, ClusterStateReader } from "./cluster-api.js";
import { clusterStickyHandlers } from "./cluster-sticky-handlers.js";
import { clusterTopologyHandlers } from "./cluster-topology-handlers.js";
import { nodeReportHandlers } from "./node-report-handlers.js";
import type { NodeReports } from "./node-reports.js";

/**
 * What the data handlers need: writes through the replicated log, reads of the replica, and
 * (when the server keeps them) the nodes' reports.
 */
export type ClusterDataSource = Pick<ClusterApi, "execute"> &
  ClusterStateReader & { readonly reports?: NodeReports };

/** Options of {@link clusterDataHandlers}. */
export interface ClusterDataOptions {
  /** Clock for the `at` of commands, ms since the epoch (injected in tests). */
  readonly now?: () => number;
  /** Most items one AllocateDirect / ReleaseDirect call may carry; default 10 000. */
  readonly maxBatch?: number;
  /**
   * Where the handlers log what the cluster did on its own and what operators carved and
   * returned (subnets carved from supernets, given back to them).
   */
  readonly log?: Pick<Logger, "info">;
}

/**
 * The Cluster API's data RPCs (everything but membership) over a replicated cluster: each write
 * becomes one ClusterCommand through `cluster.execute` (one log entry; batched RPCs become one
 * `batch` command), each read runs against the replica's ClusterState through `cluster.read`
 * (linearizable unless the request sets `allow_stale`). Requests are validated here and errors
 * name the request field (`items[2].node_id: must not be empty`).
 */
export function clusterDataHandlers(
  cluster: ClusterDataSource,
  options: ClusterDataOptions = {},
): Partial<ClusterHandlers> {
  const now = options.now ?? Date.now;
  return {
    ...clusterTopologyHandlers(cluster, now, options.log),
    ...carveHandlers(cluster, now, options.log),
    ...clusterAllocationHandlers(cluster, now, options.maxBatch ?? 10_000, options.log),
    ...clusterStickyHandlers(cluster, now),
    ...(cluster.reports === undefined ? {} : nodeReportHandlers(cluster.reports, now)),
  };
}
