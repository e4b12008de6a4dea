import { Cidr } from "@ipam/bitmap";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  addSubnet,
  createTopology,
  nodePath,
  nodesUnder,
  parseTopology,
  registerNode,
  type SubnetConfig,
  subnetsForNode,
  type TopologyConfig,
  toCanonicalConfig,
  toCanonicalJson,
  validateTopologyConfig,
} from "../src/index.js";
import { addPod, addTor, addZone } from "../src/operations.js";
import { emptyTopology } from "../src/topology.js";

const label = fc.dictionary(fc.constantFrom("a", "b", "rack_row", "x.y"), fc.string(), {
  maxKeys: 2,
});
const purpose = fc.constantFrom("default", "storage", "management", "gpu-net");

interface Shape {
  zones: Array<{ labels: Record<string, string>; pods: Array<Array<number>> }>;
  subnetSlots: Array<{
    level: number;
    purpose: string;
    v6: boolean;
    priority: number;
    extra: { block: number; gateway: number | null; reserved: number[]; cooldown: number };
  }>;
  ranges: boolean;
  location: string | null;
  nodeLabels: Record<string, string>;
}

/** Zones → pods → TORs (node counts), and subnets to spread over the scopes. */
const shapeArb: fc.Arbitrary<Shape> = fc.record({
  zones: fc.array(
    fc.record({
      labels: label,
      pods: fc.array(fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  subnetSlots: fc.array(
    fc.record({
      level: fc.nat(),
      purpose,
      v6: fc.boolean(),
      priority: fc.integer({ min: 0, max: 3 }),
      extra: fc.record({
        block: fc.nat(8),
        gateway: fc.option(fc.integer({ min: 1, max: 254 })),
        reserved: fc.array(fc.integer({ min: 1, max: 254 }), { maxLength: 3 }),
        cooldown: fc.nat(600),
      }),
    }),
    { maxLength: 20 },
  ),
  ranges: fc.boolean(),
  location: fc.option(fc.string()),
  nodeLabels: label,
});

/** A valid config: ids unique, subnets carved from disjoint /24s and /64s. */
function configOf(shape: Shape): TopologyConfig {
  const scopes: Array<{ subnets: NonNullable<TopologyConfig["zones"]>[number]["subnets"] }> = [];
  let nodeNo = 0;
  const zones = shape.zones.map((z, zi) => {
    const zone = {
      id: `z${zi}`,
      labels: z.labels,
      ...(shape.ranges ? { subnetRanges: ["fd00::/16", "10.0.0.0/8"] } : {}),
      subnets: [] as SubnetConfig[],
      pods: z.pods.map((tors, pi) => {
        const pod = {
          id: `z${zi}-p${pi}`,
          subnets: [] as SubnetConfig[],
          tors: tors.map((nodes, ti) => {
            const tor = {
              id: `z${zi}-p${pi}-t${ti}`,
              ...(shape.location === null ? {} : { location: shape.location }),
              subnets: [] as SubnetConfig[],
              nodes: Array.from({ length: nodes }, () => ({
                id: `n${nodeNo++}`,
                labels: shape.nodeLabels,
              })),
            };
            scopes.push(tor);
            return tor;
          }),
        };
        scopes.push(pod);
        return pod;
      }),
    };
    scopes.push(zone);
    return zone;
  });
  shape.subnetSlots.forEach((slot, k) => {
    const cidr = slot.v6 ? `fd00:0:${k.toString(16)}::/64` : `10.${k}.0.0/24`;
    const address = (n: number) =>
      slot.v6 ? `fd00:0:${k.toString(16)}::${n.toString(16)}` : `10.${k}.0.${n}`;
    const { block, gateway, reserved, cooldown } = slot.extra;
    scopes[slot.level % scopes.length]?.subnets?.push({
      cidr,
      purpose: slot.purpose,
      priority: slot.priority,
      blockPrefix: (slot.v6 ? 120 : 24) + block,
      gateway: gateway === null ? "none" : address(gateway),
      reserved: reserved.map((n) => (n % 2 === 0 ? address(n) : `${address(n)}-${address(n + 1)}`)),
      cooldownSeconds: cooldown,
    });
  });
  return { zones };
}

describe("properties", () => {
  it("every valid topology round-trips through canonical JSON and YAML", () => {
    fc.assert(
      fc.property(shapeArb, (shape) => {
        const t = createTopology(configOf(shape));
        const json = toCanonicalJson(t);
        expect(toCanonicalJson(parseTopology(json, "json"))).toBe(json);
        expect(toCanonicalJson(parseTopology(stringify(toCanonicalConfig(t)), "yaml"))).toBe(json);
      }),
      { numRuns: 60 },
    );
  });

  it("every node's path is consistent with its parents, and its subnets lie on that path", () => {
    fc.assert(
      fc.property(shapeArb, purpose, fc.boolean(), (shape, p, v6) => {
        const t = createTopology(configOf(shape));
        for (const node of t.nodes.values()) {
          const path = nodePath(t, node.id);
          expect(path.node.tor).toBe(path.tor.id);
          expect(path.tor.pod).toBe(path.pod.id);
          expect(path.pod.zone).toBe(path.zone.id);
          expect(path.text).toBe([path.zone.id, path.pod.id, path.tor.id, node.id].join("/"));
          for (const scope of [
            { kind: "zone", id: path.zone.id },
            { kind: "pod", id: path.pod.id },
            { kind: "tor", id: path.tor.id },
          ] as const) {
            expect(nodesUnder(t, scope).some((n) => n.id === node.id)).toBe(true);
          }
          const onPath = [`tor:${path.tor.id}`, `pod:${path.pod.id}`, `zone:${path.zone.id}`];
          const subnets = subnetsForNode(t, node.id, { purpose: p, family: v6 ? 6 : 4 });
          const levels = subnets.map((s) => onPath.indexOf(`${s.scope.kind}:${s.scope.id}`));
          expect(levels.every((l) => l >= 0)).toBe(true);
          expect([...levels].sort()).toEqual(levels);
          for (const s of subnets) expect([s.purpose, s.family]).toEqual([p, v6 ? 6 : 4]);
        }
        const total = [...t.zones.values()].reduce(
          (sum, z) => sum + nodesUnder(t, { kind: "zone", id: z.id }).length,
          0,
        );
        expect(total).toBe(t.nodes.size);
      }),
      { numRuns: 60 },
    );
  });

  /** Random blocks inside 10.0.0.0/24 and fd00::/120, so that overlaps are common. */
  const smallCidr = fc.oneof(
    fc
      .record({ prefix: fc.integer({ min: 25, max: 32 }), n: fc.nat(255) })
      .map(({ prefix, n }) => Cidr.fromIp({ family: 4, value: 0x0a000000 + n }, prefix).toString()),
    fc
      .record({ prefix: fc.integer({ min: 121, max: 128 }), n: fc.nat(255) })
      .map(({ prefix, n }) =>
        Cidr.fromIp({ family: 6, value: (0xfd00n << 112n) | BigInt(n) }, prefix).toString(),
      ),
  );

  function bruteForceOverlapping(cidrs: readonly string[]): Set<number> {
    const parsed = cidrs.map((c) => Cidr.parse(c));
    const out = new Set<number>();
    for (let i = 0; i < parsed.length; i++) {
      for (let j = i + 1; j < parsed.length; j++) {
        const a = parsed[i] as Cidr;
        const b = parsed[j] as Cidr;
        if (a.family === b.family && a.start <= b.end && b.start <= a.end) {
          out.add(i);
          out.add(j);
        }
      }
    }
    return out;
  }

  it("overlap detection in a whole tree agrees with a brute-force check", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ cidr: smallCidr, scope: fc.nat(6) }), { maxLength: 12 }),
        (subnets) => {
          // Scopes: zone z, pods p0/p1, TORs t0..t3; subnet k sits at scope k's choice.
          const paths = ["zones[0]", "zones[0].pods[0]", "zones[0].pods[1]"];
          for (let i = 0; i < 4; i++) paths.push(`zones[0].pods[${i >> 1}].tors[${i & 1}]`);
          const buckets = paths.map(() => [] as Array<{ cidr: string; id: string }>);
          const where: string[] = [];
          subnets.forEach((s, k) => {
            const bucket = buckets[s.scope] as Array<{ cidr: string; id: string }>;
            where.push(`${paths[s.scope]}.subnets[${bucket.length}]`);
            bucket.push({ cidr: s.cidr, id: `s${k}` });
          });
          const tors = (p: number) =>
            [0, 1].map((t) => ({ id: `t${p}${t}`, subnets: buckets[3 + p * 2 + t] }));
          const config = {
            zones: [
              {
                id: "z",
                subnets: buckets[0],
                pods: [0, 1].map((p) => ({ id: `p${p}`, subnets: buckets[1 + p], tors: tors(p) })),
              },
            ],
          };
          const flagged = new Set<string>();
          for (const issue of validateTopologyConfig(config)) {
            const m = /^(.*) overlaps .* at (.*)$/.exec(issue.message);
            expect(m, issue.message).not.toBeNull();
            flagged.add(issue.path.replace(/\.cidr$/, ""));
            flagged.add(m?.[2] as string);
          }
          const expected = new Set(
            [...bruteForceOverlapping(subnets.map((s) => s.cidr))].map((i) => where[i]),
          );
          expect([...flagged].sort()).toEqual([...expected].sort());
        },
      ),
      { numRuns: 300 },
    );
  });

  it("addSubnet accepts a subnet exactly when brute force finds no overlap", () => {
    fc.assert(
      fc.property(fc.array(smallCidr, { maxLength: 15 }), (cidrs) => {
        let t = addTor(addPod(addZone(emptyTopology(), { id: "z" }), { id: "p", zone: "z" }), {
          id: "t",
          pod: "p",
        });
        t = registerNode(t, { id: "n", tor: "t" });
        const accepted: string[] = [];
        cidrs.forEach((cidr, k) => {
          const clash = bruteForceOverlapping([...accepted, cidr]).size > 0;
          try {
            t = addSubnet(t, { scope: { kind: "tor", id: "t" }, cidr, id: `s${k}` });
            expect(clash).toBe(false);
            accepted.push(cidr);
          } catch (error) {
            expect(clash).toBe(true);
            expect(error).toMatchObject({ code: "CONFLICT" });
          }
        });
        expect(t.subnets.size).toBe(accepted.length);
      }),
      { numRuns: 300 },
    );
  });
});
