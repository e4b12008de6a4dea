import { describe, expect, it } from "vitest";
import { toCanonicalJson } from "./canonical.js";
import type { SubnetConfig, SupernetConfig, TopologyConfig } from "./config-schema.js";
import { createTopology } from "./create-topology.js";
import { TopologyError } from "./errors.js";
import { addSubnet } from "./operations.js";
import { parseTopology } from "./parse.js";
import { supernetsForTor } from "./queries.js";

function config(
  supernet: Partial<SupernetConfig>,
  extraSubnets: SubnetConfig[] = [],
): TopologyConfig {
  return {
    zones: [
      {
        id: "z",
        supernets: [{ cidr: "10.99.128.0/18", prefix: 24, purpose: "storage" }],
        pods: [
          {
            id: "p",
            supernets: [{ cidr: "10.99.64.0/18", prefix: 24, ...supernet }],
            subnets: extraSubnets,
            tors: [
              {
                id: "t",
                subnets: [
                  { id: "t-1", cidr: "10.99.0.0/24" },
                  { id: "t-fed", cidr: "10.99.64.0/24" },
                ],
                nodes: [{ id: "n" }],
              },
            ],
          },
        ],
      },
    ],
  };
}

function issues(c: TopologyConfig): { path: string; message: string }[] {
  try {
    createTopology(c);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).details?.issues as { path: string; message: string }[];
  }
  throw new Error("accepted");
}

describe("supernets", () => {
  it("parse with defaults and round-trip through the canonical form", () => {
    const t = createTopology(config({}));
    expect(t.pods.get("p")?.supernets).toEqual([
      {
        cidr: "10.99.64.0/18",
        family: 4,
        purpose: "default",
        prefix: 24,
        threshold: 0.8,
        blockPrefix: 26,
      },
    ]);
    expect(supernetsForTor(t, "t", "default", 4).map((s) => s.scope)).toEqual([
      { kind: "pod", id: "p" },
    ]);
    expect(supernetsForTor(t, "t", "storage", 4).map((s) => s.scope)).toEqual([
      { kind: "zone", id: "z" },
    ]);
    const text = toCanonicalJson(t);
    expect(toCanonicalJson(parseTopology(text))).toBe(text);
  });

  it("refuses a threshold outside (0, 1], naming the field", () => {
    for (const threshold of [0, 1.5, -0.2]) {
      expect(issues(config({ threshold })).map((i) => i.path)).toEqual([
        "zones[0].pods[0].supernets[0].threshold",
      ]);
    }
    expect(() => createTopology(config({ threshold: 1 }))).not.toThrow();
  });

  it("refuses a supernet overlapping a declared subnet it does not feed", () => {
    const podSubnet = issues(config({}, [{ id: "pod-s", cidr: "10.99.100.0/24" }]));
    expect(podSubnet.map((i) => i.path)).toEqual(["zones[0].pods[0].supernets[0].cidr"]);
    expect(podSubnet[0]?.message).toContain('overlaps subnet "pod-s"');
    const otherPurpose = issues(config({ purpose: "storage" }, []));
    expect(otherPurpose[0]?.message).toContain('overlaps subnet "t-fed"');
  });

  it("refuses overlapping supernets and bad prefixes", () => {
    const c = config({});
    const zone = c.zones?.[0];
    if (zone === undefined) throw new Error("no zone");
    zone.supernets = [{ cidr: "10.99.0.0/16", prefix: 24, purpose: "storage" }];
    expect(issues(c).some((i) => i.message.includes("overlaps supernet"))).toBe(true);
    expect(issues(config({ prefix: 16 })).map((i) => i.path)).toEqual([
      "zones[0].pods[0].supernets[0].prefix",
    ]);
    expect(issues(config({ blockPrefix: 33 })).map((i) => i.path)).toEqual([
      "zones[0].pods[0].supernets[0].blockPrefix",
    ]);
    expect(issues(config({ blockPrefix: 23 })).map((i) => i.path)).toEqual([
      "zones[0].pods[0].supernets[0].blockPrefix",
    ]);
    // The host prefix: the supernet feeds direct-mode subnets.
    expect(
      createTopology(config({ blockPrefix: 32 })).pods.get("p")?.supernets?.[0]?.blockPrefix,
    ).toBe(32);
  });

  it("addSubnet refuses a subnet inside a supernet that does not feed it, accepts a fed one", () => {
    const t = createTopology(config({}));
    expect(() => addSubnet(t, { cidr: "10.99.65.0/24", scope: { kind: "pod", id: "p" } })).toThrow(
      /only default subnets of TORs beneath pod p/,
    );
    const next = addSubnet(t, { cidr: "10.99.65.0/24", scope: { kind: "tor", id: "t" } });
    expect(next.subnets.has("10.99.65.0/24")).toBe(true);
  });
});
