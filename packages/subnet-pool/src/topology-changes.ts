import {
  addSubnet as addTopologySubnet,
  carryOverNodes,
  createTopology,
  diff,
  isDirectMode,
  removeSubnet as removeTopologySubnet,
  type Subnet,
} from "@ipam/topology";
import { attachSubnet, type ClusterParts, detachSubnet, inUse } from "./cluster-parts.js";
import { byString, fail } from "./command-args.js";
import type {
  AddSubnetCommand,
  ApplyTopologyCommand,
  ApplyTopologyValue,
  DeregisterNodeCommand,
  DeregisterNodeValue,
  RemoveSubnetCommand,
} from "./commands.js";
import type { SubnetState } from "./subnet-table.js";

// The commands that change the topology and cascade to what is held in it: a removed node or
// subnet frees its blocks and direct addresses. Each runs inside the caller's undo journal.

const byId = (a: { readonly id: string }, b: { readonly id: string }): number =>
  byString(a.id, b.id);

/** The apply-topology command (see {@link ApplyTopologyCommand}). */
export function applyTopology(parts: ClusterParts, c: ApplyTopologyCommand): ApplyTopologyValue {
  if (typeof c.config !== "object" || c.config === null)
    fail("INVALID_ARGUMENT", "apply-topology.config: must be an object");
  const { registry, subnets } = parts;
  const carried = carryOverNodes(createTopology(c.config), registry.topology);
  const d = diff(registry.topology, carried.topology);
  const removed = [...d.subnets.removed].sort(byId);
  const changed = [...d.subnets.changed].sort(byId);
  const stateOf = (id: string) => subnets.get(id) as SubnetState;
  for (const s of removed) {
    const st = stateOf(s.id);
    if (inUse(parts, st) && !st.draining) {
      fail(
        "CONFLICT",
        `apply-topology: subnet ${s.id} still has leases or allocations; drain it first`,
        { subnet: s.id },
      );
    }
  }
  for (const { id, before, after } of changed) {
    if (
      inUse(parts, stateOf(id)) &&
      (before.cidr !== after.cidr ||
        before.family !== after.family ||
        before.blockPrefix !== after.blockPrefix)
    ) {
      fail(
        "CONFLICT",
        `apply-topology: subnet ${id} is in use; its cidr, family and blockPrefix cannot change`,
        { subnet: id },
      );
    }
  }
  let freedBlocks = 0;
  let freedAddresses = 0;
  const removedNodes = carried.orphaned.map((n) => n.id).sort(byString);
  for (const node of removedNodes) {
    const freed = freeNode(parts, node, c.at);
    freedBlocks += freed.blocks.length;
    freedAddresses += freed.addresses.length;
  }
  for (const s of removed) {
    const freed = detachSubnet(parts, stateOf(s.id));
    freedBlocks += freed.blocks;
    freedAddresses += freed.addresses;
  }
  for (const s of [...d.subnets.added].sort(byId)) attachSubnet(parts, s);
  for (const { id, before, after } of changed) {
    const st = stateOf(id);
    if (
      isDirectMode(after) !== st.direct ||
      before.cidr !== after.cidr ||
      before.blockPrefix !== after.blockPrefix
    ) {
      attachSubnet(parts, after, st); // not in use (checked above)
    } else {
      subnets.update(st, after);
      parts.direct.rebuild(st);
    }
  }
  registry.replace(carried.topology);
  return { diff: d, removedNodes, freedBlocks, freedAddresses };
}

/** The add-subnet command: attaches a subnet to a zone, pod or TOR. */
export function addSubnet(parts: ClusterParts, c: AddSubnetCommand): Subnet {
  if (typeof c.subnet !== "object" || c.subnet === null)
    fail("INVALID_ARGUMENT", "add-subnet.subnet: must be an object");
  const before = parts.registry.topology;
  const next = addTopologySubnet(before, c.subnet);
  let added: Subnet | undefined;
  for (const s of next.subnets.values()) if (!before.subnets.has(s.id)) added = s;
  const subnet = added as Subnet;
  attachSubnet(parts, subnet);
  parts.registry.replace(next);
  return subnet;
}

/** The remove-subnet command: `CONFLICT` while the subnet has leases or direct allocations. */
export function removeSubnet(parts: ClusterParts, c: RemoveSubnetCommand): Subnet {
  const st = parts.subnets.require(c.subnet, "remove-subnet.subnet");
  if (inUse(parts, st)) {
    fail("CONFLICT", `remove-subnet: subnet ${st.subnet.id} still has leases or allocations`, {
      subnet: st.subnet.id,
      leasedBlocks: parts.leases.leasedCount(st.subnet.id),
      directAddresses: parts.direct.pool(st.subnet.id)?.allocated ?? 0,
    });
  }
  parts.registry.replace(removeTopologySubnet(parts.registry.topology, st.subnet.id));
  detachSubnet(parts, st);
  return st.subnet;
}

/** The deregister-node command: removes a node, freeing its blocks and direct addresses. */
export function deregisterNode(parts: ClusterParts, c: DeregisterNodeCommand): DeregisterNodeValue {
  const node = parts.registry.requireNode(c.node, "deregister-node.node");
  const freed = freeNode(parts, node.id, c.at);
  parts.registry.remove(node.id);
  return { node: node.id, ...freed };
}

/** Frees everything a node holds: blocks at once, direct addresses with cool-down from `at`. */
function freeNode(
  parts: ClusterParts,
  node: string,
  at: number,
): { blocks: string[]; addresses: string[] } {
  return { blocks: parts.leases.freeNode(node), addresses: parts.direct.freeNode(node, at) };
}
