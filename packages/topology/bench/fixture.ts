import type { TopologyConfig } from "../src/index.js";

/**
 * The benchmark topology: 5 zones × 5 pods × 10 TORs = 250 TORs, 20 nodes per TOR = 5,000
 * nodes, 4 subnets per TOR = 1,000 subnets (default /24 and storage /26 and management /27
 * direct in IPv4, default /64 in IPv6), with subnetRanges on every zone and pod.
 */
export function benchConfig(): TopologyConfig {
  const zones: NonNullable<TopologyConfig["zones"]> = [];
  let torNo = 0;
  for (let z = 0; z < 5; z++) {
    const pods = [];
    for (let p = 0; p < 5; p++) {
      const tors = [];
      for (let t = 0; t < 10; t++, torNo++) {
        const a = 10 + z;
        const b = p * 32 + t;
        tors.push({
          id: `tor-${z}-${p}-${t}`,
          location: `hall ${z} row ${p} rack ${t}`,
          subnets: [
            { cidr: `${a}.${b}.0.0/24`, purpose: "default" },
            { cidr: `${a}.${b}.1.0/26`, purpose: "storage", blockPrefix: 28 },
            { cidr: `${a}.${b}.1.64/27`, purpose: "management", blockPrefix: 32 },
            { cidr: `fd00:${z}:${p}:${t}::/64`, purpose: "default", blockPrefix: 120 },
          ],
          nodes: Array.from({ length: 20 }, (_, n) => ({
            id: `node-${torNo}-${n}`,
            labels: { rack: String(t) },
          })),
        });
      }
      pods.push({
        id: `pod-${z}-${p}`,
        subnetRanges: [`${10 + z}.${p * 32}.0.0/11`, `fd00:${z}:${p}::/48`],
        tors,
      });
    }
    zones.push({ id: `zone-${z}`, subnetRanges: [`${10 + z}.0.0.0/8`, `fd00:${z}::/32`], pods });
  }
  return { zones };
}
