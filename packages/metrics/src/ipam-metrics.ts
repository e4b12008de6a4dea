import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type LabelValues,
  type Registry,
} from "prom-client";
import { type BucketSet, DEFAULT_BUCKETS } from "./buckets.js";
import {
  type Family,
  familyLabel,
  type GrpcCodeName,
  grpcCodeLabel,
  grpcMethodLabel,
  normaliseResult,
} from "./labels.js";
import { describeError, type MetricsLogger } from "./logger.js";
import { MetricsError } from "./metrics-error.js";
import { createScrapeDriver, type ScrapeDriver } from "./scrape-driver.js";
import {
  type AgentGaugeSource,
  type AgentStatusLike,
  type ForecastGaugeSource,
  type ForecastSnapshot,
  type GaugeCount,
  type NodePoolGaugeSource,
  type NodePoolSnapshot,
  type PoolGaugeSource,
  type PoolSnapshot,
  RAFT_ROLES,
  type RaftGaugeSource,
  type RaftStatusLike,
  type SourceName,
} from "./sources.js";
import { type Clock, monotonicSeconds, timeAsync } from "./time-async.js";

/** Every metric name `createIpamMetrics` registers, in registration order. */
export const IPAM_METRIC_NAMES = [
  "ipamd_build_info",
  "ipamd_allocations_total",
  "ipamd_allocation_duration_seconds",
  "ipamd_releases_total",
  "ipamd_release_duration_seconds",
  "ipamd_preallocation_events_total",
  "ipamd_gc_runs_total",
  "ipamd_gc_candidates_total",
  "ipamd_gc_reclaimed_total",
  "ipamd_subnet_capacity_addresses",
  "ipamd_subnet_reserved_addresses",
  "ipamd_subnet_allocated_addresses",
  "ipamd_subnet_cooling_down_addresses",
  "ipamd_subnet_capacity_blocks",
  "ipamd_subnet_leased_blocks",
  "ipamd_node_held_blocks",
  "ipamd_node_held_addresses",
  "ipamd_node_allocated_addresses",
  "ipamd_node_cooling_down_addresses",
  "ipamd_raft_term",
  "ipamd_raft_role",
  "ipamd_raft_commit_index",
  "ipamd_raft_applied_index",
  "ipamd_raft_has_leader",
  "ipamd_raft_removed",
  "ipamd_raft_leader_changes_total",
  "ipamd_raft_apply_duration_seconds",
  "ipamd_raft_applied_entries_total",
  "ipamd_raft_proposals_total",
  "ipamd_raft_proposal_duration_seconds",
  "ipamd_raft_snapshot_size_bytes",
  "ipamd_raft_snapshot_duration_seconds",
  "ipamd_store_transactions_total",
  "ipamd_store_transaction_duration_seconds",
  "ipamd_store_batch_operations",
  "ipamd_grpc_requests_total",
  "ipamd_grpc_request_duration_seconds",
  "ipamd_grpc_refused_total",
  "ipamd_agent_leader_reachable",
  "ipamd_agent_quorum_available",
  "ipamd_agent_lost_blocks",
  "ipamd_pool_forecast_full_seconds",
  "ipamd_uncaught_errors_total",
  "ipamd_metrics_source_errors_total",
] as const;

/**
 * The Raft families of {@link IPAM_METRIC_NAMES}: registered only when
 * `IpamMetricsOptions.raft` is not false (servers and role all; a node agent has no Raft node).
 */
export const RAFT_METRIC_NAMES: readonly IpamMetricName[] = IPAM_METRIC_NAMES.filter((n) =>
  n.startsWith("ipamd_raft_"),
);

/**
 * The `kind` of an error that escaped every handler and reached the process (see
 * `countUncaughtError`): the first four are confined to one request or connection, `bug` is
 * anything else (the daemon exits on it).
 */
export const UNCAUGHT_ERROR_KINDS = ["zlib", "http2", "socket", "tls", "bug"] as const;

/** A value of {@link UNCAUGHT_ERROR_KINDS}. */
export type UncaughtErrorKind = (typeof UNCAUGHT_ERROR_KINDS)[number];

/** A metric name of the ipamd set. */
export type IpamMetricName = (typeof IPAM_METRIC_NAMES)[number];

