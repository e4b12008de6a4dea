import { Cidr } from "@ipam/bitmap";
import type { SubnetConfig, TopologyConfig } from "@ipam/topology";

/**
 * Where a topology config declares subnet `id` (its `id`, else its canonical CIDR), as the
 * path of its `cidr` field (`zones[0].pods[1].tors[2].subnets[0].cidr`), for messages that
 * must name the field of the file to change. Undefined when the config does not declare it.
 */
export function subnetConfigPath(config: TopologyConfig, id: string): string | undefined {
  const match = (list: readonly SubnetConfig[] | undefined, at: string): string | undefined => {
    const i = (list ?? []).findIndex(
      (s) => (s.id ?? Cidr.tryParse(s.cidr)?.toString() ?? s.cidr) === id,
    );
    return i < 0 ? undefined : `${at}.subnets[${i}].cidr`;
  };
  for (const [zi, z] of (config.zones ?? []).entries()) {
    const zone = `zones[${zi}]`;
    const inZone = match(z.subnets, zone);
    if (inZone !== undefined) return inZone;
    for (const [pi, p] of (z.pods ?? []).entries()) {
      const pod = `${zone}.pods[${pi}]`;
      const inPod = match(p.subnets, pod);
      if (inPod !== undefined) return inPod;
      for (const [ti, t] of (p.tors ?? []).entries()) {
        const inTor = match(t.subnets, `${pod}.tors[${ti}]`);
        if (inTor !== undefined) return inTor;
      }
    }
  }
  return undefined;
}
