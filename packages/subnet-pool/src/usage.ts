import type { AddressInterval, Family } from "@ipam/topology";
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

/** Usage of every subnet, sorted by id (exact counts: see {@link SubnetUsage}). */
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
    const allocated = BigInt(pool.allocated);
    return {
      ...base,
      capacity: BigInt(pool.block.capacity()),
      reserved: BigInt(pool.block.reservedCount()),
      leased: allocated,
      held: allocated,
      cooling: BigInt(pool.cooling),
      free: BigInt(pool.block.free()),
      leasedBlocks: 0,
      totalBlocks: 0n,
    };
  }
  const intervals = parts.reservations.intervals(st);
  let reserved = 0n;
  for (const x of intervals) reserved += x.end - x.start + 1n;
  const blockSize = 1n << BigInt(st.geometry.cidr.bits - st.subnet.blockPrefix);
  const start = st.geometry.cidr.start;
  let leased = 0n;
  let blocks = 0;
  parts.leases.forEachIn(st.subnet.id, (index) => {
    const first = start + index * blockSize;
    leased += blockSize - reservedWithin(intervals, first, first + blockSize - 1n);
    blocks++;
  });
  const capacity = st.geometry.cidr.size() - reserved;
  return {
    ...base,
    capacity,
    reserved,
    leased,
    held: undefined,
    cooling: undefined,
    free: capacity - leased,
    leasedBlocks: blocks,
    totalBlocks: st.geometry.blockCount,
  };
}

/** Addresses of `[first, last]` inside the sorted, merged `intervals`. */
function reservedWithin(
  intervals: readonly AddressInterval[],
  first: bigint,
  last: bigint,
): bigint {
  let lo = 0;
  let hi = intervals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((intervals[mid] as AddressInterval).end < first) lo = mid + 1;
    else hi = mid;
  }
  let n = 0n;
  for (let i = lo; i < intervals.length; i++) {
    const x = intervals[i] as AddressInterval;
    if (x.start > last) break;
    const a = x.start > first ? x.start : first;
    const b = x.end < last ? x.end : last;
    n += b - a + 1n;
  }
  return n;
}

type Sums = { -readonly [K in keyof Omit<StatsRow, "level" | "id">]: StatsRow[K] };

/** {@link subnetUsage} summed per level; see `ClusterState.stats` for the rules. */
export function stats(
  parts: ClusterParts,
  level: StatsLevel,
  filter: { readonly purpose?: string; readonly family?: Family; readonly id?: string },
): StatsRow[] {
  const topology = parts.registry.topology;
  const rows = new Map<string, Sums>();
  for (const u of subnetUsage(parts)) {
    if (filter.purpose !== undefined && u.purpose !== filter.purpose) continue;
    if (filter.family !== undefined && u.family !== filter.family) continue;
    const id = statsKeyOf(topology, level, u);
    if (id === undefined || (filter.id !== undefined && id !== filter.id)) continue;
    const row = rows.get(id) ?? {
      subnets: 0,
      blockSubnets: 0,
      capacity: 0n,
      reserved: 0n,
      leased: 0n,
      held: 0n,
      cooling: 0n,
      free: 0n,
      leasedBlocks: 0,
    };
    row.subnets++;
    if (u.mode === "block") row.blockSubnets++;
    row.capacity += u.capacity;
    row.reserved += u.reserved;
    row.leased += u.leased;
    row.held += u.held ?? 0n;
    row.cooling += u.cooling ?? 0n;
    row.free += u.free;
    row.leasedBlocks += u.leasedBlocks;
    rows.set(id, row);
  }
  return [...rows.entries()]
    .sort((a, b) => byString(a[0], b[0]))
    .map(([id, r]) => ({ level, id, ...r }));
}
