import { Cidr } from "@ipam/bitmap";
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

/** A block this node holds, with its own figures (not its subnet's). */
export interface NodeBlockView {
  readonly cidr: string;
  readonly subnet: Subnet;
  readonly leasedAt: number;
  /** `leased`, `draining`, `revoked` (as the cluster last said) or `lost` (no longer listed). */
  readonly state: string;
  /** Addresses of the block that can be handed out (its size minus reserved ones). */
  readonly capacity: number;
  /** Addresses of the block held by containers. */
  readonly held: number;
  /** Released addresses of the block still cooling down. */
  readonly cooling: number;
}

/** Filters of {@link nodeBlocks}; an absent field matches everything. */
export interface BlockFilter {
  readonly subnetId?: string;
  readonly purpose?: string;
}

/**
 * The blocks `allocator` holds that match `filter`, each with its own capacity, held and
 * cooling addresses at `now`; `lost` are the blocks the cluster no longer lists for the node.
 */
export function nodeBlocks(
  allocator: NodeAllocator,
  now: number,
  filter: BlockFilter,
  lost: ReadonlySet<string> = new Set(),
): NodeBlockView[] {
  return allocator
    .blockUsage(now)
    .filter((b) => filter.subnetId === undefined || b.lease.subnet.id === filter.subnetId)
    .filter((b) => filter.purpose === undefined || b.lease.subnet.purpose === filter.purpose)
    .map((b) => ({
      cidr: b.lease.cidr,
      subnet: b.lease.subnet,
      leasedAt: b.lease.leasedAt,
      state: lost.has(b.lease.cidr) ? "lost" : (b.lease.state ?? "leased"),
      capacity: b.capacity,
      held: b.held,
      cooling: b.cooling,
    }));
}

/** Filters of {@link poolStats}; an absent field matches everything. */
export interface UsageFilter {
  readonly purpose?: string;
  readonly family?: Family;
}

/** The node's usage of one held subnet: its blocks there (see `NodeSubnetUsage`). */
export interface NodePoolView extends NodeSubnetUsage {
  /** The subnet, CIDR form. */
  readonly cidr: string;
  /** Reserved addresses inside the node's blocks of the subnet. */
  readonly reserved: number;
  /** Blocks the whole subnet holds (exact). */
  readonly blocksTotal: bigint;
}

/** The node's usage per held subnet at `now`, matching `filter`. */
export function poolStats(
  allocator: NodeAllocator,
  now: number,
  filter: UsageFilter,
): NodePoolView[] {
  const subnets = new Map<string, { subnet: Subnet; size: number }>();
  for (const b of allocator.blockUsage(now)) {
    const s = b.lease.subnet;
    const size = 2 ** (Cidr.parse(b.lease.cidr).bits - s.blockPrefix);
    const e = subnets.get(s.id) ?? { subnet: s, size: 0 };
    e.size += size;
    subnets.set(s.id, e);
  }
  return allocator
    .usage(now)
    .filter((u) => filter.purpose === undefined || u.purpose === filter.purpose)
    .filter((u) => filter.family === undefined || u.family === filter.family)
    .map((u) => {
      const e = subnets.get(u.subnet);
      const cidr = e === undefined ? "" : e.subnet.cidr;
      const parsed = e === undefined ? undefined : Cidr.parse(cidr);
      return {
        ...u,
        cidr,
        reserved: (e?.size ?? u.capacity) - u.capacity,
        blocksTotal:
          e === undefined || parsed === undefined ? 0n : parsed.subBlockCount(e.subnet.blockPrefix),
      };
    });
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