/** Options of `createIpamMetrics`. */
export interface IpamMetricsOptions {
  /** Exported as `ipamd_build_info{version,revision,nodejs_version} 1`. */
  readonly buildInfo?: { readonly version: string; readonly revision?: string };
  /**
   * Also register prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`:
   * CPU, memory, heap, file descriptors, event-loop lag, GC) on the registry. Off by default:
   * three of them (`nodejs_active_handles_total`, ...) are gauges with a `_total` suffix, which
   * `promtool check metrics` reports as a problem. The daemon turns it on.
   */
  readonly collectDefaultMetrics?: boolean;
  /**
   * Register the Raft families ({@link RAFT_METRIC_NAMES}); default true. A node agent (no Raft
   * node) passes false: the Raft helpers then still work but nothing of theirs is exported.
   */
  readonly raft?: boolean;
  /** Replaces bucket sets of `DEFAULT_BUCKETS`; each array must be strictly increasing. */
  readonly buckets?: Partial<Record<BucketSet, readonly number[]>>;
  /** Clock for `time()`, in seconds; defaults to `monotonicSeconds`. */
  readonly now?: Clock;
  /** Receives a warning when a gauge source fails at scrape time. */
  readonly logger?: MetricsLogger;
}

/** The labels of an allocation: what was asked for, and the subnet it came from if known. */
export interface AllocationLabels {
  readonly purpose: string;
  readonly family: Family;
  /** The subnet id the address came from; omit when the request failed before choosing one. */
  readonly subnet?: string;
}

/** The labels of a release; a release of an unknown key knows none of them. */
export interface ReleaseLabels {
  readonly purpose?: string;
  readonly family?: Family;
  readonly subnet?: string;
}

/** The labels that name a subnet. */
export interface SubnetLabels {
  readonly subnet: string;
  readonly purpose: string;
  readonly family: Family;
}

/**
 * What happened in node pre-allocation (DESIGN §5.4):
 * - `requested`: free addresses fell below the threshold and a block lease was requested;
 * - `leased`: the lease succeeded;
 * - `failed`: the lease failed (the next allocation may try again);
 * - `in_flight`: below the threshold, but a request for this subnet was already in flight;
 * - `capped`: below the threshold, but the node already holds the maximum of spare blocks;
 * - `returned`: a block stayed empty past the grace period and went back to L1.
 */
export type PreallocationEvent =
  | "requested"
  | "leased"
  | "failed"
  | "in_flight"
  | "capped"
  | "returned";

/** One garbage-collection pass over the allocation records of a network (CNI GC). */
export interface GcRun {
  /** `ok` or the stable error code that ended the pass. */
  readonly result: string;
  readonly purpose: string;
  /** Records found that are not in the valid attachments. */
  readonly candidates: number;
  /** Of those, records actually released. */
  readonly reclaimed: number;
}

/** A snapshot operation: `create` (take and persist) or `restore` (load, local or installed). */
export type SnapshotOp = "create" | "restore";

type AllocLabel = "subnet" | "purpose" | "family" | "result";
type SubnetGaugeLabel = "subnet" | "purpose" | "family" | "tor";

/**
 * The ipamd metric set on one registry. The prom-client objects are exposed for uses the helpers
 * do not cover; the helpers validate their numbers and keep label values bounded.
 *
 * Every helper throws `MetricsError("INVALID_ARGUMENT")` on a negative or non-finite duration or
 * count (a caller bug), and otherwise never throws.
 */
export interface IpamMetrics {
  readonly registry: Registry;
  readonly allocations: Counter<AllocLabel>;
  readonly allocationDuration: Histogram<"purpose" | "family" | "result">;
  readonly releases: Counter<AllocLabel>;
  readonly releaseDuration: Histogram<"result">;
  readonly preallocationEvents: Counter<"subnet" | "purpose" | "family" | "event">;
  readonly gcRuns: Counter<"result">;
  readonly gcCandidates: Counter<"purpose">;
  readonly gcReclaimed: Counter<"purpose">;
  readonly raftApplyDuration: Histogram;
  readonly raftAppliedEntries: Counter;
  readonly raftProposals: Counter<"result">;
  readonly raftProposalDuration: Histogram<"result">;
  readonly raftSnapshotSize: Gauge;
  readonly raftSnapshotDuration: Histogram<"op">;
  readonly raftLeaderChanges: Counter;
  readonly storeTransactions: Counter<"op" | "result">;
  readonly storeTransactionDuration: Histogram<"op">;
  readonly storeBatchOperations: Histogram;
  readonly grpcRequests: Counter<"method" | "code">;
  readonly grpcRequestDuration: Histogram<"method">;
  readonly grpcRefused: Counter<"reason">;
  readonly uncaughtErrors: Counter<"kind">;
  readonly sourceErrors: Counter<"source">;

