import { removeSubnet as removeTopologySubnet } from "@ipam/topology";
import type { BlockLease } from "./block-lease.js";
import { type ClusterParts, detachSubnet, inUse } from "./cluster-parts.js";
import { byString } from "./command-args.js";
import type { DirectAllocation, ReleaseBlockCommand, ReleaseDirectCommand } from "./commands.js";
import type { SubnetState } from "./subnet-table.js";

// The end of a safe removal (docs/subnet-pool.md, "Block life cycle"): a `removing` subnet and a
// `deregistering` node stay until they hold nothing, and the command that gives back their last
// block or address removes them. Every function runs inside the caller's undo journal.

/**
 * Deletes every `removing` subnet of `subnetIds` that holds nothing any more (no leased block,
 * no direct allocation; cooling addresses go with it), and removes every `deregistering` node
 * of `nodeIds` that holds nothing. Returns the ids removed, sorted.
 */
export function settle(
  parts: ClusterParts,
  subnetIds: Iterable<string>,
  nodeIds: Iterable<string>,
): { subnets: string[]; nodes: string[] } {
  const subnets: string[] = [];
  for (const id of [...new Set(subnetIds)].sort(byString)) {
    const st = parts.subnets.get(id);
    if (st === undefined || !st.removing || inUse(parts, st)) continue;
    deleteSubnet(parts, st);
    subnets.push(id);
  }
  const nodes: string[] = [];
  for (const id of [...new Set(nodeIds)].sort(byString)) {
    if (parts.registry.deregisteringSince(id) === undefined) continue;
    if (parts.leases.countOf(id) > 0 || parts.direct.countOf(id) > 0) continue;
    parts.registry.remove(id);
    nodes.push(id);
  }
  return { subnets, nodes };
}

/** Drops a subnet that holds nothing from the topology and from every module. */
export function deleteSubnet(parts: ClusterParts, st: SubnetState): void {
  parts.registry.replace(removeTopologySubnet(parts.registry.topology, st.subnet.id));
  detachSubnet(parts, st);
}

/** The release-block command, then {@link settle} of the block's subnet and holder. */
export function releaseBlock(
  parts: ClusterParts,
  c: ReleaseBlockCommand,
): { node: string; cidr: string } {
  const { node, cidr, subnet } = parts.leases.releaseBlock(c);
  settle(parts, [subnet], [node]);
  return { node, cidr };
}

/** The release-direct command, then {@link settle} of the released addresses' subnets and nodes. */
export function releaseDirect(parts: ClusterParts, c: ReleaseDirectCommand): DirectAllocation[] {
  const released = parts.direct.releaseDirect(c);
  settle(
    parts,
    released.map((d) => d.subnet),
    released.map((d) => d.node),
  );
  return released;
}

/** What a subnet still holds: its leased blocks (with holder and state) and direct allocations. */
export interface SubnetHoldings {
  readonly subnet: string;
  readonly draining: boolean;
  readonly removing: boolean;
  /** Leased blocks, in block order. */
  readonly blocks: readonly BlockLease[];
  /** Direct allocations, sorted by key then family. */
  readonly direct: readonly DirectAllocation[];
}

/** The holdings of a subnet, or undefined when it does not exist. */
export function subnetHoldings(parts: ClusterParts, id: string): SubnetHoldings | undefined {
  const st = parts.subnets.get(id);
  if (st === undefined) return undefined;
  return {
    subnet: id,
    draining: st.draining,
    removing: st.removing,
    blocks: parts.leases.subnetLeases(st),
    direct: parts.direct.inSubnet(st),
  };
}
