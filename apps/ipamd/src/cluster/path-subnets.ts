import type { Subnet, Topology } from "@ipam/topology";

/**
 * Every subnet on a node's path (its TOR's, its pod's and its zone's), sorted by id; empty for
 * a node the topology does not know. The array is the caller's.
 */
export function pathSubnets(topology: Topology, nodeId: string): Subnet[] {
  const node = topology.nodes.get(nodeId);
  const tor = node === undefined ? undefined : topology.tors.get(node.tor);
  if (tor === undefined) return [];
  const pod = topology.pods.get(tor.pod);
  const onPath = (s: Subnet): boolean =>
    (s.scope.kind === "tor" && s.scope.id === tor.id) ||
    (s.scope.kind === "pod" && s.scope.id === tor.pod) ||
    (s.scope.kind === "zone" && pod !== undefined && s.scope.id === pod.zone);
  return [...topology.subnets.values()]
    .filter(onPath)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