  /**
   * One address allocated (or not) for `labels.family`: increments `ipamd_allocations_total`
   * and observes `seconds` in `ipamd_allocation_duration_seconds`. A dual-stack request is two
   * calls, one per family, each with the request's duration.
   */
  observeAllocation(result: string, labels: AllocationLabels, seconds: number): void;
  /**
   * One address released (one call per family of the key), or one call with empty `labels`
   * for a key that held nothing (an idempotent DEL): `ipamd_releases_total` and
   * `ipamd_release_duration_seconds`.
   */
  observeRelease(result: string, labels: ReleaseLabels, seconds: number): void;
  /** Counts one pre-allocation event for a subnet. */
  countPreallocation(event: PreallocationEvent, labels: SubnetLabels): void;
  /** Records one GC pass: its result, and its candidate and reclaimed record counts. */
  observeGc(run: GcRun): void;
  /**
   * One batch of `entries` committed entries (default 1) was applied in `seconds`: one
   * observation of `ipamd_raft_apply_duration_seconds`, `entries` added to
   * `ipamd_raft_applied_entries_total`.
   */
  observeRaftApply(seconds: number, entries?: number): void;
  /**
   * The leader this server knows of (null: none) in `term`, as Raft reports it on every change:
   * counts one `ipamd_raft_leader_changes_total` each time a leader is known whose id or term
   * differs from the last leader counted (a re-election of the same server in a new term counts).
   */
  observeRaftLeader(leader: string | null, term: number): void;
  /** A proposal from submit to commit (or failure: `NOT_LEADER`, `TIMEOUT`, ...). */
  observeProposal(result: string, seconds: number): void;
  /** A snapshot was created or restored; `sizeBytes` sets `ipamd_raft_snapshot_size_bytes`. */
  observeSnapshot(op: SnapshotOp, seconds: number, sizeBytes?: number): void;
  /** One store transaction; `op` is a fixed name chosen by the store (`append_log`, ...). */
  observeStoreTransaction(op: string, result: string, seconds: number): void;
  /** One group commit that wrote `operations` operations under one fsync. */
  observeStoreBatch(operations: number): void;
  /**
   * One gRPC call the server handled. `method` must be a method the server implements (map
   * anything else to `unknown`); `code` is the status as a number or its name.
   */
  observeGrpcRequest(method: string, code: number | GrpcCodeName, seconds: number): void;
  /**
   * One stream or connection a gRPC server refused or cut short (`compressed_request`,
   * `incomplete_request`, ...: @ipam/grpc-server's `RefusalReason`). A reason that is not
   * lower_snake (at most 32 characters) is counted as `other`: never pass the peer's path.
   */
  countGrpcRefusal(reason: string): void;
  /** One error that escaped every handler and reached the process's last-resort handler. */
  countUncaughtError(kind: UncaughtErrorKind): void;
  /** Times `fn` into `histogram` with a `result` label; see `timeAsync`. Uses this set's clock. */
  time<T, L extends string>(
    histogram: Histogram<L>,
    labels: LabelValues<Exclude<L, "result">>,
    fn: () => T | Promise<T>,
    counter?: Counter<L>,
  ): Promise<T>;

  /** The cluster (L1) view of every subnet, read at scrape time; `undefined` removes it. */
  setPoolSource(source: PoolGaugeSource | undefined): void;
  /** This node's (L2) view of the subnets it holds blocks of; `undefined` removes it. */
  setNodePoolSource(source: NodePoolGaugeSource | undefined): void;
  /** The Raft status of this server; `undefined` removes it. */
  setRaftSource(source: RaftGaugeSource | undefined): void;
  /** The node agent's view of the cluster; `undefined` removes it. */
  setAgentSource(source: AgentGaugeSource | undefined): void;
  /** The exhaustion forecast (the Raft leader, role all); `undefined` removes it. */
  setForecastSource(source: ForecastGaugeSource | undefined): void;
}

