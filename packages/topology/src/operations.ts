import type { Cidr } from "@ipam/bitmap";
import type { SubnetConfig } from "./config-schema.js";
import { issuesError, TopologyError } from "./errors.js";
import {
  checkInput,
  nodeInputSchema,
  podInputSchema,
  subnetInputSchema,
  torInputSchema,
  zoneInputSchema,
} from "./input-schemas.js";
import type { Labels, Node, Pod, ScopeRef, Subnet, Topology, Tor, Zone } from "./model.js";
import {
  checkInsideRanges,
  type IssueSink,
  normalizeLabels,
  normalizeRanges,
  normalizeSubnet,
  resolveId,
} from "./normalize.js";
import { findOverlapping, withInterval, withoutInterval } from "./overlap.js";
import { scopedSupernets, supernetClash } from "./supernets.js";
import {
  compareSubnets,
  describeScope,
  indexOf,
  makeTopology,
  scopeKey,
  type TopologyIndex,
} from "./topology.js";

/**
 * Operations: each checks its input against the current topology and returns a NEW topology,
 * leaving the argument untouched (unchanged maps and index parts are shared, so a call costs
 * O(size of the changed map), plus O(log n) for the subnet overlap check).
 *
 * Errors: `INVALID_ARGUMENT` (malformed field; `details.issues` names it), `NOT_FOUND` (unknown
 * parent or entity), `CONFLICT` (duplicate id, overlapping subnet, node under another TOR).
 */

export interface ZoneInput {
  readonly id: string;
  readonly name?: string;
  readonly labels?: Labels;
  readonly subnetRanges?: readonly string[];
}

export interface PodInput {
  readonly id: string;
  /** Parent zone id. */
  readonly zone: string;
  readonly name?: string;
  readonly labels?: Labels;
  readonly subnetRanges?: readonly string[];
}

export interface TorInput {
  readonly id: string;
  /** Parent pod id. */
  readonly pod: string;
  readonly name?: string;
  readonly location?: string;
  readonly labels?: Labels;
}

export interface NodeInput {
  readonly id: string;
  /** The TOR the node is cabled to. */
  readonly tor: string;
  readonly name?: string;
  readonly labels?: Labels;
}

/** A subnet's config fields plus the scope it is attached to. */
export type SubnetInput = SubnetConfig & { readonly scope: ScopeRef };

function throwIfIssues(issues: IssueSink, what: string): void {
  if (issues.length > 0) throw issuesError("INVALID_ARGUMENT", `invalid ${what}`, issues);
}

function requireId(input: { readonly id: string }, kind: string): string {
  const issues: IssueSink = [];
  const id = resolveId({ id: input.id }, kind, "", issues);
  throwIfIssues(issues, kind);
  return id as string;
}

function conflict(message: string, details: Record<string, unknown>): TopologyError {
  return new TopologyError("CONFLICT", message, { details });
}

function notFound(kind: string, id: string): TopologyError {
  return new TopologyError("NOT_FOUND", `unknown ${kind} ${JSON.stringify(id)}`, {
    details: { kind, id },
  });
}

function copySet<V>(map: ReadonlyMap<string, V>, key: string, value: V): Map<string, V> {
  const copy = new Map(map);
  copy.set(key, value);
  return copy;
}

function copyDelete<V>(map: ReadonlyMap<string, V>, key: string): Map<string, V> {
  const copy = new Map(map);
  copy.delete(key);
  return copy;
}

function appendChild(
  map: ReadonlyMap<string, readonly string[]>,
  parent: string,
  child: string,
): Map<string, readonly string[]> {
  return copySet(map, parent, [...(map.get(parent) ?? []), child]);
}

function rebuild(topology: Topology, changes: Partial<Topology>, index: TopologyIndex): Topology {
  return makeTopology(
    {
      zones: changes.zones ?? topology.zones,
      pods: changes.pods ?? topology.pods,
      tors: changes.tors ?? topology.tors,
      nodes: changes.nodes ?? topology.nodes,
      subnets: changes.subnets ?? topology.subnets,
      purposes: changes.purposes ?? topology.purposes,
    },
    index,
  );
}

