import picocolors from "picocolors";
import { describe, expect, it } from "vitest";
import type { SubnetNode, Tree } from "../tree.js";
import { treeText } from "./show.js";

const plain = picocolors.createColors(false);

function subnet(over: Partial<SubnetNode>): SubnetNode {
  return {
    id: "s1",
    cidr: "10.99.0.0/24",
    purpose: "default",
    family: "ipv4",
    mode: "block",
    blockPrefix: 26,
    strategy: "zone",
    strategyOverride: false,
    origin: "file",
    counts: { capacity: "253", leased: "62", held: "5", cooling: "0" },
    blocksLeased: 1,
    ...over,
  };
}

function tree(subnets: SubnetNode[], cooling: string): Tree {
  const counts = { ipv4: { capacity: "253", leased: "62", held: "5", cooling } };
  return {
    purposes: [{ purpose: "default", strategy: "zone" }],
    zones: [
      {
        id: "z",
        counts,
        subnets: [],
        pods: [
          {
            id: "p",
            counts,
            subnets: [],
            tors: [{ id: "t", counts, subnets, nodes: [] }],
          },
        ],
      },
    ],
    total: counts,
    unreadNodes: [],
  };
}

describe("treeText", () => {
  it("shows a cooling column only when something cools down", () => {
    expect(treeText(tree([subnet({})], "0"), plain)).not.toContain("COOLING");
    const cooling = subnet({ counts: { capacity: "253", leased: "62", held: "5", cooling: "3" } });
    const text = treeText(tree([cooling], "3"), plain);
    expect(text).toContain("COOLING");
    expect(text.split("\n").find((l) => l.includes("s1 10.99.0.0/24"))).toMatch(/\s3\s/);
  });

  it("names each purpose's strategy, a subnet's own override, and a carved subnet", () => {
    const text = treeText(
      tree([subnet({ strategy: "tor", strategyOverride: true, origin: "carved" })], "0"),
      plain,
    );
    expect(text).toContain("strategy: default zone");
    expect(text).toMatch(/s1 10\.99\.0\.0\/24 default blocks \/26 strategy tor carved/);
    expect(treeText(tree([subnet({})], "0"), plain)).not.toMatch(/strategy zone|carved/);
  });
});
