import { TopologyError } from "./errors.js";
import type {
  Family,
  Node,
  Pod,
  ScopeKind,
  ScopeRef,
  Subnet,
  Supernet,
  Topology,
  TopologyCounts,
  Tor,
  Zone,
} from "./model.js";
import {
  type AllocationStrategy,
  DEFAULT_STRATEGY,
  resolveStrategy,
  type SubnetStrategy,
  strategyReaches,
} from "./strategy.js";
import { indexOf, scopeKey } from "./topology.js";

/**
 * Read-only queries. Every returned array is a new array owned by the caller; the entities in it
 * are the topology's frozen values. Unknown ids throw TopologyError `NOT_FOUND`.
 */

function notFound(kind: string, id: string): TopologyError {
  return new TopologyError("NOT_FOUND", `unknown ${kind} ${JSON.stringify(id)}`, {
    details: { kind, id },
  });
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

export interface SubnetsForNodeOptions {
  readonly purpose: string;
  readonly family: Family;
  /**
   * Replaces the purpose's strategy for this request (`spill` means `zone`). Default: the
   * purpose's strategy ({@link purposeStrategy}).
   */
  readonly strategy?: SubnetStrategy;
}

/**
 * The strategy a purpose allocates with: the `purposes` section of the file, else `zone` (what
 * every earlier build did). `requested` (a command's explicit strategy) wins when given.
 */
export function purposeStrategy(
  topology: Topology,
  purpose: string,
  requested?: SubnetStrategy,
): AllocationStrategy {
  if (requested !== undefined) return resolveStrategy(requested);
  return topology.purposes.get(purpose)?.strategy ?? DEFAULT_STRATEGY;
}

/**
 * The subnets a node may allocate from for one purpose and family, in allocation order:
 * the TOR's subnets first, then the Pod's, then the Zone's; within each level by priority
 * (lower first), then id. A subnet serves the node when its strategy (its own `strategy`, else
 * the purpose's, see {@link purposeStrategy}) reaches its level: TOR subnets always, Pod
 * subnets under `pod` and `zone`, Zone subnets under `zone`. Never includes another purpose or
 * family: an empty result means the caller has nothing to allocate from.
 * @throws TopologyError `NOT_FOUND` for an unknown node.
 */
export function subnetsForNode(
  topology: Topology,
  nodeId: string,
  options: SubnetsForNodeOptions,
): Subnet[] {
  const node = getNode(topology, nodeId);
  const tor = topology.tors.get(node.tor) as Tor;
  const pod = topology.pods.get(tor.pod) as Pod;
  const levels: Array<[ScopeKind, string]> = [
    ["tor", tor.id],
    ["pod", pod.id],
    ["zone", pod.zone],
  ];
  const strategy = purposeStrategy(topology, options.purpose, options.strategy);
  const index = indexOf(topology);
  const out: Subnet[] = [];
  for (const [kind, id] of levels) {
    for (const subnet of index.subnetsByScope.get(scopeKey(kind, id)) ?? []) {
      if (subnet.purpose !== options.purpose || subnet.family !== options.family) continue;
      if (strategyReaches(subnet.strategy ?? strategy, kind)) out.push(subnet);
    }
  }
  return out;
}

/** A supernet with the zone or pod that declares it. */
export interface ScopedSupernetRef {
  readonly supernet: Supernet;
  readonly scope: ScopeRef;
}

/**
 * The supernets that may feed a TOR's subnets of one purpose and family, in the order a carve
 * tries them: the TOR's pod's (by address), then its zone's (by address).
 * @throws TopologyError `NOT_FOUND` for an unknown TOR.
 */
export function supernetsForTor(
  topology: Topology,
  torId: string,
  purpose: string,
  family: Family,
): ScopedSupernetRef[] {
  const tor = topology.tors.get(torId);
  if (tor === undefined) throw notFound("TOR", torId);
  const pod = topology.pods.get(tor.pod) as Pod;
  const zone = topology.zones.get(pod.zone) as Zone;
  const out: ScopedSupernetRef[] = [];
  for (const [scope, list] of [
    [{ kind: "pod", id: pod.id }, pod.supernets ?? []],
    [{ kind: "zone", id: zone.id }, zone.supernets ?? []],
  ] as const) {
    for (const supernet of list)
      if (supernet.purpose === purpose && supernet.family === family) out.push({ supernet, scope });
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
