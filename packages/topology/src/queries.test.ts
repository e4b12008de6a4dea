import { describe, expect, it } from "vitest";
import { createTopology } from "./create-topology.js";
import { TopologyError } from "./errors.js";
import { exampleTopology } from "./example.js";
import { registerNode } from "./operations.js";
import {
  countTopology,
  nodePath,
  nodesUnder,
  subnetsAt,
  subnetsForNode,
  torOfNode,
} from "./queries.js";

/** Zone z1 (one zone subnet), pod p1 (two pod subnets), TORs t1 and t2 (several subnets). */
function layered() {
  return createTopology({
    zones: [
      {
        id: "z1",
        subnets: [
          { id: "zone-default", cidr: "10.9.0.0/16", purpose: "default" },
          { id: "zone-default-v6", cidr: "fd00:9::/48", purpose: "default" },
        ],
        pods: [
          {
            id: "p1",
            subnets: [
              { id: "pod-b", cidr: "10.1.0.0/16", purpose: "default" },
              { id: "pod-a", cidr: "10.2.0.0/16", purpose: "default", priority: 100 },
              { id: "pod-storage", cidr: "10.3.0.0/16", purpose: "storage" },
            ],
            tors: [
              {
                id: "t1",
                subnets: [
                  { id: "t1-low", cidr: "10.0.1.0/24", purpose: "default", priority: 200 },
                  { id: "t1-high", cidr: "10.0.2.0/24", purpose: "default", priority: 10 },
                  { id: "t1-mid-b", cidr: "10.0.3.0/24", purpose: "default", priority: 50 },
                  { id: "t1-mid-a", cidr: "10.0.4.0/24", purpose: "default", priority: 50 },
                  { id: "t1-v6", cidr: "fd00:1::/64", purpose: "default" },
                  { id: "t1-mgmt", cidr: "10.0.5.0/26", purpose: "management", blockPrefix: 32 },
                ],
                nodes: [{ id: "n1" }, { id: "n0" }],
              },
              { id: "t2", nodes: [{ id: "n2" }] },
            ],
          },
        ],
      },
    ],
  });
}

describe("subnetsForNode", () => {
  it("walks TOR, then pod, then zone, each level by priority then id", () => {
    const ids = subnetsForNode(layered(), "n1", { purpose: "default", family: 4 }).map((s) => s.id);
    expect(ids).toEqual([
      "t1-high",
      "t1-mid-a",
      "t1-mid-b",
      "t1-low",
      "pod-a",
      "pod-b",
      "zone-default",
    ]);
  });

  it("stops at the TOR with strategy tor", () => {
    const ids = subnetsForNode(layered(), "n1", {
      purpose: "default",
      family: 4,
      strategy: "tor",
    }).map((s) => s.id);
    expect(ids).toEqual(["t1-high", "t1-mid-a", "t1-mid-b", "t1-low"]);
  });

  it("never returns another purpose or family", () => {
    const t = layered();
    expect(subnetsForNode(t, "n1", { purpose: "default", family: 6 }).map((s) => s.id)).toEqual([
      "t1-v6",
      "zone-default-v6",
    ]);
    expect(subnetsForNode(t, "n1", { purpose: "management", family: 6 })).toEqual([]);
    expect(subnetsForNode(t, "n1", { purpose: "storage", family: 4 }).map((s) => s.id)).toEqual([
      "pod-storage",
    ]);
    expect(subnetsForNode(t, "n2", { purpose: "management", family: 4 })).toEqual([]);
  });

  it("serves a node registered at run time like a configured one", () => {
    const t = registerNode(layered(), { id: "late", tor: "t1" });
    expect(subnetsForNode(t, "late", { purpose: "default", family: 4 })[0]?.id).toBe("t1-high");
  });

  it("rejects an unknown node with NOT_FOUND", () => {
    expect(() => subnetsForNode(layered(), "ghost", { purpose: "default", family: 4 })).toThrow(
      expect.objectContaining({ name: "TopologyError", code: "NOT_FOUND" }),
    );
  });

  it("gives each example node its TOR's subnets first", () => {
    const t = exampleTopology();
    for (const node of t.nodes.values()) {
      for (const purpose of ["default", "storage", "management"]) {
        for (const family of [4, 6] as const) {
          const first = subnetsForNode(t, node.id, { purpose, family })[0];
          expect(first?.scope).toEqual({ kind: "tor", id: node.tor });
        }
      }
    }
  });
});

describe("node queries", () => {
  it("reports the node's TOR and path", () => {
    const t = exampleTopology();
    expect(torOfNode(t, "node-a3").id).toBe("tor-a1-2");
    const path = nodePath(t, "node-b8");
    expect(path.text).toBe("zone-b/pod-b2/tor-b2-2/node-b8");
    expect([path.zone.id, path.pod.zone, path.tor.pod, path.node.tor]).toEqual([
      "zone-b",
      "zone-b",
      "pod-b2",
      "tor-b2-2",
    ]);
    expect(() => nodePath(t, "nope")).toThrow(TopologyError);
  });

  it("lists nodes under any scope, sorted by id", () => {
    const t = layered();
    expect(nodesUnder(t, { kind: "tor", id: "t1" }).map((n) => n.id)).toEqual(["n0", "n1"]);
    expect(nodesUnder(t, { kind: "pod", id: "p1" }).map((n) => n.id)).toEqual(["n0", "n1", "n2"]);
    expect(nodesUnder(t, { kind: "zone", id: "z1" })).toHaveLength(3);
    expect(nodesUnder(t).map((n) => n.id)).toEqual(["n0", "n1", "n2"]);
    expect(() => nodesUnder(t, { kind: "pod", id: "zz" })).toThrow(
      expect.objectContaining({ code: "NOT_FOUND" }),
    );
  });

  it("lists the subnets attached to one scope only", () => {
    expect(subnetsAt(layered(), { kind: "pod", id: "p1" }).map((s) => s.id)).toEqual([
      "pod-a",
      "pod-b",
      "pod-storage",
    ]);
    expect(subnetsAt(layered(), { kind: "tor", id: "t2" })).toEqual([]);
  });
});

describe("countTopology", () => {
  it("counts every level of the example", () => {
    const t = exampleTopology();
    expect(countTopology(t)).toEqual({ zones: 2, pods: 4, tors: 8, nodes: 16, subnets: 52 });
    expect(countTopology(t, { kind: "zone", id: "zone-a" })).toEqual({
      zones: 1,
      pods: 2,
      tors: 4,
      nodes: 8,
      subnets: 26,
    });
    expect(countTopology(t, { kind: "pod", id: "pod-b1" })).toEqual({
      zones: 0,
      pods: 1,
      tors: 2,
      nodes: 4,
      subnets: 13,
    });
    expect(countTopology(t, { kind: "tor", id: "tor-b1-1" })).toEqual({
      zones: 0,
      pods: 0,
      tors: 1,
      nodes: 2,
      subnets: 6,
    });
  });
});
