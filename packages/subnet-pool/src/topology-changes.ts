import {
  addSubnet as addTopologySubnet,
  carryOverNodes,
  createTopology,
  diff,
  isDirectMode,
  type Subnet,
  type SubnetInput,
  type Topology,
  type TopologyConfig,
  TopologyError,
} from "@ipam/topology";
import { attachSubnet, type ClusterParts, detachSubnet, inUse } from "./cluster-parts.js";
import { byString, counted, fail } from "./command-args.js";
import type {
  AddSubnetCommand,
  ApplyTopologyCommand,
  ApplyTopologyValue,
  DeregisterMode,
  DeregisterNodeCommand,
  DeregisterNodeValue,
  RemoveSubnetCommand,
} from "./commands.js";
import { subnetConfigPath } from "./config-path.js";
import { deleteSubnet, settle } from "./lifecycle.js";
import type { SubnetState } from "./subnet-table.js";

// The commands that change the topology and cascade to what is held in it. Removing something
// in use never frees it while its holder may still use it (docs/subnet-pool.md, "Block life
// cycle"): blocks are revoked and the subnet or node waits as `removing` / `deregistering`
// until lifecycle.ts settles it. Only declaring a node dead (and the commands of earlier builds,
// replayed from their logs) frees at once. Each runs inside the caller's undo journal.

const byId = (a: { readonly id: string }, b: { readonly id: string }): number =>
  byString(a.id, b.id);

/** The apply-topology command (see {@link ApplyTopologyCommand}). */
export function applyTopology(parts: ClusterParts, c: ApplyTopologyCommand): ApplyTopologyValue {
  if (typeof c.config !== "object" || c.config === null)
    fail("INVALID_ARGUMENT", "apply-topology.config: must be an object");
  if (c.source === undefined) return applyReplacing(parts, c);
  if (c.source !== "file")
    fail("INVALID_ARGUMENT", 'apply-topology.source: must be "file" or absent');
  return applyFile(parts, c);
}

/** apply-topology without `source`: the config replaces every subnet (earlier builds). */
function applyReplacing(parts: ClusterParts, c: ApplyTopologyCommand): ApplyTopologyValue {
  const { registry, subnets } = parts;
  const carried = carryOverNodes(createTopology(c.config), registry.topology);
  const d = diff(registry.topology, carried.topology);
  const removed = [...d.subnets.removed].sort(byId);
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
  checkChanged(parts, d.subnets.changed);
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
  applyChanged(parts, d.subnets.changed);
  registry.replace(carried.topology);
  return { diff: d, removedNodes, freedBlocks, freedAddresses };
}

/**
 * apply-topology with `source: "file"`: the file manages its own subnets only, and nothing
 * held is freed (see {@link ApplyTopologyCommand}).
 */
