/**
 * Allocation strategies: how far up the tree a node may draw addresses of one purpose from.
 *
 * - `tor`: only subnets attached to the node's TOR. The fabric carries one route per TOR
 *   subnet (aggregates at the TOR); exhaustion of the TOR's subnets is an error.
 * - `pod`: the TOR's subnets, then the Pod's. Blocks of a Pod subnet can sit behind any TOR of
 *   the pod: the pod's spines carry one route per leased block (or per address in direct mode)
 *   inside the Pod subnet; outside the pod the Pod subnet is one aggregate.
 * - `zone`: the TOR's, the Pod's, then the Zone's. Blocks of a Zone subnet can sit behind any
 *   TOR of the zone: the whole zone fabric carries their block routes.
 *
 * `spill` is the name earlier builds used for `zone` (TOR → Pod → Zone); it is accepted
 * everywhere and means exactly `zone`.
 */
export type AllocationStrategy = "tor" | "pod" | "zone";

/** A strategy as written in a file or command: an {@link AllocationStrategy} or `spill`. */
export type SubnetStrategy = AllocationStrategy | "spill";

/** Every accepted strategy name, `spill` last (the alias of `zone`). */
export const STRATEGY_NAMES = ["tor", "pod", "zone", "spill"] as const;

/** The strategy when neither the command, the purpose nor the subnet names one. */
export const DEFAULT_STRATEGY: AllocationStrategy = "zone";

/** The strategy `name` means (`spill` → `zone`). */
export function resolveStrategy(name: SubnetStrategy): AllocationStrategy {
  return name === "spill" ? "zone" : name;
}

/** True for a name {@link resolveStrategy} accepts. */
export function isStrategyName(value: unknown): value is SubnetStrategy {
  return typeof value === "string" && (STRATEGY_NAMES as readonly string[]).includes(value);
}

const REACH: Readonly<Record<AllocationStrategy, number>> = { tor: 0, pod: 1, zone: 2 };

/** True when a subnet attached at `level` may serve a node under `strategy`. */
export function strategyReaches(
  strategy: AllocationStrategy,
  level: "tor" | "pod" | "zone",
): boolean {
  return REACH[level] <= REACH[strategy];
}
