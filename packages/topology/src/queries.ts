import { TopologyError } from "./errors.js";
import type {
  Family,
  Node,
  Pod,
  ScopeKind,
  ScopeRef,
  Subnet,
  Topology,
  TopologyCounts,
  Tor,
  Zone,
} from "./model.js";
import { indexOf, scopeKey } from "./topology.js";

/**
 * Read-only queries. Every returned array is a new array owned by the caller; the entities in it
 * are the topology's frozen values. Unknown ids throw TopologyError `NOT_FOUND`.
 */

function notFound(kind: string, id: string): TopologyError {
  return new TopologyError("NOT_FOUND", `unknown ${kind} ${JSON.stringify(id)}`, { kind, id });
}

/** The node with this id. @throws TopologyError `NOT_FOUND`. */
export function getNode(topology: Topology, nodeId: string): Node {
  const node = topology.nodes.get(nodeId);
  if (node === undefined) throw notFound("node", nodeId);
  return node;
}

/** The TOR a node is cabled to. @throws TopologyError `NOT_FOUND` for an unknown node. */
export function torOfNode(topology: Topology, nodeId: string): Tor {
  const node = getNode(topology, nodeId);
  return topology.tors.get(node.tor) as Tor;
}

/** A node with all of its ancestors; `text` is `zone/pod/tor/node` (ids). */
export interface NodePath {
  readonly zone: Zone;
  readonly pod: Pod;
  readonly tor: Tor;
  readonly node: Node;
  readonly text: string;
}

/** The node's path Zone → Pod → TOR → Node. @throws TopologyError `NOT_FOUND`. */
export function nodePath(topology: Topology, nodeId: string): NodePath {
  const node = getNode(topology, nodeId);
  const tor = topology.tors.get(node.tor) as Tor;
  const pod = topology.pods.get(tor.pod) as Pod;
  const zone = topology.zones.get(pod.zone) as Zone;
  return { zone, pod, tor, node, text: `${zone.id}/${pod.id}/${tor.id}/${node.id}` };
}

function checkScope(topology: Topology, scope: ScopeRef): void {
  const map =
    scope.kind === "zone" ? topology.zones : scope.kind === "pod" ? topology.pods : topology.tors;
  if (!map.has(scope.id)) throw notFound(scope.kind === "tor" ? "TOR" : scope.kind, scope.id);
}

/** Ids of the TORs beneath a scope, in insertion order. */
function torIdsUnder(topology: Topology, scope: ScopeRef): string[] {
  const index = indexOf(topology);
  if (scope.kind === "tor") return [scope.id];
  const podIds = scope.kind === "pod" ? [scope.id] : [...(index.podsByZone.get(scope.id) ?? [])];
  return podIds.flatMap((p) => [...(index.torsByPod.get(p) ?? [])]);
}

/**
 * Nodes beneath a zone, pod or TOR (or every node when `scope` is omitted), sorted by id.
 * @throws TopologyError `NOT_FOUND` for an unknown scope.
 */
export function nodesUnder(topology: Topology, scope?: ScopeRef): Node[] {
  let nodes: Node[];
  if (scope === undefined) {
    nodes = [...topology.nodes.values()];
  } else {
    checkScope(topology, scope);
    const index = indexOf(topology);
    nodes = torIdsUnder(topology, scope).flatMap((t) =>
      (index.nodesByTor.get(t) ?? []).map((n) => topology.nodes.get(n) as Node),
    );
  }
  return nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Subnets attached directly to one scope (not to its children), in allocation order: priority,
 * then id. @throws TopologyError `NOT_FOUND` for an unknown scope.
 */
export function subnetsAt(topology: Topology, scope: ScopeRef): Subnet[] {
  checkScope(topology, scope);
  return [...(indexOf(topology).subnetsByScope.get(scopeKey(scope.kind, scope.id)) ?? [])];
}

/**
 * How far up the tree a node may draw addresses from:
 * - `"tor"`: only subnets attached to the node's TOR;
 * - `"spill"`: the TOR's, then the Pod's, then the Zone's.
 */
export type SubnetStrategy = "tor" | "spill";

export interface SubnetsForNodeOptions {
  readonly purpose: string;
  readonly family: Family;
  /** Default `"spill"`. */
  readonly strategy?: SubnetStrategy;
}

/**
 * The subnets a node may allocate from for one purpose and family, in allocation order:
 * the TOR's subnets first, then the Pod's, then the Zone's (only the TOR's with strategy
 * `"tor"`); within each level by priority (lower first), then id. Never includes another
 * purpose or family: an empty result means the caller has nothing to allocate from.
 * @throws TopologyError `NOT_FOUND` for an unknown node.
 */
export function subnetsForNode(
  topology: Topology,
  nodeId: string,
  options: SubnetsForNodeOptions,
): Subnet[] {
  const node = getNode(topology, nodeId);
  const tor = topology.tors.get(node.tor) as Tor;
  const levels: Array<[ScopeKind, string]> = [["tor", tor.id]];
  if ((options.strategy ?? "spill") === "spill") {
    const pod = topology.pods.get(tor.pod) as Pod;
    levels.push(["pod", pod.id], ["zone", pod.zone]);
  }
  const index = indexOf(topology);
  const out: Subnet[] = [];
  for (const [kind, id] of levels) {
    for (const subnet of index.subnetsByScope.get(scopeKey(kind, id)) ?? []) {
      if (subnet.purpose === options.purpose && subnet.family === options.family) out.push(subnet);
    }
  }
  return out;
}

/**
 * Entity counts of the whole topology, or of the part beneath (and including the subnets of)
 * one scope: for a TOR, `zones` and `pods` are 0 and `tors` is 1.
 * @throws TopologyError `NOT_FOUND` for an unknown scope.
 */
export function countTopology(topology: Topology, scope?: ScopeRef): TopologyCounts {
  if (scope === undefined) {
    return {
      zones: topology.zones.size,
      pods: topology.pods.size,
      tors: topology.tors.size,
      nodes: topology.nodes.size,
      subnets: topology.subnets.size,
    };
  }
  checkScope(topology, scope);
  const index = indexOf(topology);
  const podIds =
    scope.kind === "zone"
      ? [...(index.podsByZone.get(scope.id) ?? [])]
      : scope.kind === "pod"
        ? [scope.id]
        : [];
  const torIds = torIdsUnder(topology, scope);
  const subnetCount = (kind: ScopeKind, id: string): number =>
    index.subnetsByScope.get(scopeKey(kind, id))?.length ?? 0;
  let subnets = torIds.reduce((sum, t) => sum + subnetCount("tor", t), 0);
  subnets += podIds.reduce((sum, p) => sum + subnetCount("pod", p), 0);
  if (scope.kind === "zone") subnets += subnetCount("zone", scope.id);
  return {
    zones: scope.kind === "zone" ? 1 : 0,
    pods: scope.kind === "zone" ? podIds.length : scope.kind === "pod" ? 1 : 0,
    tors: torIds.length,
    nodes: torIds.reduce((sum, t) => sum + (index.nodesByTor.get(t)?.length ?? 0), 0),
    subnets,
  };
}
