import type {
  PurposeConfig,
  SubnetConfig,
  SupernetConfig,
  TopologyConfig,
} from "./config-schema.js";
import type { Labels, ScopeKind, Subnet, Supernet, Topology } from "./model.js";
import { indexOf, scopeKey } from "./topology.js";

/**
 * Canonical serialization. The canonical document is an ordinary config document (it parses
 * back to an equal topology) with every default written out, elements sorted by id at every
 * level, label keys sorted, and object keys in a fixed order. Equal topologies therefore
 * serialize to identical text, whatever order they were built in.
 */

function byId<T extends { readonly id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function labels(value: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(value).sort()) out[key] = value[key] as string;
  return out;
}

function subnetConfig(subnet: Subnet): SubnetConfig {
  return {
    id: subnet.id,
    cidr: subnet.cidr,
    purpose: subnet.purpose,
    gateway: subnet.gateway,
    reserved: [...subnet.reserved],
    blockPrefix: subnet.blockPrefix,
    priority: subnet.priority,
    cooldownSeconds: subnet.cooldownSeconds,
    ...(subnet.strategy === undefined ? {} : { strategy: subnet.strategy }),
  };
}

/** Supernets are written only when declared, so a topology without any serializes as before. */
function supernets(list: readonly Supernet[] | undefined): { supernets?: SupernetConfig[] } {
  if (list === undefined || list.length === 0) return {};
  return {
    supernets: list.map((s) => ({
      cidr: s.cidr,
      purpose: s.purpose,
      prefix: s.prefix,
      threshold: s.threshold,
      blockPrefix: s.blockPrefix,
    })),
  };
}

/**
 * The topology as a canonical config object (a fresh object owned by the caller).
 * `createTopology(toCanonicalConfig(t))` yields a topology equal to `t`.
 */
export function toCanonicalConfig(topology: Topology): TopologyConfig {
  const index = indexOf(topology);
  const subnetsOf = (kind: ScopeKind, id: string): SubnetConfig[] =>
    [...(index.subnetsByScope.get(scopeKey(kind, id)) ?? [])].sort(byId).map(subnetConfig);
  const children = <T extends { readonly id: string }>(
    ids: readonly string[] | undefined,
    map: ReadonlyMap<string, T>,
  ): T[] => (ids ?? []).map((id) => map.get(id) as T).sort(byId);

  const zones = [...topology.zones.values()].sort(byId).map((zone) => ({
    id: zone.id,
    name: zone.name,
    labels: labels(zone.labels),
    subnetRanges: [...zone.subnetRanges],
    ...supernets(zone.supernets),
    subnets: subnetsOf("zone", zone.id),
    pods: children(index.podsByZone.get(zone.id), topology.pods).map((pod) => ({
      id: pod.id,
      name: pod.name,
      labels: labels(pod.labels),
      subnetRanges: [...pod.subnetRanges],
      ...supernets(pod.supernets),
      subnets: subnetsOf("pod", pod.id),
      tors: children(index.torsByPod.get(pod.id), topology.tors).map((tor) => ({
        id: tor.id,
        name: tor.name,
        ...(tor.location === undefined ? {} : { location: tor.location }),
        labels: labels(tor.labels),
        subnets: subnetsOf("tor", tor.id),
        nodes: children(index.nodesByTor.get(tor.id), topology.nodes).map((node) => ({
          id: node.id,
          name: node.name,
          labels: labels(node.labels),
        })),
      })),
    })),
  }));
  const purposes: Record<string, PurposeConfig> = {};
  const names = [...topology.purposes.keys()].sort();
  for (const name of names) {
    const policy = topology.purposes.get(name);
    if (policy !== undefined) purposes[name] = { strategy: policy.strategy };
  }
  return {
    version: 1,
    ...(topology.purposes.size === 0 ? {} : { purposes }),
    zones,
  };
}

/**
 * The canonical JSON text of a topology (2-space indent, trailing newline). Stable: equal
 * topologies give identical text; `parseTopology(toCanonicalJson(t))` equals `t`.
 */
export function toCanonicalJson(topology: Topology): string {
  return `${JSON.stringify(toCanonicalConfig(topology), null, 2)}\n`;
}
