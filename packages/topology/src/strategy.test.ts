import { describe, expect, it } from "vitest";
import { toCanonicalJson } from "./canonical.js";
import type { TopologyConfig } from "./config-schema.js";
import { createTopology } from "./create-topology.js";
import { TopologyError } from "./errors.js";
import { parseTopology } from "./parse.js";
import { purposeStrategy, subnetsForNode } from "./queries.js";

function config(extra: Partial<TopologyConfig> = {}, podSubnet: object = {}): TopologyConfig {
  return {
    ...extra,
    zones: [
      {
        id: "z",
        subnets: [{ id: "zone-s", cidr: "10.99.128.0/20" }],
        pods: [
          {
            id: "p",
            subnets: [{ id: "pod-s", cidr: "10.99.64.0/20", ...podSubnet }],
            tors: [
              {
                id: "t",
                subnets: [{ id: "tor-s", cidr: "10.99.0.0/24" }],
                nodes: [{ id: "n" }],
              },
            ],
          },
        ],
      },
    ],
  };
}

const ids = (t: ReturnType<typeof createTopology>): string[] =>
  subnetsForNode(t, "n", { purpose: "default", family: 4 }).map((s) => s.id);

describe("strategy per purpose", () => {
  it("defaults to zone (TOR → Pod → Zone), as every earlier build did", () => {
    const t = createTopology(config());
    expect(purposeStrategy(t, "default")).toBe("zone");
    expect(ids(t)).toEqual(["tor-s", "pod-s", "zone-s"]);
  });

  it("tor, pod and zone reach one more level each; spill is an alias of zone", () => {
    const of = (strategy: "tor" | "pod" | "zone" | "spill") =>
      ids(createTopology(config({ purposes: { default: { strategy } } })));
    expect(of("tor")).toEqual(["tor-s"]);
    expect(of("pod")).toEqual(["tor-s", "pod-s"]);
    expect(of("zone")).toEqual(["tor-s", "pod-s", "zone-s"]);
    expect(of("spill")).toEqual(["tor-s", "pod-s", "zone-s"]);
  });

  it("a subnet's own strategy overrides its purpose's", () => {
    const closed = createTopology(config({}, { strategy: "tor" }));
    expect(ids(closed)).toEqual(["tor-s", "zone-s"]);
    const open = createTopology(
      config({ purposes: { default: { strategy: "tor" } } }, { strategy: "pod" }),
    );
    expect(ids(open)).toEqual(["tor-s", "pod-s"]);
  });

  it("an explicit request strategy replaces the purpose's", () => {
    const t = createTopology(config({ purposes: { default: { strategy: "tor" } } }));
    expect(
      subnetsForNode(t, "n", { purpose: "default", family: 4, strategy: "zone" }),
    ).toHaveLength(3);
  });

  it("round-trips through the canonical form (spill written as zone)", () => {
    const t = createTopology(
      config({ purposes: { default: { strategy: "spill" } } }, { strategy: "pod" }),
    );
    const text = toCanonicalJson(t);
    expect(text).toContain('"strategy": "zone"');
    expect(toCanonicalJson(parseTopology(text))).toBe(text);
  });

  it("refuses an unknown strategy name, naming the field", () => {
    const bad = (c: unknown) => {
      try {
        createTopology(c as TopologyConfig);
      } catch (e) {
        expect(e).toBeInstanceOf(TopologyError);
        return ((e as TopologyError).details as { issues: { path: string }[] }).issues.map(
          (i) => i.path,
        );
      }
      throw new Error("accepted");
    };
    expect(bad(config({ purposes: { default: { strategy: "rack" as "tor" } } }))).toEqual([
      "purposes.default.strategy",
    ]);
    expect(bad(config({}, { strategy: "everywhere" }))).toEqual([
      "zones[0].pods[0].subnets[0].strategy",
    ]);
  });
});
