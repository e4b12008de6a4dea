import { Cidr } from "@ipam/bitmap";
import type {
  Family,
  Node,
  Pod,
  PurposePolicy,
  ScopeKind,
  ScopeRef,
  Subnet,
  Topology,
  Tor,
  Zone,
} from "./model.js";

/**
 * Construction of Topology values and their derived index. A Topology is a frozen object of
 * maps; the index (children per parent, subnets per scope, sorted address intervals) is built
 * once per value and kept in a WeakMap, so queries are O(answer) and the value stays plain data.
 * The maps and index parts are never mutated after construction: operations copy what changes
 * and share the rest.
 */

/** The entity maps of a topology. */
export interface TopologyState {
  readonly zones: ReadonlyMap<string, Zone>;
  readonly pods: ReadonlyMap<string, Pod>;
  readonly tors: ReadonlyMap<string, Tor>;
  readonly nodes: ReadonlyMap<string, Node>;
  readonly subnets: ReadonlyMap<string, Subnet>;
  /** Per purpose policy; empty when the file has no `purposes` section. */
  readonly purposes: ReadonlyMap<string, PurposePolicy>;
}

/** A subnet's inclusive address interval. */
export interface SubnetInterval {
  readonly start: bigint;
  readonly end: bigint;
  readonly id: string;
}

export interface TopologyIndex {
  readonly podsByZone: ReadonlyMap<string, readonly string[]>;
  readonly torsByPod: ReadonlyMap<string, readonly string[]>;
  readonly nodesByTor: ReadonlyMap<string, readonly string[]>;
  /** Key `kind:id`; each list sorted by priority, then id (allocation order within a level). */
  readonly subnetsByScope: ReadonlyMap<string, readonly Subnet[]>;
  /** Per family, every subnet's interval sorted by start then end; pairwise disjoint. */
  readonly intervals: Readonly<Record<Family, readonly SubnetInterval[]>>;
  /** Parsed subnetRanges, key `zone:id` / `pod:id`. */
  readonly ranges: ReadonlyMap<string, readonly Cidr[]>;
}

const indexes = new WeakMap<Topology, TopologyIndex>();

export function scopeKey(kind: ScopeKind, id: string): string {
  return `${kind}:${id}`;
}

/** Allocation order inside one scope level: priority ascending, then id. */
export function compareSubnets(a: Subnet, b: Subnet): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function compareIntervals(a: SubnetInterval, b: SubnetInterval): number {
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  if (a.end !== b.end) return a.end < b.end ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function push<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Builds the full index of `state` in O(n log n). */
export function buildIndex(state: TopologyState): TopologyIndex {
  const podsByZone = new Map<string, string[]>();
  const torsByPod = new Map<string, string[]>();
  const nodesByTor = new Map<string, string[]>();
  const subnetsByScope = new Map<string, Subnet[]>();
  const intervals: Record<Family, SubnetInterval[]> = { 4: [], 6: [] };
  const ranges = new Map<string, readonly Cidr[]>();
  for (const zone of state.zones.values()) {
    ranges.set(
      scopeKey("zone", zone.id),
      zone.subnetRanges.map((r) => Cidr.parse(r)),
    );
  }
  for (const pod of state.pods.values()) {
    push(podsByZone, pod.zone, pod.id);
    ranges.set(
      scopeKey("pod", pod.id),
      pod.subnetRanges.map((r) => Cidr.parse(r)),
    );
  }
  for (const tor of state.tors.values()) push(torsByPod, tor.pod, tor.id);
  for (const node of state.nodes.values()) push(nodesByTor, node.tor, node.id);
  for (const subnet of state.subnets.values()) {
    push(subnetsByScope, scopeKey(subnet.scope.kind, subnet.scope.id), subnet);
    const cidr = Cidr.parse(subnet.cidr);
    intervals[subnet.family].push({ start: cidr.start, end: cidr.end, id: subnet.id });
  }
  for (const list of subnetsByScope.values()) list.sort(compareSubnets);
  intervals[4].sort(compareIntervals);
  intervals[6].sort(compareIntervals);
  return { podsByZone, torsByPod, nodesByTor, subnetsByScope, intervals, ranges };
}

/**
 * Wraps `state` as a Topology. The caller guarantees the state is valid and hands over
 * ownership of the maps (they must not be mutated afterwards). `index` must describe `state`;
 * it is built when omitted.
 */
export function makeTopology(state: TopologyState, index?: TopologyIndex): Topology {
  const topology = Object.freeze({
    zones: state.zones,
    pods: state.pods,
    tors: state.tors,
    nodes: state.nodes,
    subnets: state.subnets,
    purposes: state.purposes,
  }) as unknown as Topology;
  indexes.set(topology, index ?? buildIndex(state));
  return topology;
}

/** The index of a topology (built on first use if the value came from elsewhere). */
export function indexOf(topology: Topology): TopologyIndex {
  let index = indexes.get(topology);
  if (index === undefined) {
    index = buildIndex(topology);
    indexes.set(topology, index);
  }
  return index;
}

/** A topology with nothing in it; start here to build one with the operations. */
export function emptyTopology(): Topology {
  return makeTopology({
    zones: new Map(),
    pods: new Map(),
    tors: new Map(),
    nodes: new Map(),
    subnets: new Map(),
    purposes: new Map(),
  });
}

/** The scope as a display string: `tor tor-a1-1`. */
export function describeScope(scope: ScopeRef): string {
  return `${scope.kind === "tor" ? "TOR" : scope.kind} ${scope.id}`;
}