/**
 * Registers the ipamd metric set (DESIGN §9) on `registry` and returns it. Nothing is
 * registered anywhere else: prom-client's global registry is never touched, and default
 * process metrics are added only when `options.collectDefaultMetrics` is true.
 *
 * Throws `MetricsError("CONFLICT")` when any ipamd metric name is already registered on
 * `registry` (nothing is registered then), and `MetricsError("INVALID_ARGUMENT")` for bad
 * bucket arrays.
 */
export function createIpamMetrics(
  registry: Registry,
  options: IpamMetricsOptions = {},
): IpamMetrics {
  const withRaft = options.raft !== false;
  for (const name of IPAM_METRIC_NAMES) {
    if (!withRaft && RAFT_METRIC_NAMES.includes(name)) continue;
    if (registry.getSingleMetric(name) !== undefined) {
      throw new MetricsError("CONFLICT", `metric ${name} is already registered on this registry`, {
        details: {
          name,
        },
      });
    }
  }
  const buckets = resolveBuckets(options.buckets);
  const now = options.now ?? monotonicSeconds;
  const registers = [registry];
  // The Raft families are built either way (their helpers keep working) but only registered
  // with `raft` on: an agent exports no empty `ipamd_raft_*` family.
  const registersFor = (name: IpamMetricName) =>
    withRaft || !RAFT_METRIC_NAMES.includes(name) ? registers : [];

  const counter = <L extends string>(name: IpamMetricName, help: string, labelNames: L[]) =>
    new Counter<L>({ name, help, labelNames, registers: registersFor(name) });
  const histogram = <L extends string>(
    name: IpamMetricName,
    help: string,
    labelNames: L[],
    set: BucketSet,
  ) =>
    new Histogram<L>({
      name,
      help,
      labelNames,
      buckets: [...buckets[set]],
      registers: registersFor(name),
    });

  // Scrape-time gauges: each group of gauges shares one driver, so a source is read once per
  // scrape. The drivers are created below, after the gauges they write; `driver` is only
  // called at scrape time.
  const sourceGauge = <L extends string>(
    name: IpamMetricName,
    help: string,
    labelNames: L[],
    driver: () => Pick<ScrapeDriver<unknown>, "refresh">,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: registersFor(name),
      collect: () => driver().refresh(),
    });

  const buildInfo = new Gauge<"version" | "revision" | "nodejs_version">({
    name: "ipamd_build_info",
    help: "Always 1; labels carry the ipamd version, source revision and Node.js version.",
    labelNames: ["version", "revision", "nodejs_version"],
    registers,
  });
  buildInfo.set(
    {
      version: options.buildInfo?.version ?? "unknown",
      revision: options.buildInfo?.revision ?? "unknown",
      nodejs_version: process.versions.node,
    },
    1,
  );

  const allocations = counter(
    "ipamd_allocations_total",
    "Address allocations on this node, one per family of a request, by result (ok or error code).",
    ["subnet", "purpose", "family", "result"],
  );
  const allocationDuration = histogram(
    "ipamd_allocation_duration_seconds",
    "Time to allocate an address on this node, durable write included.",
    ["purpose", "family", "result"],
    "allocation",
  );
  const releases = counter(
    "ipamd_releases_total",
    "Address releases on this node by result; subnet, purpose, family empty for a key holding none.",
    ["subnet", "purpose", "family", "result"],
  );
  const releaseDuration = histogram(
    "ipamd_release_duration_seconds",
    "Time to release the addresses of a key on this node, durable write included.",
    ["result"],
    "allocation",
  );
  const preallocationEvents = counter(
    "ipamd_preallocation_events_total",
    "Node pre-allocation events per subnet: requested, leased, failed, in_flight, capped, returned.",
    ["subnet", "purpose", "family", "event"],
  );
  const gcRuns = counter(
    "ipamd_gc_runs_total",
    "Garbage-collection passes over allocation records, by result.",
    ["result"],
  );
  const gcCandidates = counter(
    "ipamd_gc_candidates_total",
    "Allocation records found by GC that are not in the valid attachments.",
    ["purpose"],
  );
  const gcReclaimed = counter("ipamd_gc_reclaimed_total", "Allocation records released by GC.", [
    "purpose",
  ]);

  const poolDriver = () => pool;
  const subnetLabels: SubnetGaugeLabel[] = ["subnet", "purpose", "family", "tor"];
  const subnetCapacity = sourceGauge(
    "ipamd_subnet_capacity_addresses",
    "Addresses in the subnet's CIDR (cluster view).",
    subnetLabels,
    poolDriver,
  );
  const subnetReserved = sourceGauge(
    "ipamd_subnet_reserved_addresses",
    "Addresses of the subnet never handed out: network, broadcast, gateway, reserved ranges.",
    subnetLabels,
    poolDriver,
  );
  const subnetAllocated = sourceGauge(
    "ipamd_subnet_allocated_addresses",
    "Addresses of the subnet owned by a node or key: direct allocations plus leased blocks.",
    subnetLabels,
    poolDriver,
  );
  const subnetCooling = sourceGauge(
    "ipamd_subnet_cooling_down_addresses",
    "Released direct-mode addresses of the subnet still waiting out their cooldown.",
    subnetLabels,
    poolDriver,
  );
  const subnetCapacityBlocks = sourceGauge(
    "ipamd_subnet_capacity_blocks",
    "Blocks the subnet is divided into (one per address in direct mode).",
    subnetLabels,
    poolDriver,
  );
  const subnetLeasedBlocks = sourceGauge(
    "ipamd_subnet_leased_blocks",
    "Blocks of the subnet currently leased to a node.",
    subnetLabels,
    poolDriver,
  );

  const nodePoolDriver = () => nodePool;
  const nodeHeldBlocks = sourceGauge(
    "ipamd_node_held_blocks",
    "Blocks of the subnet leased to this node.",
    subnetLabels,
    nodePoolDriver,
  );
  const nodeHeldAddresses = sourceGauge(
    "ipamd_node_held_addresses",
    "Usable addresses inside the blocks this node holds.",
    subnetLabels,
    nodePoolDriver,
  );
  const nodeAllocated = sourceGauge(
    "ipamd_node_allocated_addresses",
    "Addresses held by an allocation record on this node.",
    subnetLabels,
    nodePoolDriver,
  );
  const nodeCooling = sourceGauge(
    "ipamd_node_cooling_down_addresses",
    "Addresses released on this node still waiting out their cooldown.",
    subnetLabels,
    nodePoolDriver,
  );

  const raftDriver = () => raft;
  const raftTerm = sourceGauge("ipamd_raft_term", "Current Raft term.", [], raftDriver);
  const raftRole = sourceGauge(
    "ipamd_raft_role",
    "1 for the Raft role this server is in, 0 for the others.",
    ["role"],
    raftDriver,
  );
  const raftCommitIndex = sourceGauge(
    "ipamd_raft_commit_index",
    "Highest Raft log index known to be committed.",
    [],
    raftDriver,
  );
  const raftAppliedIndex = sourceGauge(
    "ipamd_raft_applied_index",
    "Highest Raft log index applied to the cluster state machine.",
    [],
    raftDriver,
  );
  const raftHasLeader = sourceGauge(
    "ipamd_raft_has_leader",
    "1 when this server knows a Raft leader (itself included), else 0.",
    [],
    raftDriver,
  );
  const raftRemoved = sourceGauge(
    "ipamd_raft_removed",
    "1 once this server learnt it was removed from the Raft membership (it no longer takes part), else 0.",
    [],
    raftDriver,
  );
  const raftLeaderChanges = counter(
    "ipamd_raft_leader_changes_total",
    "Times this server learnt of a new Raft leader (another server, or a new term of the same one).",
    [],
  );
  let lastLeader: { readonly id: string; readonly term: number } | undefined;
  const raftApplyDuration = histogram(
    "ipamd_raft_apply_duration_seconds",
    "Time to apply one batch of committed Raft entries to the cluster state machine.",
    [],
    "raftApply",
  );
  const raftAppliedEntries = counter(
    "ipamd_raft_applied_entries_total",
    "Committed Raft entries applied to the cluster state machine.",
    [],
  );
  const raftProposals = counter(
    "ipamd_raft_proposals_total",
    "Raft proposals by result (ok, NOT_LEADER, TIMEOUT, ...).",
    ["result"],
  );
  const raftProposalDuration = histogram(
    "ipamd_raft_proposal_duration_seconds",
    "Time from proposing a command to its commit (or failure).",
    ["result"],
    "raftProposal",
  );
  const raftSnapshotSize = new Gauge({
    name: "ipamd_raft_snapshot_size_bytes",
    help: "Size of the latest snapshot created or restored.",
    registers: registersFor("ipamd_raft_snapshot_size_bytes"),
  });
  const raftSnapshotDuration = histogram(
    "ipamd_raft_snapshot_duration_seconds",
    "Time to create or restore a snapshot of the cluster state.",
    ["op"],
    "snapshot",
  );

  const storeTransactions = counter(
    "ipamd_store_transactions_total",
    "Store (SQLite) transactions by operation and result.",
    ["op", "result"],
  );
  const storeTransactionDuration = histogram(
    "ipamd_store_transaction_duration_seconds",
    "Time of one store transaction, fsync included.",
    ["op"],
    "storeTransaction",
  );
  const storeBatchOperations = histogram(
    "ipamd_store_batch_operations",
    "Operations written by one group commit (one fsync).",
    [],
    "storeBatch",
  );

  const grpcRequests = counter(
    "ipamd_grpc_requests_total",
    "gRPC calls handled by this process, by method and status code.",
    ["method", "code"],
  );
  const grpcRequestDuration = histogram(
    "ipamd_grpc_request_duration_seconds",
    "Time to handle one gRPC call, by method.",
    ["method"],
    "grpc",
  );

  const grpcRefused = counter(
    "ipamd_grpc_refused_total",
    "Streams and connections the gRPC servers refused or cut short before a handler answered, by reason.",
    ["reason"],
  );

  const agentDriver = () => agent;
  const agentLeaderReachable = sourceGauge(
    "ipamd_agent_leader_reachable",
    "1 when this node agent reached the cluster leader on its last call, else 0.",
    [],
    agentDriver,
  );
  const agentQuorum = sourceGauge(
    "ipamd_agent_quorum_available",
    "1 when the cluster reported a quorum of voters to this node agent, else 0.",
    [],
    agentDriver,
  );

  const agentLostBlocks = sourceGauge(
    "ipamd_agent_lost_blocks",
    "Blocks this node agent holds that the cluster no longer leases to it (the node was declared dead while alive): it serves nothing new from them and keeps their records.",
    [],
    agentDriver,
  );

  const forecastDriver = () => forecast;
  const forecastFull = sourceGauge(
    "ipamd_pool_forecast_full_seconds",
    "Estimated seconds until the addresses held in the subnets of a zone, pod or TOR, purpose and family reach their capacity at the recent net allocation rate; +Inf when not growing. Exported by the Raft leader only.",
    ["zone", "pod", "tor", "purpose", "family"],
    forecastDriver,
  );

  const uncaughtErrors = counter(
    "ipamd_uncaught_errors_total",
    "Errors that escaped every handler and reached the process, by kind; kind bug ends the process.",
    ["kind"],
  );

  // Registered last, it joins the reads in flight so an async failure counts in the same scrape.
  const sourceErrors = new Counter<"source">({
    name: "ipamd_metrics_source_errors_total",
    help: "Scrape-time gauge sources that threw; their gauges were left empty for that scrape.",
    labelNames: ["source"],
    registers,
    collect: async () => {
      await Promise.all([
        pool.refresh(),
        nodePool.refresh(),
        raft.refresh(),
        agent.refresh(),
        forecast.refresh(),
      ]);
    },
  });

  const onSourceError = (source: SourceName) => (error: unknown) => {
    sourceErrors.inc({ source });
    options.logger?.warn({ source, ...describeError(error) }, "metrics gauge source failed");
  };

  const pool = createScrapeDriver<readonly PoolSnapshot[]>({
    clear: () => {
      for (const g of [
        subnetCapacity,
        subnetReserved,
        subnetAllocated,
        subnetCooling,
        subnetCapacityBlocks,
        subnetLeasedBlocks,
      ]) {
        clearGauge(g);
      }
    },
    write: (rows) => {
      for (const row of rows) {
        const labels = subnetGaugeLabels(row);
        subnetCapacity.set(labels, count(row.capacityAddresses));
        subnetReserved.set(labels, count(row.reservedAddresses));
        subnetAllocated.set(labels, count(row.allocatedAddresses));
        subnetCooling.set(labels, count(row.coolingDownAddresses));
        subnetCapacityBlocks.set(labels, count(row.capacityBlocks));
        subnetLeasedBlocks.set(labels, count(row.leasedBlocks));
      }
    },
    onError: onSourceError("pool"),
  });

  const nodePool = createScrapeDriver<readonly NodePoolSnapshot[]>({
    clear: () => {
      for (const g of [nodeHeldBlocks, nodeHeldAddresses, nodeAllocated, nodeCooling])
        clearGauge(g);
    },
    write: (rows) => {
      for (const row of rows) {
        const labels = subnetGaugeLabels(row);
        nodeHeldBlocks.set(labels, count(row.heldBlocks));
        nodeHeldAddresses.set(labels, count(row.heldAddresses));
        nodeAllocated.set(labels, count(row.allocatedAddresses));
        nodeCooling.set(labels, count(row.coolingDownAddresses));
      }
    },
    onError: onSourceError("node_pool"),
  });

  const raft = createScrapeDriver<RaftStatusLike>({
    clear: () => {
      for (const g of [raftTerm, raftCommitIndex, raftAppliedIndex, raftHasLeader, raftRemoved]) {
        clearGauge(g);
      }
      clearGauge(raftRole);
    },
    write: (status) => {
      raftTerm.set(count(status.term));
      for (const role of RAFT_ROLES) raftRole.set({ role }, role === status.role ? 1 : 0);
      raftCommitIndex.set(count(status.commit));
      raftAppliedIndex.set(count(status.applied));
      raftHasLeader.set(status.leader === null ? 0 : 1);
      raftRemoved.set(status.removed === true ? 1 : 0);
    },
    onError: onSourceError("raft"),
  });

  const agent = createScrapeDriver<AgentStatusLike>({
    clear: () => {
      clearGauge(agentLeaderReachable);
      clearGauge(agentQuorum);
      clearGauge(agentLostBlocks);
    },
    write: (status) => {
      agentLeaderReachable.set(status.leaderReachable ? 1 : 0);
      agentQuorum.set(status.quorumAvailable ? 1 : 0);
      agentLostBlocks.set(status.lostBlocks ?? 0);
    },
    onError: onSourceError("agent"),
  });

  const forecast = createScrapeDriver<readonly ForecastSnapshot[]>({
    clear: () => clearGauge(forecastFull),
    write: (rows) => {
      for (const row of rows) {
        forecastFull.set(
          {
            zone: row.zone,
            pod: row.pod,
            tor: row.tor,
            purpose: row.purpose,
            family: familyLabel(row.family),
          },
          row.fullInSeconds ?? Number.POSITIVE_INFINITY,
        );
      }
    },
    onError: onSourceError("forecast"),
  });

  if (options.collectDefaultMetrics === true) collectDefaultMetrics({ register: registry });

  return {
    registry,
    allocations,
    allocationDuration,
    releases,
    releaseDuration,
    preallocationEvents,
    gcRuns,
    gcCandidates,
    gcReclaimed,
    raftApplyDuration,
    raftAppliedEntries,
    raftProposals,
    raftProposalDuration,
    raftSnapshotSize,
    raftSnapshotDuration,
    raftLeaderChanges,
    storeTransactions,
    storeTransactionDuration,
    storeBatchOperations,
    grpcRequests,
    grpcRequestDuration,
    grpcRefused,
    uncaughtErrors,
    sourceErrors,

    observeAllocation(result, labels, seconds) {
      checkSeconds("seconds", seconds);
      const family = familyLabel(labels.family);
      const r = normaliseResult(result);
      allocations.inc({ subnet: labels.subnet ?? "", purpose: labels.purpose, family, result: r });
      allocationDuration.observe({ purpose: labels.purpose, family, result: r }, seconds);
    },
    observeRelease(result, labels, seconds) {
      checkSeconds("seconds", seconds);
      const r = normaliseResult(result);
      releases.inc({
        subnet: labels.subnet ?? "",
        purpose: labels.purpose ?? "",
        family: labels.family === undefined ? "" : familyLabel(labels.family),
        result: r,
      });
      releaseDuration.observe({ result: r }, seconds);
    },
    countPreallocation(event, labels) {
      preallocationEvents.inc({
        subnet: labels.subnet,
        purpose: labels.purpose,
        family: familyLabel(labels.family),
        event,
      });
    },
    observeGc(run) {
      checkCount("candidates", run.candidates);
      checkCount("reclaimed", run.reclaimed);
      gcRuns.inc({ result: normaliseResult(run.result) });
      gcCandidates.inc({ purpose: run.purpose }, run.candidates);
      gcReclaimed.inc({ purpose: run.purpose }, run.reclaimed);
    },
    observeRaftApply(seconds, entries = 1) {
      checkSeconds("seconds", seconds);
      checkCount("entries", entries);
      raftApplyDuration.observe(seconds);
      raftAppliedEntries.inc(entries);
    },
    observeRaftLeader(leader, term) {
      if (leader === null) return;
      if (lastLeader !== undefined && lastLeader.id === leader && lastLeader.term === term) return;
      lastLeader = { id: leader, term };
      raftLeaderChanges.inc();
    },
    observeProposal(result, seconds) {
      checkSeconds("seconds", seconds);
      const r = normaliseResult(result);
      raftProposals.inc({ result: r });
      raftProposalDuration.observe({ result: r }, seconds);
    },
    observeSnapshot(op, seconds, sizeBytes) {
      checkSeconds("seconds", seconds);
      if (sizeBytes !== undefined) checkCount("sizeBytes", sizeBytes);
      raftSnapshotDuration.observe({ op }, seconds);
      if (sizeBytes !== undefined) raftSnapshotSize.set(sizeBytes);
    },
    observeStoreTransaction(op, result, seconds) {
      checkSeconds("seconds", seconds);
      storeTransactions.inc({ op, result: normaliseResult(result) });
      storeTransactionDuration.observe({ op }, seconds);
    },
    observeStoreBatch(operations) {
      checkCount("operations", operations);
      storeBatchOperations.observe(operations);
    },
    observeGrpcRequest(method, code, seconds) {
      checkSeconds("seconds", seconds);
      const m = grpcMethodLabel(method);
      grpcRequests.inc({ method: m, code: grpcCodeLabel(code) });
      grpcRequestDuration.observe({ method: m }, seconds);
    },
    countGrpcRefusal(reason) {
      grpcRefused.inc({ reason: REASON_PATTERN.test(reason) ? reason : "other" });
    },
    countUncaughtError(kind) {
      uncaughtErrors.inc({
        kind: (UNCAUGHT_ERROR_KINDS as readonly string[]).includes(kind) ? kind : "bug",
      });
    },
    time(histogram, labels, fn, counter) {
      return timeAsync(histogram, labels, fn, counter === undefined ? { now } : { now, counter });
    },
    setPoolSource: (source) => pool.setSource(source),
    setNodePoolSource: (source) => nodePool.setSource(source),
    setRaftSource: (source) => raft.setSource(source),
    setAgentSource: (source) => agent.setSource(source),
    setForecastSource: (source) => forecast.setSource(source),
  };
}

