import type { Family, Node, ScopeRef, Subnet, Topology } from "@ipam/topology";
import type { Reservation, SubnetOrigin } from "./commands.js";

/** Usage of one subnet as L1 sees it (for metrics and `stats`). Address counts are numbers (IPv6 counts above 2^53 are approximate). */
export interface SubnetUsage {
  readonly subnet: string;
  readonly purpose: string;
  readonly family: Family;
  readonly mode: "block" | "direct";
  readonly scope: ScopeRef;
  readonly draining: boolean;
  /** Addresses that can ever be handed out (size minus reserved). */
  readonly capacity: number;
  /** Block mode: addresses in leased blocks; direct mode: allocated addresses. */
  readonly allocated: number;
  readonly reserved: number;
  /** Direct mode: released addresses still cooling down (0 in block mode: L2 tracks those). */
  readonly cooling: number;
  readonly free: number;
  readonly leasedBlocks: number;
  readonly totalBlocks: number;
}

/** The levels {@link ClusterState.stats} aggregates at. */
export type StatsLevel = "zone" | "pod" | "tor" | "subnet" | "purpose";

/** Sums of {@link SubnetUsage} over the subnets of one zone, pod, TOR, subnet or purpose. */
export interface StatsRow {
  readonly level: StatsLevel;
  readonly id: string;
  readonly subnets: number;
  readonly capacity: number;
  readonly allocated: number;
  readonly reserved: number;
  readonly cooling: number;
  readonly free: number;
  readonly leasedBlocks: number;
}

/** A subnet with its run-time state. */
export interface SubnetView {
  readonly subnet: Subnet;
  readonly mode: "block" | "direct";
  readonly draining: boolean;
  /** Removed while in use: waits for its holders to give it back, then goes. */
  readonly removing: boolean;
  /** Who manages it: the topology file or the API. */
  readonly origin: SubnetOrigin;
  readonly reservations: readonly Reservation[];
}

/** A registered node with its path and what it holds. */
export interface NodeView {
  readonly node: Node;
  /** `zone/pod/tor/node` ids. */
  readonly path: string;
  readonly blocks: number;
  readonly directAddresses: number;
  /** Deregistered while holding something: it returns what it holds, then goes. */
  readonly deregistering: boolean;
  /** When it was deregistered (ms), while `deregistering`. */
  readonly deregisteringSince?: number;
}

/**
 * The row a subnet counts towards at a stats level: its id, purpose, TOR (TOR-scoped subnets
 * only), pod (pod- and TOR-scoped) or zone (all); undefined when it does not count there.
 */
export function statsKeyOf(
  topology: Topology,
  level: StatsLevel,
  subnet: { readonly subnet: string; readonly purpose: string; readonly scope: ScopeRef },
): string | undefined {
  const scope = subnet.scope;
  if (level === "subnet") return subnet.subnet;
  if (level === "purpose") return subnet.purpose;
  if (level === "tor") return scope.kind === "tor" ? scope.id : undefined;
  const pod =
    scope.kind === "pod"
      ? scope.id
      : scope.kind === "tor"
        ? topology.tors.get(scope.id)?.pod
        : undefined;
  if (level === "pod") return pod;
  return scope.kind === "zone"
    ? scope.id
    : pod === undefined
      ? undefined
      : topology.pods.get(pod)?.zone;
}
