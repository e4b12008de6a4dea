import type { Family } from "./labels.js";

/**
 * A count read by a scrape-time gauge. `bigint` is accepted because IPv6 subnets hold more
 * addresses than a `number` counts exactly; it is exported as the nearest float64, which is
 * what Prometheus stores anyway.
 */
export type GaugeCount = number | bigint;

/**
 * A source is called once per scrape (shared by every gauge it feeds) and may be async.
 * Returning `undefined` means "nothing to report now" (Raft not started yet): the gauges it
 * feeds export no series. A source that throws or rejects has the same effect, plus a warning
 * log line and one increment of `ipamd_metrics_source_errors_total{source}`; the scrape itself
 * still succeeds.
 */
export type GaugeSource<T> = () => T | undefined | Promise<T | undefined>;

/**
 * One subnet as the cluster state (L1) sees it. Values are point-in-time counts of addresses
 * or blocks; the caller owns the objects and may reuse them after the source returns.
 */
export interface PoolSnapshot {
  /** Subnet id from the topology (bounded by configuration; never a CIDR of a pod). */
  readonly subnet: string;
  readonly purpose: string;
  readonly family: Family;
  /** The TOR the subnet is scoped to, when its scope is a TOR; omitted for Pod or Zone scope. */
  readonly tor?: string;
  /** Every address of the CIDR (2^host bits). */
  readonly capacityAddresses: GaugeCount;
  /** Addresses never handed out: network, broadcast, gateway, configured reserved ranges. */
  readonly reservedAddresses: GaugeCount;
  /**
   * Addresses owned by someone: direct-mode allocations, plus in block mode every address of a
   * leased block (L1 does not see per-pod use; that is the node view below).
   */
  readonly allocatedAddresses: GaugeCount;
  /** Released addresses still waiting out `cooldownSeconds` (direct mode). */
  readonly coolingDownAddresses: GaugeCount;
  /** Blocks the subnet holds in total (equals capacity in direct mode). */
  readonly capacityBlocks: GaugeCount;
  /** Blocks currently leased to a node. */
  readonly leasedBlocks: GaugeCount;
}

/** A source of the cluster (L1) view of every subnet, read on each scrape. */
export type PoolGaugeSource = GaugeSource<readonly PoolSnapshot[]>;

/** One subnet as this node's agent (L2) sees it: only the blocks this node holds. */
export interface NodePoolSnapshot {
  readonly subnet: string;
  readonly purpose: string;
  readonly family: Family;
  /** The TOR of the subnet's scope, when it is a TOR. */
  readonly tor?: string;
  /** Blocks of this subnet leased to this node. */
  readonly heldBlocks: GaugeCount;
  /** Addresses inside those blocks, reserved ones excluded. */
  readonly heldAddresses: GaugeCount;
  /** Addresses held by an allocation record on this node. */
  readonly allocatedAddresses: GaugeCount;
  /** Released addresses on this node still waiting out `cooldownSeconds`. */
  readonly coolingDownAddresses: GaugeCount;
}

/** A source of this node's view of the subnets it draws from, read on each scrape. */
export type NodePoolGaugeSource = GaugeSource<readonly NodePoolSnapshot[]>;

/**
 * The Raft roles `ipamd_raft_role` reports, spelled as `@ipam/raft` spells them; every one is
 * exported on each scrape, 1 for the current role and 0 for the others.
 */
export const RAFT_ROLES = ["follower", "pre-candidate", "candidate", "leader"] as const;

/** A Raft role as the `role` label spells it. */
export type RaftRole = (typeof RAFT_ROLES)[number];

/**
 * The Raft status this process reports (servers only; agents have no Raft node). A structural
 * subset of `@ipam/raft`'s `RaftStatus`, so its status object can be returned as is.
 */
export interface RaftStatusLike {
  readonly term: GaugeCount;
  readonly role: RaftRole;
  /** Highest log index known to be committed. */
  readonly commit: GaugeCount;
  /** Highest log index applied to the state machine. */
  readonly applied: GaugeCount;
  /** The leader of the current term as far as this node knows (itself included), or null. */
  readonly leader: string | null;
  /** True once this server learnt it was removed from the membership (absent: false). */
  readonly removed?: boolean;
}

/** A source of the Raft status, read on each scrape. */
export type RaftGaugeSource = GaugeSource<RaftStatusLike>;

/** What a node agent knows of the cluster it leases blocks from. */
export interface AgentStatusLike {
  /** The last call to the L1 leader succeeded (or the agent is embedded in the leader). */
  readonly leaderReachable: boolean;
  /** The L1 cluster reported a quorum of voters on its last status answer. */
  readonly quorumAvailable: boolean;
  /** Held blocks the cluster no longer leases to this node (served no more); default 0. */
  readonly lostBlocks?: number;
}

/** A source of the node agent's cluster status, read on each scrape. */
export type AgentGaugeSource = GaugeSource<AgentStatusLike>;

/** The names of the sources, as the `source` label of `ipamd_metrics_source_errors_total`. */
export type SourceName = "pool" | "node_pool" | "raft" | "agent" | "forecast";

/**
 * One row of the exhaustion forecast (servers): a group of subnets attached at one place of the
 * topology, one purpose and family. Pod- and zone-scoped subnets leave the lower levels "".
 */
export interface ForecastSnapshot {
  readonly zone: string;
  readonly pod: string;
  readonly tor: string;
  readonly purpose: string;
  readonly family: Family;
  /** Seconds until the held addresses reach the capacity at the recent net rate; undefined = no growth (exported as +Inf). */
  readonly fullInSeconds: number | undefined;
}

/** A source of the exhaustion forecast, read on each scrape (undefined: not computed here). */
export type ForecastGaugeSource = GaugeSource<readonly ForecastSnapshot[]>;
