import { Cidr } from "@ipam/bitmap";
import {
  addSubnet as addTopologySubnet,
  type Family,
  type ScopeRef,
  type Subnet,
  type Supernet,
  subnetsAt,
  supernetsForTor,
} from "@ipam/topology";
import type { BlockLease } from "./block-lease.js";
import { attachSubnet, type ClusterParts } from "./cluster-parts.js";
import { byString, fail, requireFamily, requireString } from "./command-args.js";
import type { CarveSubnetCommand, LeaseBlockCommand } from "./commands.js";
import { PoolError } from "./pool-error.js";
import type { SubnetState } from "./subnet-table.js";

// Supernets that feed TORs (docs/subnet-pool.md, "Supernets"). Who triggers a carve: the
// lease-block command itself, deterministically, inside the same log entry. A lease that leaves
// the node's TOR at or above a supernet's threshold carves one subnet for that TOR before the
// entry is done; a lease that finds nothing free carves one and leases from it. Because the log
// serializes commands, two leases racing past the threshold are two entries: the first carves,
// the second sees the grown TOR (below the threshold again) and carves nothing. No separate
// trigger can be lost in a leader change, and Raft and etcd stores behave the same (both apply
// the same ClusterState). The carve-subnet command is the operator's way to grow a TOR by hand.

/** A subnet carved out of a supernet for a TOR. */
export interface CarvedSubnet {
  readonly subnet: Subnet;
  /** The supernet it came from, and the zone or pod that declares it. */
  readonly supernet: string;
  readonly scope: ScopeRef;
  /** `adjacent`: next to one of the TOR's subnets (routes still aggregate); `first-free`. */
  readonly placement: "adjacent" | "first-free";
  /** What made the cluster carve it. */
  readonly reason: "threshold" | "exhausted" | "command";
}

/** The value of lease-block: the lease, and the subnet it carved for the TOR, if any. */
export type LeaseBlockValue = BlockLease & { readonly carved?: CarvedSubnet };

/** The value of carve-subnet: `carved` is absent when `basis` shows it already happened. */
export interface CarveSubnetValue {
  readonly tor: string;
  readonly purpose: string;
  readonly family: Family;
  readonly carved?: CarvedSubnet;
  /** The number of the TOR's open block-mode subnets of the purpose and family, after. */
  readonly subnets: number;
}

/** Leased and total addresses of a TOR's open block-mode subnets of one purpose and family. */
export interface TorUsage {
  readonly leased: bigint;
  readonly size: bigint;
  readonly subnets: readonly SubnetState[];
}

/** The TOR's own open (not draining) block-mode subnets of a purpose and family, by id. */
function torSubnets(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  family: Family,
): SubnetState[] {
  return subnetsAt(parts.registry.topology, { kind: "tor", id: tor })
    .filter((s) => s.purpose === purpose && s.family === family)
    .map((s) => parts.subnets.get(s.id) as SubnetState)
    .filter((st) => !st.direct && !st.draining)
    .sort((a, b) => byString(a.subnet.id, b.subnet.id));
}

/** How much of a TOR's open block-mode subnets of a purpose and family is leased. */
export function torUsage(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  family: Family,
): TorUsage {
  let leased = 0n;
  let size = 0n;
  const subnets = torSubnets(parts, tor, purpose, family);
  for (const st of subnets) {
    const block = 1n << BigInt(st.geometry.cidr.bits - st.subnet.blockPrefix);
    leased += BigInt(parts.leases.leasedCount(st.subnet.id)) * block;
    size += st.geometry.blockCount * block;
  }
  return { leased, size, subnets };
}

/** `leased / size >= threshold`, exactly (threshold in millionths). */
function atThreshold(usage: TorUsage, threshold: number): boolean {
  if (usage.size === 0n) return true;
  return usage.leased * 1_000_000n >= BigInt(Math.round(threshold * 1_000_000)) * usage.size;
}

/**
 * The slot of `/prefix` in `supernet` to carve for a TOR whose subnets (of the purpose and
 * family, any state) are `own`: the first free slot adjacent to one of them (by address: the
 * sibling that aggregates with it, then the slot after it, then the slot before it), else the
 * first free aligned slot of the supernet. Free: overlapping no subnet of the topology (`taken`,
 * sorted by start) and no subnet id. Undefined when the supernet is full.
 */
function pickSlot(
  supernet: Cidr,
  prefix: number,
  own: readonly Cidr[],
  taken: readonly Cidr[],
  ids: ReadonlySet<string>,
): { cidr: Cidr; placement: "adjacent" | "first-free" } | undefined {
  const size = 1n << BigInt(supernet.bits - prefix);
  const free = (start: bigint): Cidr | undefined => {
    if (start < supernet.start || start + size - 1n > supernet.end || start % size !== 0n)
      return undefined;
    const cidr = supernet.subBlock(prefix, (start - supernet.start) / size);
    if (ids.has(cidr.toString())) return undefined;
    return taken.some((t) => t.overlaps(cidr)) ? undefined : cidr;
  };
  for (const o of [...own].sort(Cidr.compare)) {
    const starts = [o.end + 1n, o.start - size];
    if (o.prefix === prefix) starts.unshift(o.start ^ size);
    for (const start of starts) {
      const cidr = free(start);
      if (cidr !== undefined) return { cidr, placement: "adjacent" };
    }
  }
  let cursor = supernet.start;
  for (const t of taken) {
    if (t.end < cursor) continue;
    if (t.start > supernet.end) break;
    while (cursor + size - 1n < t.start) {
      const cidr = free(cursor);
      if (cidr !== undefined) return { cidr, placement: "first-free" };
      cursor += size;
    }
    const after = t.end + 1n;
    cursor = after % size === 0n ? after : (after / size + 1n) * size;
  }
  for (; cursor + size - 1n <= supernet.end; cursor += size) {
    const cidr = free(cursor);
    if (cidr !== undefined) return { cidr, placement: "first-free" };
  }
  return undefined;
}