function applyFile(parts: ClusterParts, c: ApplyTopologyCommand): ApplyTopologyValue {
  const { registry, subnets } = parts;
  const current = registry.topology;
  let next = createTopology(c.config);
  // Subnets that stay although the file does not list them: API subnets, and subnets being
  // removed (earlier, or now: dropped from the file while draining and still in use).
  const kept: SubnetState[] = [];
  const adopted: string[] = [];
  const removing: string[] = [];
  for (const st of subnets.sorted()) {
    const id = st.subnet.id;
    const declared = next.subnets.get(id);
    if (st.removing) {
      if (declared !== undefined) {
        fail(
          "CONFLICT",
          `apply-topology: subnet ${id} is being removed and still held (${holdingText(parts, st)}); the file cannot declare it again until its holders return it`,
          { subnet: id, state: "removing" },
        );
      }
      kept.push(st);
    } else if (st.origin === "api" || st.origin === "carved") {
      if (declared === undefined) kept.push(st);
      else if (sameSubnet(declared, st.subnet)) adopted.push(id);
      else {
        fail(
          "CONFLICT",
          `apply-topology: subnet ${id} was ${st.origin === "api" ? "added through the API" : "carved from a supernet by the cluster"} with another definition; remove it with "ipamd cluster remove-subnet ${id}" or drop it from the file`,
          { subnet: id, origin: st.origin },
        );
      }
    } else if (declared === undefined && inUse(parts, st)) {
      if (!st.draining) {
        fail(
          "CONFLICT",
          `apply-topology: subnet ${id} is in use (${holdingText(parts, st)}); drain it first with "ipamd cluster drain ${id}", then drop it from the file: it is removed once its holders have returned it`,
          { subnet: id },
        );
      }
      kept.push(st);
      removing.push(id);
    }
  }
  for (const st of kept) next = keepSubnet(next, st, c.config);
  const carried = carryOverNodes(next, current);
  for (const node of carried.orphaned) {
    const blocks = parts.leases.countOf(node.id);
    const addresses = parts.direct.countOf(node.id);
    if (blocks > 0 || addresses > 0) {
      fail(
        "CONFLICT",
        `apply-topology: TOR ${node.tor} is gone from the file but node ${node.id} still holds ${counted(blocks, "block")} and ${counted(addresses, "direct address", "direct addresses")}; deregister it first ("ipamd cluster deregister-node ${node.id} --force"), then drop the TOR once it is gone`,
        { node: node.id, tor: node.tor },
      );
    }
  }
  const d = diff(current, carried.topology);
  checkChanged(parts, d.subnets.changed);
  for (const s of [...d.subnets.removed].sort(byId))
    detachSubnet(parts, subnets.get(s.id) as SubnetState); // holds nothing (checked above)
  for (const s of [...d.subnets.added].sort(byId)) attachSubnet(parts, s);
  applyChanged(parts, d.subnets.changed);
  for (const id of adopted) subnets.setOrigin(subnets.get(id) as SubnetState, "file");
  for (const id of removing) {
    const st = subnets.get(id) as SubnetState;
    subnets.markRemoving(st);
    parts.leases.revokeSubnet(st, c.at);
  }
  registry.replace(carried.topology);
  return {
    diff: d,
    removedNodes: carried.orphaned.map((n) => n.id).sort(byString),
    freedBlocks: 0,
    freedAddresses: 0,
    removing,
    adopted,
  };
}

/**
 * Adds a subnet the file does not list back into the file's topology. A clash (the file
 * overlaps it, or drops its scope) is a `CONFLICT` naming both and the way out; for a carved
 * subnet also the field of the file (`details.field`: the path of the overlapping subnet's
 * `cidr` in `config`).
 */
function keepSubnet(next: Topology, st: SubnetState, config: TopologyConfig): Topology {
  const s = st.subnet;
  const owned = st.origin !== "file" && !st.removing;
  const what = !owned
    ? "is being removed"
    : st.origin === "api"
      ? "was added through the API"
      : "was carved from a supernet by the cluster";
  const fix = owned
    ? `remove it with "ipamd cluster remove-subnet ${s.id}" first, or change the file`
    : `wait until its holders have returned it ("ipamd cluster remove-subnet ${s.id}" says who holds what), or change the file`;
  try {
    return addTopologySubnet(next, inputOf(s));
  } catch (err) {
    if (!(err instanceof TopologyError)) throw err;
    if (err.code === "NOT_FOUND") {
      fail(
        "CONFLICT",
        `apply-topology: the file drops ${s.scope.kind} ${s.scope.id}, but subnet ${s.id} (${s.cidr}) ${what} and belongs to it; ${fix}`,
        { subnet: s.id, scope: s.scope },
      );
    }
    const other = (err.details as { overlaps?: unknown } | undefined)?.overlaps;
    // Named for a carved subnet (the file cannot know it, so it must learn where it clashes).
    // The refusals of API and removing subnets keep the text earlier builds answered with
    // (test/snapshot-compat.test.ts replays them).
    const field =
      other === undefined || st.origin !== "carved" || st.removing
        ? undefined
        : subnetConfigPath(config, String(other));
    fail(
      "CONFLICT",
      `apply-topology: ${field === undefined ? "" : `${field}: `}${other === undefined ? "the file clashes with" : `the file's subnet ${String(other)} overlaps`} subnet ${s.id} (${s.cidr}), which ${what}; ${fix}`,
      {
        subnet: s.id,
        ...(other === undefined ? {} : { overlaps: other }),
        ...(field === undefined ? {} : { field }),
        reason: err.message,
      },
    );
  }
}

