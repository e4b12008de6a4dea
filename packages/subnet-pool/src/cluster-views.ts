import type { Family, Node, ScopeRef, Subnet, Topology } from "@ipam/topology";
import type { Reservation, SubnetOrigin } from "./commands.js";

/**
 * Usage of one subnet as L1 sees it (for metrics and `stats`). Every address count is exact
 * (`bigint`: an IPv6 subnet holds up to 2^128 addresses) and counts one family (a subnet has
 * one). For every subnet `capacity = leased + free` in block mode and
 * `capacity = leased + cooling + free` in direct mode.
 */
export interface SubnetUsage {
  readonly subnet: string;
  readonly purpose: string;
  readonly family: Family;
  readonly mode: "block" | "direct";
  readonly scope: ScopeRef;
  readonly draining: boolean;
  /** Addresses that can ever be handed out: the subnet's size minus its reserved addresses. */
  readonly capacity: bigint;
  /** Reserved addresses (network, broadcast, gateway, configured and run-time ranges). */
  readonly reserved: bigint;
  /**
   * Addresses nodes have taken from the subnet: block mode, the non-reserved addresses inside
   * leased blocks (whether or not a container holds them); direct mode, the allocated ones.
   */
  readonly leased: bigint;
  /**
   * Addresses held by containers: direct mode, the allocated ones (= `leased`); block mode,
   * `undefined`: only the node holding a block knows (agents report it to the servers).
   */
  readonly held: bigint | undefined;
  /**
   * Released addresses still cooling down: direct mode, exact; block mode, `undefined` (they
   * cool down inside the node's blocks, which the node reports).
   */
  readonly cooling: bigint | undefined;
  /** Addresses no node has taken and that are not cooling down in L1: what can still be leased. */
  readonly free: bigint;
  /** Blocks leased to nodes (0 in direct mode). */
  readonly leasedBlocks: number;
  /** Blocks the subnet holds in all (0 in direct mode). */
  readonly totalBlocks: bigint;
}

/** The levels {@link ClusterState.stats} aggregates at. */
export type StatsLevel = "zone" | "pod" | "tor" | "subnet" | "purpose";

/**
 * Sums of {@link SubnetUsage} over the subnets of one zone, pod, TOR, subnet or purpose (one
 * family when the caller filters by family: never sum IPv4 and IPv6 counts for display).
 * `held` and `cooling` sum the direct-mode subnets only; `blockSubnets` says how many summed
 * subnets are block-mode, whose held and cooling addresses only their nodes know.
 */
export interface StatsRow {
  readonly level: StatsLevel;
  readonly id: string;
  readonly subnets: number;
  /** Of `subnets`, the block-mode ones (their held/cooling addresses are not in this row). */
  readonly blockSubnets: number;
  readonly capacity: bigint;
  readonly reserved: bigint;
  readonly leased: bigint;
  /** Held addresses of the direct-mode subnets. */
  readonly held: bigint;
  /** Cooling addresses of the direct-mode subnets. */
  readonly cooling: bigint;
  readonly free: bigint;
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
