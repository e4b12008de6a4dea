import { Cidr } from "@ipam/bitmap";
import {
  addSubnet as addTopologySubnet,
  type Family,
  hostPrefix,
  type ScopedSupernetRef,
  type ScopeRef,
  type Subnet,
  type Supernet,
  subnetsAt,
  supernetsForTor,
} from "@ipam/topology";
import type { BlockLease } from "./block-lease.js";
import { type CarvePlacement, pickCarveSlot } from "./carve-slot.js";
import { attachSubnet, type ClusterParts } from "./cluster-parts.js";
import { byString, requireFamily, requireString } from "./command-args.js";
import type { AllocateDirectCommand, DirectAllocateValue, LeaseBlockCommand } from "./commands.js";
import { PoolError } from "./pool-error.js";
import type { SubnetState } from "./subnet-table.js";

// Supernets that feed TORs (docs/subnet-pool.md, "Supernets"). Who triggers a carve: the
// allocating command itself, deterministically, inside the same log entry: lease-block for the
// TOR's block-mode subnets (fed by block-mode supernets), allocate-direct for its direct-mode
// subnets (fed by supernets whose block prefix is the host prefix). An allocation that leaves
// the node's TOR at or above a supernet's threshold carves one subnet for that TOR before the
// entry is done; one that finds nothing free carves one and allocates from it. Because the log
// serializes commands, two allocations racing past the threshold are two entries: the first
// carves, the second sees the grown TOR (below the threshold again) and carves nothing. No
// separate trigger can be lost in a leader change, and Raft and etcd stores behave the same
// (both apply the same ClusterState). The carve-subnet command (carve-command.ts) is the
// operator's way to grow a TOR by hand.

/** What a carve feeds: the TOR's block-mode subnets, or its direct-mode (per-address) ones. */
export type CarveMode = "block" | "direct";

/** A subnet carved out of a supernet for a TOR. */
export interface CarvedSubnet {
  readonly subnet: Subnet;
  /** The supernet it came from, and the zone or pod that declares it. */
  readonly supernet: string;
  readonly scope: ScopeRef;
  /** `adjacent`: next to one of the TOR's subnets (routes still aggregate); `first-free`. */
  readonly placement: CarvePlacement;
  /** What made the cluster carve it. */
  readonly reason: "threshold" | "exhausted" | "command";
}

/** The value of lease-block: the lease, and the subnet it carved for the TOR, if any. */
export type LeaseBlockValue = BlockLease & { readonly carved?: CarvedSubnet };

/** The value of allocate-direct: the allocation, and the subnet it carved for the TOR, if any. */
export type AllocateDirectValue = DirectAllocateValue & { readonly carved?: CarvedSubnet };

/** Leased and total addresses of a TOR's open subnets of one purpose, family and mode. */
export interface TorUsage {
  readonly leased: bigint;
  readonly size: bigint;
  readonly subnets: readonly SubnetState[];
}

/** The mode of the subnets a supernet carves (its block prefix is the host prefix: direct). */
export function supernetMode(supernet: Supernet): CarveMode {
  return supernet.blockPrefix === hostPrefix(supernet.family) ? "direct" : "block";
}

/** The TOR's own open (not draining) subnets of a purpose, family and mode, by id. */
export function torSubnets(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  family: Family,
  mode: CarveMode,
): SubnetState[] {
  return subnetsAt(parts.registry.topology, { kind: "tor", id: tor })
    .filter((s) => s.purpose === purpose && s.family === family)
    .map((s) => parts.subnets.get(s.id) as SubnetState)
    .filter((st) => st.direct === (mode === "direct") && !st.draining)
    .sort((a, b) => byString(a.subnet.id, b.subnet.id));
}

/**
 * How much of a TOR's open subnets of a purpose, family and mode is taken: leased block
 * addresses over block addresses (block mode); allocated or cooling addresses over addresses
 * that can ever be allocated (direct mode).
 */