/**
 * Carves the next subnet for a TOR from the first of its supernets (pod's, then zone's; see
 * `supernetsForTor`) that has room and, unless `reason` is `command` or `exhausted`, whose
 * threshold the TOR's usage has reached. Attached with origin `carved`, recorded in the journal.
 * Returns undefined when no supernet applies or none has room.
 */
export function carveForTor(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  family: Family,
  reason: CarvedSubnet["reason"],
): CarvedSubnet | undefined {
  const topology = parts.registry.topology;
  const supernets = supernetsForTor(topology, tor, purpose, family);
  if (supernets.length === 0) return undefined;
  const usage = torUsage(parts, tor, purpose, family);
  const own = subnetsAt(topology, { kind: "tor", id: tor })
    .filter((s) => s.purpose === purpose && s.family === family)
    .map((s) => Cidr.parse(s.cidr));
  const taken = [...topology.subnets.values()]
    .filter((s) => s.family === family)
    .map((s) => Cidr.parse(s.cidr))
    .sort(Cidr.compare);
  const ids = new Set(topology.subnets.keys());
  for (const { supernet, scope } of supernets) {
    if (reason === "threshold" && !atThreshold(usage, supernet.threshold)) continue;
    const slot = pickSlot(Cidr.parse(supernet.cidr), supernet.prefix, own, taken, ids);
    if (slot === undefined) continue;
    return attachCarved(parts, tor, purpose, supernet, scope, slot, reason);
  }
  return undefined;
}

function attachCarved(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  supernet: Supernet,
  scope: ScopeRef,
  slot: { cidr: Cidr; placement: "adjacent" | "first-free" },
  reason: CarvedSubnet["reason"],
): CarvedSubnet {
  const cidr = slot.cidr.toString();
  const next = addTopologySubnet(parts.registry.topology, {
    cidr,
    purpose,
    blockPrefix: supernet.blockPrefix,
    scope: { kind: "tor", id: tor },
  });
  const subnet = next.subnets.get(cidr) as Subnet;
  attachSubnet(parts, subnet, undefined, "carved");
  parts.registry.replace(next);
  return { subnet, supernet: supernet.cidr, scope, placement: slot.placement, reason };
}

/**
 * The lease-block command with supernet growth (see the module comment): the lease, then a
 * carve when the node's TOR reached a threshold; or, when a purpose/family request finds nothing
 * free (`POOL_EXHAUSTED`) or no subnet at all (`NO_SUBNET`: a TOR with no subnet of the purpose
 * yet), a carve and a lease from the carved subnet. Retries answered from `requestId`
 * carve nothing.
 */
export function leaseAndGrow(parts: ClusterParts, c: LeaseBlockCommand): LeaseBlockValue {
  const nodeId = typeof c.node === "string" ? c.node : undefined;
  const before = nodeId === undefined ? 0 : parts.leases.countOf(nodeId);
  let lease: BlockLease;
  try {
    lease = parts.leases.leaseBlock(c);
  } catch (error) {
    if (
      !(error instanceof PoolError) ||
      (error.code !== "POOL_EXHAUSTED" && error.code !== "NO_SUBNET") ||
      nodeId === undefined ||
      c.subnet !== undefined ||
      c.address !== undefined
    )
      throw error;
    const purpose = requireString(c.purpose, "lease-block.purpose");
    const family = requireFamily(c.family, "lease-block.family");
    const tor = parts.registry.requireNode(nodeId, "lease-block.node").tor;
    const carved = carveForTor(parts, tor, purpose, family, "exhausted");
    if (carved === undefined) throw error;
    return { ...parts.leases.leaseBlock(c), carved };
  }
  if (nodeId === undefined || parts.leases.countOf(nodeId) === before) return lease;
  const tor = parts.registry.requireNode(nodeId, "lease-block.node").tor;
  const carved = carveForTor(parts, tor, lease.subnet.purpose, lease.subnet.family, "threshold");
  return carved === undefined ? lease : { ...lease, carved };
}

/** The carve-subnet command (see {@link CarveSubnetCommand}). */
export function carveSubnet(parts: ClusterParts, c: CarveSubnetCommand): CarveSubnetValue {
  const tor = requireString(c.tor, "carve-subnet.tor");
  if (!parts.registry.topology.tors.has(tor))
    fail("NOT_FOUND", `carve-subnet.tor: TOR ${tor} does not exist`, { tor });
  const purpose = requireString(c.purpose, "carve-subnet.purpose");
  const family = requireFamily(c.family, "carve-subnet.family");
  if (c.basis !== undefined && (!Number.isInteger(c.basis) || c.basis < 0))
    fail("INVALID_ARGUMENT", "carve-subnet.basis: must be a non-negative integer", {
      field: "basis",
    });
  const count = torSubnets(parts, tor, purpose, family).length;
  if (c.basis !== undefined && c.basis !== count) return { tor, purpose, family, subnets: count };
  if (supernetsForTor(parts.registry.topology, tor, purpose, family).length === 0)
    fail(
      "NO_SUBNET",
      `carve-subnet: no IPv${family} ${purpose} supernet feeds TOR ${tor} (declare one on its pod or zone)`,
      { tor, purpose, family },
    );
  const carved = carveForTor(parts, tor, purpose, family, "command");
  if (carved === undefined)
    fail(
      "POOL_EXHAUSTED",
      `carve-subnet: every IPv${family} ${purpose} supernet of TOR ${tor} is full`,
      {
        tor,
        purpose,
        family,
      },
    );
  return { tor, purpose, family, carved, subnets: count + 1 };
}
