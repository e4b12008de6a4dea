import type { AddressHistory } from "@ipam/store";
import type { ClusterState } from "@ipam/subnet-pool";
import { type Family, hostPrefix, type Topology } from "@ipam/topology";
import { type NodeReports, subnetHolders } from "../cluster/node-reports.js";
import { type ForecastRow, type ForecastSubnet, forecast } from "./forecast.js";

/** The default rate window: the last 24 h. */
export const DEFAULT_FORECAST_WINDOW_MS = 24 * 3_600_000;
/** Buckets the window is cut into for the R². */
const BUCKETS = 24;

/** Filters of a forecast; absent = all. */
export interface ForecastFilter {
  readonly zone?: string;
  readonly tor?: string;
  readonly purpose?: string;
  readonly family?: Family;
}

function placeOf(topology: Topology, scope: { kind: string; id: string }) {
  if (scope.kind === "tor") {
    const pod = topology.tors.get(scope.id)?.pod ?? "";
    return { zone: topology.pods.get(pod)?.zone ?? "", pod, tor: scope.id };
  }
  if (scope.kind === "pod") {
    return { zone: topology.pods.get(scope.id)?.zone ?? "", pod: scope.id, tor: "" };
  }
  return { zone: scope.id, pod: "", tor: "" };
}

/**
 * Every subnet's place and current use from the local replica and the agents' reports: held
 * is what the reports say (a block of a node that has not reported counts whole, the upper
 * bound), leased the addresses in leased blocks and direct allocations.
 */
export function forecastSubnets(
  state: ClusterState,
  reports: NodeReports | undefined,
  filter: ForecastFilter = {},
): ForecastSubnet[] {
  const topology = state.topology();
  const out: ForecastSubnet[] = [];
  for (const u of state.subnetUsage()) {
    const subnet = topology.subnets.get(u.subnet);
    if (subnet === undefined) continue;
    const place = placeOf(topology, u.scope);
    if (filter.zone !== undefined && place.zone !== filter.zone) continue;
    if (filter.tor !== undefined && place.tor !== filter.tor) continue;
    if (filter.purpose !== undefined && u.purpose !== filter.purpose) continue;
    if (filter.family !== undefined && u.family !== filter.family) continue;
    const holdings = state.subnetHoldings(u.subnet);
    const blockSize = 1n << BigInt(hostPrefix(subnet.family) - subnet.blockPrefix);
    const held = holdings === undefined ? 0n : subnetHolders(holdings, reports, blockSize).held;
    out.push({
      id: u.subnet,
      purpose: u.purpose,
      family: u.family,
      ...place,
      capacity: u.capacity,
      leased: u.leased,
      held,
    });
  }
  return out;
}

/**
 * The forecast rows at `now` over the last `windowMs` of the archive (shortened to the oldest
 * event kept: a younger history is not averaged over time it did not see).
 */
export function computeForecast(
  state: ClusterState,
  reports: NodeReports | undefined,
  history: Pick<AddressHistory, "growth" | "oldestArchived">,
  now: number,
  windowMs: number,
  filter: ForecastFilter = {},
): ForecastRow[] {
  const oldest = history.oldestArchived();
  const windowStart = Math.max(now - windowMs, oldest ?? now, 0);
  const windowEnd = Math.max(now, windowStart);
  const bucketMs = Math.max(1, Math.ceil((windowEnd - windowStart) / BUCKETS));
  return forecast({
    subnets: forecastSubnets(state, reports, filter),
    growth: oldest === undefined ? [] : history.growth(windowStart, bucketMs),
    windowStart,
    windowEnd,
    bucketMs,
  });
}