export function torUsage(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  family: Family,
  mode: CarveMode = "block",
): TorUsage {
  let leased = 0n;
  let size = 0n;
  const subnets = torSubnets(parts, tor, purpose, family, mode);
  for (const st of subnets) {
    const pool = parts.direct.pool(st.subnet.id);
    if (pool !== undefined) {
      leased += BigInt(pool.block.allocatedCount());
      size += BigInt(pool.block.capacity());
      continue;
    }
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

/** How {@link carveForTor} carves. */
export interface CarveOptions {
  /** Default `block`. Only supernets of this mode are used. */
  readonly mode?: CarveMode;
  /** Prefix length of the new subnet instead of the supernet's `prefix`; supernets it does not fit are skipped. */
  readonly prefix?: number;
}

/** The supernets of a TOR's purpose, family and mode, in the order a carve tries them. */
export function feedingSupernets(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  family: Family,
  mode: CarveMode,
): ScopedSupernetRef[] {
  return supernetsForTor(parts.registry.topology, tor, purpose, family).filter(
    (s) => supernetMode(s.supernet) === mode,
  );
}

/** True when a `/prefix` subnet carved from `supernet` holds whole blocks of its block prefix. */
export function prefixFits(supernet: Supernet, prefix: number): boolean {
  return prefix >= Cidr.parse(supernet.cidr).prefix && prefix <= supernet.blockPrefix;
}

/**
 * Carves the next subnet for a TOR from the first of its supernets of the mode (pod's, then
 * zone's; see `supernetsForTor`) that has room and, when `reason` is `threshold`, whose
 * threshold the TOR's usage has reached. Attached with origin `carved`, recorded in the journal.
 * Returns undefined when no supernet applies or none has room.
 */
export function carveForTor(
  parts: ClusterParts,
  tor: string,
  purpose: string,
  family: Family,
  reason: CarvedSubnet["reason"],
  options: CarveOptions = {},
): CarvedSubnet | undefined {
  const mode = options.mode ?? "block";
  const supernets = feedingSupernets(parts, tor, purpose, family, mode);
  if (supernets.length === 0) return undefined;
  const usage = reason === "threshold" ? torUsage(parts, tor, purpose, family, mode) : undefined;
  // Below every threshold (the usual case on the allocation path): nothing more to look at.
  const open =
    usage === undefined
      ? supernets
      : supernets.filter((s) => atThreshold(usage, s.supernet.threshold));
  if (open.length === 0) return undefined;
  const topology = parts.registry.topology;
  const own = subnetsAt(topology, { kind: "tor", id: tor })
    .filter((s) => s.purpose === purpose && s.family === family)
    .map((s) => Cidr.parse(s.cidr));
  const taken = [...topology.subnets.values()]
    .filter((s) => s.family === family)
    .map((s) => Cidr.parse(s.cidr))
    .sort(Cidr.compare);
  const ids = new Set(topology.subnets.keys());
  for (const { supernet, scope } of open) {
    const prefix = options.prefix ?? supernet.prefix;
    if (!prefixFits(supernet, prefix)) continue;
    const slot = pickCarveSlot(Cidr.parse(supernet.cidr), prefix, own, taken, ids);
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
  slot: { cidr: Cidr; placement: CarvePlacement },
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

/** True for the errors after which an allocation may carve and try again. */
function outOfRoom(error: unknown): boolean {
  return (
    error instanceof PoolError && (error.code === "POOL_EXHAUSTED" || error.code === "NO_SUBNET")
  );
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
      !outOfRoom(error) ||
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

/**
 * The allocate-direct command with supernet growth, as {@link leaseAndGrow} for the TOR's
 * direct-mode subnets: a new allocation that leaves them at or above a direct-mode supernet's
 * threshold carves the next one; a request without `address` that finds no free address (or no
 * direct subnet) carves one and allocates from it. A repeat (`existing`) carves nothing.
 */
export function allocateAndGrow(
  parts: ClusterParts,
  c: AllocateDirectCommand,
): AllocateDirectValue {
  let value: DirectAllocateValue;
  try {
    value = parts.direct.allocateDirect(c);
  } catch (error) {
    if (!outOfRoom(error) || c.address !== undefined) throw error;
    const tor = parts.registry.requireNode(c.node, "allocate-direct.node").tor;
    const carved = carveForTor(parts, tor, c.purpose, c.family, "exhausted", { mode: "direct" });
    if (carved === undefined) throw error;
    return { ...parts.direct.allocateDirect(c), carved };
  }
  if (value.existing) return value;
  const tor = parts.registry.requireNode(value.node, "allocate-direct.node").tor;
  const carved = carveForTor(parts, tor, value.purpose, value.family, "threshold", {
    mode: "direct",
  });
  return carved === undefined ? value : { ...value, carved };
}
