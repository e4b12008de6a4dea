import type { AllocationRecord as StoredRecord } from "@ipam/store";
import type {
  AllocatedAddress,
  AllocationKey,
  AllocationRecord,
  NodeAllocator,
  NodeSubnetUsage,
} from "@ipam/subnet-pool";
import type { Family, Subnet } from "@ipam/topology";

// What the node shows operators (Status, GetNodeBlocks, GetPoolStats, ListAllocations), as
// plain values computed from the allocator and the store; the gRPC edge maps them to the wire.

/** A block this node holds. */
export interface NodeBlockView {
  readonly cidr: string;
  readonly subnet: Subnet;
  readonly leasedAt: number;
  /** Addresses the node holds in the block's subnet (all its blocks there). */
  readonly capacity: number;
}

/** Filters of {@link nodeBlocks}; an absent field matches everything. */
export interface BlockFilter {
  readonly subnetId?: string;
  readonly purpose?: string;
}

/** The blocks `allocator` holds that match `filter`, with their subnet's capacity at `now`. */
export function nodeBlocks(
  allocator: NodeAllocator,
  now: number,
  filter: BlockFilter,
): NodeBlockView[] {
  const usage = new Map(allocator.usage(now).map((u) => [u.subnet, u]));
  return allocator
    .blocks()
    .filter((b) => filter.subnetId === undefined || b.subnet.id === filter.subnetId)
    .filter((b) => filter.purpose === undefined || b.subnet.purpose === filter.purpose)
    .map((b) => ({
      cidr: b.cidr,
      subnet: b.subnet,
      leasedAt: b.leasedAt,
      capacity: usage.get(b.subnet.id)?.capacity ?? 0,
    }));
}

/** Filters of {@link poolStats}; an absent field matches everything. */
export interface UsageFilter {
  readonly purpose?: string;
  readonly family?: Family;
}

/** The node's usage per held subnet at `now`, matching `filter`. */
export function poolStats(
  allocator: NodeAllocator,
  now: number,
  filter: UsageFilter,
): NodeSubnetUsage[] {
  return allocator
    .usage(now)
    .filter((u) => filter.purpose === undefined || u.purpose === filter.purpose)
    .filter((u) => filter.family === undefined || u.family === filter.family);
}

/** A stored allocation with the addresses the node serves for it (none when it holds none). */
export interface AllocationView {
  readonly stored: StoredRecord;
  readonly addresses: readonly AllocatedAddress[];
}

/** The stored `rows` matching `purpose` (undefined: any), each with its live record's addresses. */
export function allocationViews(
  rows: readonly StoredRecord[],
  purpose: string | undefined,
  live: (key: AllocationKey) => AllocationRecord | undefined,
): AllocationView[] {
  return rows
    .filter((r) => purpose === undefined || r.purpose === purpose)
    .map((stored) => ({ stored, addresses: live(stored)?.addresses ?? [] }));
}

/** The node's answer to Status. */
export interface NodeStatus {
  readonly state: "READY" | "UNAVAILABLE" | "EXHAUSTED";
  /** Empty when READY and nothing is worth saying. */
  readonly reason: string;
}

/** The network a Status asks about: its purpose and families. */
export interface StatusQuery {
  readonly purpose: string;
  readonly families: readonly Family[];
}

/** Free addresses in the held blocks of `purpose` and `family` (from the node's usage rows). */
export function heldFree(
  usage: readonly NodeSubnetUsage[],
  purpose: string,
  family: Family,
): number {
  let free = 0;
  for (const u of usage) if (u.purpose === purpose && u.family === family) free += u.free;
  return free;
}