/** Adds a zone. @throws `INVALID_ARGUMENT`, `CONFLICT` (id taken). */
export function addZone(topology: Topology, input: ZoneInput): Topology {
  checkInput(zoneInputSchema, input, "zone");
  const id = requireId(input, "zone");
  const issues: IssueSink = [];
  const ranges = normalizeRanges(input.subnetRanges, "subnetRanges", issues);
  throwIfIssues(issues, "zone");
  if (topology.zones.has(id)) throw conflict(`zone ${JSON.stringify(id)} already exists`, { id });
  const zone: Zone = Object.freeze({
    id,
    name: input.name ?? id,
    labels: normalizeLabels(input.labels),
    subnetRanges: Object.freeze(ranges.map(String)),
  });
  const index = indexOf(topology);
  return rebuild(
    topology,
    { zones: copySet(topology.zones, id, zone) },
    { ...index, ranges: copySet(index.ranges, scopeKey("zone", id), ranges) },
  );
}

/**
 * Adds a pod under an existing zone; its subnetRanges must lie inside the zone's.
 * @throws `INVALID_ARGUMENT`, `NOT_FOUND` (zone), `CONFLICT` (id taken).
 */
export function addPod(topology: Topology, input: PodInput): Topology {
  checkInput(podInputSchema, input, "pod");
  const id = requireId(input, "pod");
  if (!topology.zones.has(input.zone)) throw notFound("zone", input.zone);
  const index = indexOf(topology);
  const zoneRanges = index.ranges.get(scopeKey("zone", input.zone)) ?? [];
  const issues: IssueSink = [];
  const ranges = normalizeRanges(input.subnetRanges, "subnetRanges", issues, (r, path) =>
    checkInsideRanges(r, zoneRanges, `zone ${JSON.stringify(input.zone)}`, path, issues),
  );
  throwIfIssues(issues, "pod");
  if (topology.pods.has(id)) throw conflict(`pod ${JSON.stringify(id)} already exists`, { id });
  const pod: Pod = Object.freeze({
    id,
    name: input.name ?? id,
    zone: input.zone,
    labels: normalizeLabels(input.labels),
    subnetRanges: Object.freeze(ranges.map(String)),
  });
  return rebuild(
    topology,
    { pods: copySet(topology.pods, id, pod) },
    {
      ...index,
      podsByZone: appendChild(index.podsByZone, input.zone, id),
      ranges: copySet(index.ranges, scopeKey("pod", id), ranges),
    },
  );
}

