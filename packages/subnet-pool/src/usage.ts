import type { Family } from "@ipam/topology";
import type { ClusterParts } from "./cluster-parts.js";
import {
  type StatsLevel,
  type StatsRow,
  type SubnetUsage,
  type SubnetView,
  statsKeyOf,
} from "./cluster-views.js";
import { byString } from "./command-args.js";
import type { SubnetState } from "./subnet-table.js";

// The read-side views of the cluster state: subnets with their run-time state, usage per
// subnet, and usage summed per zone, pod, TOR, subnet or purpose. Every result is a fresh
// array owned by the caller, sorted by id.

/** Every subnet with its run-time state, sorted by id. */
export function subnetViews(parts: ClusterParts): SubnetView[] {
  return parts.subnets.sorted().map((st) => ({
    subnet: st.subnet,
    mode: st.direct ? ("direct" as const) : ("block" as const),
    draining: st.draining,
    removing: st.removing,
    origin: st.origin,
    reservations: parts.reservations.list(st),
  }));
}

/** Usage of every subnet, sorted by id (capacity/allocated/reserved/cooling/free). */
export function subnetUsage(parts: ClusterParts): SubnetUsage[] {
  return parts.subnets.sorted().map((st) => usageOf(parts, st));
}

function usageOf(parts: ClusterParts, st: SubnetState): SubnetUsage {
  const base = {
    subnet: st.subnet.id,
    purpose: st.subnet.purpose,
    family: st.subnet.family,
    mode: st.direct ? ("direct" as const) : ("block" as const),
    scope: st.subnet.scope,
    draining: st.draining,
  };
  const pool = parts.direct.pool(st.subnet.id);
  if (pool !== undefined) {
    return {
      ...base,
      capacity: pool.block.capacity(),
      allocated: pool.allocated,
      reserved: pool.block.reservedCount(),
      cooling: pool.cooling,
      free: pool.block.free(),
      leasedBlocks: 0,
      totalBlocks: 0,
    };
  }
  let reserved = 0n;
  for (const x of parts.reservations.intervals(st)) reserved += x.end - x.start + 1n;
  const size = st.geometry.cidr.size();
  const blockSize = 1n << BigInt(st.geometry.cidr.bits - st.subnet.blockPrefix);
  const leased = parts.leases.leasedCount(st.subnet.id);
  const capacity = Number(size - reserved);
  const allocated = Number(BigInt(leased) * blockSize);
  return {
    ...base,
    capacity,
    allocated,
    reserved: Number(reserved),
    cooling: 0,
    free: Math.max(0, capacity - allocated),
    leasedBlocks: leased,
    totalBlocks: Number(st.geometry.blockCount),
  };
}

type Sums = Omit<StatsRow, "level" | "id">;

/** {@link subnetUsage} summed per level; see `ClusterState.stats` for the rules. */
export function stats(
  parts: ClusterParts,
  level: StatsLevel,
  filter: { readonly purpose?: string; readonly family?: Family; readonly id?: string },
): StatsRow[] {
  const topology = parts.registry.topology;
  const rows = new Map<string, { -readonly [K in keyof Sums]: Sums[K] }>();
  for (const u of subnetUsage(parts)) {
    if (filter.purpose !== undefined && u.purpose !== filter.purpose) continue;
    if (filter.family !== undefined && u.family !== filter.family) continue;
    const id = statsKeyOf(topology, level, u);
    if (id === undefined || (filter.id !== undefined && id !== filter.id)) continue;
    const row = rows.get(id) ?? {
      subnets: 0,
      capacity: 0,
      allocated: 0,
      reserved: 0,
      cooling: 0,
      free: 0,
      leasedBlocks: 0,
    };
    row.subnets++;
    row.capacity += u.capacity;
    row.allocated += u.allocated;
    row.reserved += u.reserved;
    row.cooling += u.cooling;
    row.free += u.free;
    row.leasedBlocks += u.leasedBlocks;
    rows.set(id, row);
  }
  return [...rows.entries()]
    .sort((a, b) => byString(a[0], b[0]))
    .map(([id, r]) => ({ level, id, ...r }));
}