/** The input that recreates `s` exactly (its fields are already canonical). */
function inputOf(s: Subnet): SubnetInput {
  return {
    id: s.id,
    cidr: s.cidr,
    purpose: s.purpose,
    gateway: s.gateway,
    reserved: [...s.reserved],
    blockPrefix: s.blockPrefix,
    priority: s.priority,
    cooldownSeconds: s.cooldownSeconds,
    scope: s.scope,
  };
}

function sameSubnet(a: Subnet, b: Subnet): boolean {
  return (
    a.id === b.id &&
    a.cidr === b.cidr &&
    a.purpose === b.purpose &&
    a.scope.kind === b.scope.kind &&
    a.scope.id === b.scope.id &&
    a.gateway === b.gateway &&
    a.blockPrefix === b.blockPrefix &&
    a.priority === b.priority &&
    a.cooldownSeconds === b.cooldownSeconds &&
    a.reserved.length === b.reserved.length &&
    a.reserved.every((r, i) => r === b.reserved[i])
  );
}

/** What a subnet still holds, for messages: `3 blocks on node-a1, node-b2; 2 direct addresses`. */
function holdingText(parts: ClusterParts, st: SubnetState): string {
  const nodes = new Set<string>();
  let blocks = 0;
  parts.leases.forEachIn(st.subnet.id, (_i, owner) => {
    blocks++;
    nodes.add(owner.node);
  });
  const direct = parts.direct.pool(st.subnet.id)?.allocated ?? 0;
  const what: string[] = [];
  if (blocks > 0)
    what.push(`${counted(blocks, "block")} on ${[...nodes].sort(byString).join(", ")}`);
  if (direct > 0) what.push(counted(direct, "direct address", "direct addresses"));
  return what.join("; ");
}

type Changed = ApplyTopologyValue["diff"]["subnets"]["changed"];