/** Adds a TOR under an existing pod. @throws `INVALID_ARGUMENT`, `NOT_FOUND`, `CONFLICT`. */
export function addTor(topology: Topology, input: TorInput): Topology {
  checkInput(torInputSchema, input, "TOR");
  const id = requireId(input, "TOR");
  if (!topology.pods.has(input.pod)) throw notFound("pod", input.pod);
  if (topology.tors.has(id)) throw conflict(`TOR ${JSON.stringify(id)} already exists`, { id });
  const tor: Tor = Object.freeze({
    id,
    name: input.name ?? id,
    pod: input.pod,
    ...(input.location === undefined ? {} : { location: input.location }),
    labels: normalizeLabels(input.labels),
  });
  const index = indexOf(topology);
  return rebuild(
    topology,
    { tors: copySet(topology.tors, id, tor) },
    { ...index, torsByPod: appendChild(index.torsByPod, input.pod, id) },
  );
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * Registers a node under an existing TOR (ipamd agents do this at start-up; the node need not
 * be in the config). Re-registering under the same TOR is idempotent: it updates name and
 * labels, and returns the same topology value when nothing changed.
 * @throws `INVALID_ARGUMENT`, `NOT_FOUND` (TOR), `CONFLICT` (already under another TOR; remove
 * it first).
 */
export function registerNode(topology: Topology, input: NodeInput): Topology {
  return registerNodes(topology, [input]);
}

/**
 * Registers many nodes at once, all or nothing, with the rules of {@link registerNode} applied
 * in order (a later entry for the same id updates an earlier one). One copy of the node map
 * for the whole batch: use it to load a node registry.
 * @throws as {@link registerNode}; nothing is registered when any entry fails.
 */
export function registerNodes(topology: Topology, inputs: readonly NodeInput[]): Topology {
  const index = indexOf(topology);
  let nodes: Map<string, Node> | undefined;
  let nodesByTor: Map<string, readonly string[]> | undefined;
  const added = new Map<string, string[]>();
  for (const input of inputs) {
    checkInput(nodeInputSchema, input, "node");
    const id = requireId(input, "node");
    if (!topology.tors.has(input.tor)) throw notFound("TOR", input.tor);
    const node: Node = Object.freeze({
      id,
      name: input.name ?? id,
      tor: input.tor,
      labels: normalizeLabels(input.labels),
    });
    const existing = (nodes ?? topology.nodes).get(id);
    if (existing !== undefined) {
      if (existing.tor !== input.tor) {
        throw conflict(
          `node ${JSON.stringify(id)} is registered under TOR ${JSON.stringify(existing.tor)}, not ${JSON.stringify(input.tor)}`,
          { id, tor: existing.tor, requestedTor: input.tor },
        );
      }
      if (existing.name === node.name && sameLabels(existing.labels, node.labels)) continue;
    } else {
      const list = added.get(input.tor);
      if (list === undefined) added.set(input.tor, [id]);
      else list.push(id);
    }
    nodes ??= new Map(topology.nodes);
    nodes.set(id, node);
  }
  if (nodes === undefined) return topology;
  if (added.size > 0) {
    nodesByTor = new Map(index.nodesByTor);
    for (const [tor, ids] of added) nodesByTor.set(tor, [...(nodesByTor.get(tor) ?? []), ...ids]);
  }
  return rebuild(topology, { nodes }, nodesByTor === undefined ? index : { ...index, nodesByTor });
}

/** Removes a node. @throws `NOT_FOUND`. */
export function removeNode(topology: Topology, nodeId: string): Topology {
  const node = topology.nodes.get(nodeId);
  if (node === undefined) throw notFound("node", nodeId);
  const index = indexOf(topology);
  const siblings = (index.nodesByTor.get(node.tor) ?? []).filter((n) => n !== nodeId);
  return rebuild(
    topology,
    { nodes: copyDelete(topology.nodes, nodeId) },
    { ...index, nodesByTor: copySet(index.nodesByTor, node.tor, siblings) },
  );
}

/** The pod and zone ranges limiting subnets attached to `scope`, innermost first. */
function rangeLimits(
  topology: Topology,
  scope: ScopeRef,
): Array<{ owner: string; ranges: readonly Cidr[] }> {
  const index = indexOf(topology);
  let podId: string | undefined;
  let zoneId: string;
  if (scope.kind === "zone") zoneId = scope.id;
  else {
    podId = scope.kind === "pod" ? scope.id : (topology.tors.get(scope.id) as Tor).pod;
    zoneId = (topology.pods.get(podId) as Pod).zone;
  }
  const limits: Array<{ owner: string; ranges: readonly Cidr[] }> = [];
  if (podId !== undefined) {
    limits.push({
      owner: `pod ${JSON.stringify(podId)}`,
      ranges: index.ranges.get(scopeKey("pod", podId)) ?? [],
    });
  }
  limits.push({
    owner: `zone ${JSON.stringify(zoneId)}`,
    ranges: index.ranges.get(scopeKey("zone", zoneId)) ?? [],
  });
  return limits;
}

/**
 * Attaches a subnet to a zone, pod or TOR. Defaults as in the config file (id = canonical CIDR,
 * purpose `default`, gateway = first usable address, ...).
 * @throws `INVALID_ARGUMENT` (bad field, outside the pod's/zone's subnetRanges), `NOT_FOUND`
 * (scope), `CONFLICT` (id taken, overlaps an existing subnet anywhere in the tree, or overlaps a
 * supernet that does not feed it: see docs/topology.md, "Supernets").
 */
export function addSubnet(topology: Topology, input: SubnetInput): Topology {
  checkInput(subnetInputSchema, input, "subnet");
  const { scope, ...raw } = input;
  const scopeMap =
    scope.kind === "zone" ? topology.zones : scope.kind === "pod" ? topology.pods : topology.tors;
  if (!scopeMap.has(scope.id)) throw notFound(scope.kind === "tor" ? "TOR" : scope.kind, scope.id);
  const issues: IssueSink = [];
  const normalized = normalizeSubnet(raw, scope, "", issues);
  if (normalized !== undefined) {
    for (const limit of rangeLimits(topology, scope)) {
      checkInsideRanges(normalized.cidr, limit.ranges, limit.owner, "cidr", issues);
    }
  }
  throwIfIssues(issues, "subnet");
  const { subnet, cidr } = normalized as { subnet: Subnet; cidr: Cidr };
  if (topology.subnets.has(subnet.id)) {
    throw conflict(`subnet ${JSON.stringify(subnet.id)} already exists`, { id: subnet.id });
  }
  const index = indexOf(topology);
  const family = index.intervals[subnet.family];
  const clash = findOverlapping(family, cidr.start, cidr.end);
  if (clash !== undefined) {
    const other = topology.subnets.get(clash.id) as Subnet;
    throw conflict(
      `subnet ${subnet.cidr} overlaps subnet ${JSON.stringify(other.id)} (${other.cidr}, ${describeScope(other.scope)})`,
      { id: subnet.id, cidr: subnet.cidr, overlaps: other.id },
    );
  }
  for (const s of scopedSupernets(topology.zones, topology.pods)) {
    const why = supernetClash(s, subnet, cidr, topology.tors, topology.pods);
    if (why !== undefined)
      throw conflict(why, { id: subnet.id, cidr: subnet.cidr, supernet: s.supernet.cidr });
  }
  const key = scopeKey(scope.kind, scope.id);
  const siblings = [...(index.subnetsByScope.get(key) ?? []), subnet].sort(compareSubnets);
  return rebuild(
    topology,
    { subnets: copySet(topology.subnets, subnet.id, subnet) },
    {
      ...index,
      subnetsByScope: copySet(index.subnetsByScope, key, siblings),
      intervals: {
        ...index.intervals,
        [subnet.family]: withInterval(family, { start: cidr.start, end: cidr.end, id: subnet.id }),
      },
    },
  );
}

/** Removes a subnet. @throws `NOT_FOUND`. */
export function removeSubnet(topology: Topology, subnetId: string): Topology {
  const subnet = topology.subnets.get(subnetId);
  if (subnet === undefined) throw notFound("subnet", subnetId);
  const index = indexOf(topology);
  const key = scopeKey(subnet.scope.kind, subnet.scope.id);
  const siblings = (index.subnetsByScope.get(key) ?? []).filter((s) => s.id !== subnetId);
  return rebuild(
    topology,
    { subnets: copyDelete(topology.subnets, subnetId) },
    {
      ...index,
      subnetsByScope: copySet(index.subnetsByScope, key, siblings),
      intervals: {
        ...index.intervals,
        [subnet.family]: withoutInterval(index.intervals[subnet.family], subnetId),
      },
    },
  );
}

/**
 * Carries over into `next` the nodes of `previous` that `next` does not know: for applying a
 * changed config file without forgetting the nodes ipamd agents registered at run time.
 * A node listed in both keeps `next`'s definition (including its TOR). A node whose TOR does not
 * exist in `next` cannot be carried and is returned in `orphaned` (sorted by id) for the caller
 * to deal with (e.g. release its blocks). Neither argument is modified.
 */
export function carryOverNodes(
  next: Topology,
  previous: Topology,
): { readonly topology: Topology; readonly orphaned: readonly Node[] } {
  const carried: Node[] = [];
  const orphaned: Node[] = [];
  for (const node of previous.nodes.values()) {
    if (next.nodes.has(node.id)) continue;
    if (next.tors.has(node.tor)) carried.push(node);
    else orphaned.push(node);
  }
  orphaned.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { topology: registerNodes(next, carried), orphaned };
}