const REASON_PATTERN = /^[a-z][a-z_]{0,31}$/;

function subnetGaugeLabels(row: {
  readonly subnet: string;
  readonly purpose: string;
  readonly family: Family;
  readonly tor?: string;
}): Record<SubnetGaugeLabel, string> {
  return {
    subnet: row.subnet,
    purpose: row.purpose,
    family: familyLabel(row.family),
    tor: row.tor ?? "",
  };
}

/**
 * Removes every series of a gauge. `reset()` alone leaves a label-less gauge at 0, which would
 * claim a value ("no leader reachable") the source never reported.
 */
function clearGauge<L extends string>(gauge: Gauge<L>): void {
  gauge.reset();
  gauge.remove({});
}

function count(value: GaugeCount): number {
  return typeof value === "bigint" ? Number(value) : value;
}

function checkSeconds(field: string, seconds: number): void {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new MetricsError(
      "INVALID_ARGUMENT",
      `${field}: ${seconds} is not a duration in seconds`,
      {
        details: {
          field,
          value: seconds,
        },
      },
    );
  }
}

function checkCount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MetricsError("INVALID_ARGUMENT", `${field}: ${value} is not a non-negative integer`, {
      details: {
        field,
        value,
      },
    });
  }
}

function resolveBuckets(
  overrides: Partial<Record<BucketSet, readonly number[]>> | undefined,
): Record<BucketSet, readonly number[]> {
  const out: Record<BucketSet, readonly number[]> = { ...DEFAULT_BUCKETS };
  if (overrides === undefined) return out;
  for (const set of Object.keys(DEFAULT_BUCKETS) as BucketSet[]) {
    const given = overrides[set];
    if (given === undefined) continue;
    const ok =
      given.length > 0 &&
      given.every((b, i) => Number.isFinite(b) && (i === 0 || b > (given[i - 1] as number)));
    if (!ok) {
      throw new MetricsError(
        "INVALID_ARGUMENT",
        `buckets.${set}: must be a non-empty, strictly increasing list of finite numbers`,
        { details: { field: `buckets.${set}` } },
      );
    }
    out[set] = given;
  }
  return out;
}