/** `CONFLICT` when a subnet in use would change its CIDR, family or block prefix. */
function checkChanged(parts: ClusterParts, changed: Changed): void {
  for (const { id, before, after } of [...changed].sort(byId)) {
    if (
      inUse(parts, parts.subnets.get(id) as SubnetState) &&
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
}

/** Gives changed subnets their new definition (a new state when the mode or geometry changes). */
function applyChanged(parts: ClusterParts, changed: Changed): void {
  for (const { id, before, after } of [...changed].sort(byId)) {
    const st = parts.subnets.get(id) as SubnetState;
    if (
      isDirectMode(after) !== st.direct ||
      before.cidr !== after.cidr ||
      before.blockPrefix !== after.blockPrefix
    ) {
      attachSubnet(parts, after, st); // not in use (checked)
    } else {
      parts.subnets.update(st, after);
      parts.direct.rebuild(st);
    }
  }
}

/** The add-subnet command: attaches a subnet to a zone, pod or TOR. */
export function addSubnet(parts: ClusterParts, c: AddSubnetCommand): Subnet {
  if (typeof c.subnet !== "object" || c.subnet === null)
    fail("INVALID_ARGUMENT", "add-subnet.subnet: must be an object");
  if (c.origin !== undefined && c.origin !== "file" && c.origin !== "api")
    fail(
      "INVALID_ARGUMENT",
      'add-subnet.origin: must be "file" or "api" (carved subnets come from carve-subnet)',
    );
  const before = parts.registry.topology;
  const next = addTopologySubnet(before, c.subnet);
  let added: Subnet | undefined;
  for (const s of next.subnets.values()) if (!before.subnets.has(s.id)) added = s;
  const subnet = added as Subnet;
  attachSubnet(parts, subnet, undefined, c.origin ?? "file");
  parts.registry.replace(next);
  return subnet;
}

/** The remove-subnet command (see {@link RemoveSubnetCommand}). */
export function removeSubnet(parts: ClusterParts, c: RemoveSubnetCommand): Subnet {
  const st = parts.subnets.require(c.subnet, "remove-subnet.subnet");
  if (c.force !== undefined && typeof c.force !== "boolean")
    fail("INVALID_ARGUMENT", "remove-subnet.force: must be a boolean");
  if (!inUse(parts, st)) {
    deleteSubnet(parts, st);
    return st.subnet;
  }
  if (c.force !== true) {
    fail("CONFLICT", `remove-subnet: subnet ${st.subnet.id} still has leases or allocations`, {
      subnet: st.subnet.id,
      leasedBlocks: parts.leases.leasedCount(st.subnet.id),
      directAddresses: parts.direct.pool(st.subnet.id)?.allocated ?? 0,
    });
  }
  parts.subnets.markRemoving(st);
  parts.leases.revokeSubnet(st, c.at);
  return st.subnet;
}

const MODES: ReadonlySet<string> = new Set<DeregisterMode>(["if-empty", "revoke", "dead"]);

/** The deregister-node command (see {@link DeregisterNodeCommand}). */
export function deregisterNode(parts: ClusterParts, c: DeregisterNodeCommand): DeregisterNodeValue {
  const node = parts.registry.requireNode(c.node, "deregister-node.node");
  if (c.mode !== undefined && !MODES.has(c.mode))
    fail("INVALID_ARGUMENT", 'deregister-node.mode: must be "if-empty", "revoke" or "dead"');
  const mode = c.mode ?? "dead";
  if (mode === "dead") {
    const subnetIds = [
      ...parts.leases.subnetsOf(node.id),
      ...parts.direct.list(node.id).map((d) => d.subnet),
    ];
    const freed = freeNode(parts, node.id, c.at);
    // Its pods are gone with it: their sticky addresses wait for the next pod of each name.
    parts.sticky.releaseNode(node.id);
    parts.registry.remove(node.id);
    settle(parts, subnetIds, []);
    return { node: node.id, ...freed };
  }
  const blocks = parts.leases.countOf(node.id);
  const kept = parts.direct.list(node.id).map((d) => d.address);
  if (blocks === 0 && kept.length === 0) {
    parts.registry.remove(node.id);
    return {
      node: node.id,
      blocks: [],
      addresses: [],
      revokedBlocks: [],
      keptAddresses: [],
      deregistering: false,
    };
  }
  if (mode === "if-empty") {
    fail(
      "CONFLICT",
      `deregister-node: node ${node.id} still holds ${counted(blocks, "block")} and ${counted(kept.length, "direct address", "direct addresses")}; deregister it with force (its blocks are revoked until it returns them) or declare it dead`,
      { node: node.id, blocks, directAddresses: kept.length },
    );
  }
  if (parts.registry.deregisteringSince(node.id) === undefined)
    parts.registry.markDeregistering(node.id, c.at);
  const revokedBlocks = parts.leases.revokeNode(node.id, c.at);
  return {
    node: node.id,
    blocks: [],
    addresses: [],
    revokedBlocks,
    keptAddresses: kept,
    deregistering: true,
  };
}

/** Frees everything a node holds: blocks at once, direct addresses with cool-down from `at`. */
function freeNode(
  parts: ClusterParts,
  node: string,
  at: number,
): { blocks: string[]; addresses: string[] } {
  return { blocks: parts.leases.freeNode(node), addresses: parts.direct.freeNode(node, at) };
}
