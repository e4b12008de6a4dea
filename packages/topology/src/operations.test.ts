import { describe, expect, it } from "vitest";
import { toCanonicalJson } from "./canonical.js";
import { exampleTopology, exampleTopologyYaml } from "./example.js";
import {
  addPod,
  addSubnet,
  addTor,
  addZone,
  carryOverNodes,
  registerNode,
  registerNodes,
  removeNode,
  removeSubnet,
} from "./operations.js";
import { parseTopology } from "./parse.js";
import { nodePath, nodesUnder, subnetsForNode } from "./queries.js";
import { emptyTopology } from "./topology.js";

const code = (c: string) => expect.objectContaining({ name: "TopologyError", code: c });

function small() {
  let t = emptyTopology();
  t = addZone(t, { id: "z1", subnetRanges: ["10.0.0.0/16", "fd00::/48"] });
  t = addPod(t, { id: "p1", zone: "z1", subnetRanges: ["10.0.0.0/20"] });
  t = addTor(t, { id: "t1", pod: "p1", location: "row 1" });
  t = addTor(t, { id: "t2", pod: "p1" });
  return t;
}

describe("building with operations", () => {
  it("adds zones, pods, TORs, nodes and subnets that queries then see", () => {
    let t = small();
    t = registerNode(t, { id: "n1", tor: "t1", labels: { b: "2", a: "1" } });
    t = addSubnet(t, { scope: { kind: "tor", id: "t1" }, cidr: "10.0.1.0/24" });
    t = addSubnet(t, { scope: { kind: "pod", id: "p1" }, cidr: "10.0.8.0/24", id: "spill" });
    expect(nodePath(t, "n1").text).toBe("z1/p1/t1/n1");
    expect(t.nodes.get("n1")?.labels).toEqual({ a: "1", b: "2" });
    expect(subnetsForNode(t, "n1", { purpose: "default", family: 4 }).map((s) => s.id)).toEqual([
      "10.0.1.0/24",
      "spill",
    ]);
  });

  it("checks that each parent exists", () => {
    const t = small();
    expect(() => addPod(t, { id: "p9", zone: "nope" })).toThrow(code("NOT_FOUND"));
    expect(() => addTor(t, { id: "t9", pod: "nope" })).toThrow(code("NOT_FOUND"));
    expect(() => registerNode(t, { id: "n9", tor: "nope" })).toThrow(code("NOT_FOUND"));
    expect(() => addSubnet(t, { scope: { kind: "tor", id: "x" }, cidr: "10.0.1.0/24" })).toThrow(
      code("NOT_FOUND"),
    );
  });

  it("rejects duplicate ids with CONFLICT and malformed ids with INVALID_ARGUMENT", () => {
    const t = small();
    expect(() => addZone(t, { id: "z1" })).toThrow(code("CONFLICT"));
    expect(() => addPod(t, { id: "p1", zone: "z1" })).toThrow(code("CONFLICT"));
    expect(() => addTor(t, { id: "t1", pod: "p1" })).toThrow(code("CONFLICT"));
    expect(() => addZone(t, { id: "a/b" })).toThrow(code("INVALID_ARGUMENT"));
    expect(() => addZone(t, { id: "" })).toThrow(code("INVALID_ARGUMENT"));
  });

  it("rejects pod ranges outside the zone's", () => {
    expect(() => addPod(small(), { id: "p2", zone: "z1", subnetRanges: ["10.1.0.0/20"] })).toThrow(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        details: { issues: [expect.objectContaining({ path: "subnetRanges[0]" })] },
      }),
    );
  });

  it("checks subnets: fields, ranges, duplicate ids and overlaps", () => {
    let t = small();
    const tor1 = { kind: "tor", id: "t1" } as const;
    t = addSubnet(t, { scope: tor1, cidr: "10.0.1.0/24" });
    expect(() => addSubnet(t, { scope: tor1, cidr: "10.0.2.1/24" })).toThrow(
      code("INVALID_ARGUMENT"),
    );
    expect(() => addSubnet(t, { scope: tor1, cidr: "10.0.32.0/24" })).toThrow(
      /outside the subnetRanges of pod "p1"/,
    );
    expect(() => addSubnet(t, { scope: tor1, cidr: "fd01::/64" })).toThrow(/zone "z1"/);
    expect(() => addSubnet(t, { scope: tor1, cidr: "10.0.2.0/24", id: "10.0.1.0/24" })).toThrow(
      code("CONFLICT"),
    );
    expect(() => addSubnet(t, { scope: { kind: "tor", id: "t2" }, cidr: "10.0.1.128/25" })).toThrow(
      code("CONFLICT"),
    );
    expect(() => addSubnet(t, { scope: { kind: "zone", id: "z1" }, cidr: "10.0.0.0/20" })).toThrow(
      /overlaps subnet "10.0.1.0\/24"/,
    );
    expect(() => addSubnet(t, { scope: tor1, cidr: "10.0.1.0/24", gateway: "10.0.9.1" })).toThrow(
      expect.objectContaining({
        details: { issues: [expect.objectContaining({ path: "gateway" })] },
      }),
    );
    t = addSubnet(t, { scope: tor1, cidr: "10.0.0.0/24" });
    t = addSubnet(t, { scope: tor1, cidr: "10.0.2.0/24" });
    expect(t.subnets.size).toBe(3);
  });

  it("removes subnets, freeing their range", () => {
    let t = addSubnet(small(), { scope: { kind: "tor", id: "t1" }, cidr: "10.0.1.0/24" });
    t = removeSubnet(t, "10.0.1.0/24");
    expect(t.subnets.size).toBe(0);
    expect(
      subnetsForNode(registerNode(t, { id: "n", tor: "t1" }), "n", {
        purpose: "default",
        family: 4,
      }),
    ).toEqual([]);
    t = addSubnet(t, { scope: { kind: "tor", id: "t2" }, cidr: "10.0.1.0/25" });
    expect(t.subnets.get("10.0.1.0/25")?.scope).toEqual({ kind: "tor", id: "t2" });
    expect(() => removeSubnet(t, "nope")).toThrow(code("NOT_FOUND"));
  });
});

describe("node registration", () => {
  it("is idempotent under the same TOR and returns the same value when nothing changed", () => {
    const t = registerNode(small(), { id: "n1", tor: "t1" });
    expect(registerNode(t, { id: "n1", tor: "t1" })).toBe(t);
    const renamed = registerNode(t, { id: "n1", tor: "t1", name: "host-1" });
    expect(renamed.nodes.get("n1")?.name).toBe("host-1");
    expect(nodesUnder(renamed, { kind: "tor", id: "t1" })).toHaveLength(1);
  });

  it("refuses to move a node to another TOR", () => {
    const t = registerNode(small(), { id: "n1", tor: "t1" });
    expect(() => registerNode(t, { id: "n1", tor: "t2" })).toThrow(code("CONFLICT"));
    const moved = registerNode(removeNode(t, "n1"), { id: "n1", tor: "t2" });
    expect(nodePath(moved, "n1").tor.id).toBe("t2");
    expect(nodesUnder(moved, { kind: "tor", id: "t1" })).toEqual([]);
  });

  it("removes nodes and rejects unknown ones", () => {
    const t = removeNode(exampleTopology(), "node-a1");
    expect(t.nodes.has("node-a1")).toBe(false);
    expect(nodesUnder(t, { kind: "tor", id: "tor-a1-1" }).map((n) => n.id)).toEqual(["node-a2"]);
    expect(() => removeNode(t, "node-a1")).toThrow(code("NOT_FOUND"));
  });
});

describe("immutability", () => {
  it("leaves the original topology unchanged", () => {
    const before = exampleTopology();
    const text = toCanonicalJson(before);
    let after = registerNode(before, { id: "extra", tor: "tor-a1-1" });
    after = removeNode(after, "node-b1");
    after = removeSubnet(after, "tor-a1-1-storage-v4");
    after = addSubnet(after, {
      scope: { kind: "tor", id: "tor-a1-2" },
      cidr: "10.99.8.0/24",
      purpose: "storage",
    });
    after = addZone(after, { id: "zone-c" });
    expect(toCanonicalJson(before)).toBe(text);
    expect(before.nodes.has("extra")).toBe(false);
    expect(subnetsForNode(before, "node-a1", { purpose: "storage", family: 4 })[0]?.id).toBe(
      "tor-a1-1-storage-v4",
    );
    expect(
      subnetsForNode(after, "node-a3", { purpose: "storage", family: 4 }).map((s) => s.id),
    ).toEqual(["10.99.8.0/24", "tor-a1-2-storage-v4"]);
    expect(Object.isFrozen(before)).toBe(true);
    expect(Object.isFrozen(before.subnets.get("tor-a1-1-default-v4"))).toBe(true);
  });
});

describe("registerNodes", () => {
  it("registers a batch, all or nothing", () => {
    const base = small();
    const t = registerNodes(base, [
      { id: "a", tor: "t1" },
      { id: "b", tor: "t2" },
      { id: "c", tor: "t1" },
      { id: "a", tor: "t1", name: "renamed" },
    ]);
    expect(nodesUnder(t, { kind: "tor", id: "t1" }).map((n) => [n.id, n.name])).toEqual([
      ["a", "renamed"],
      ["c", "c"],
    ]);
    expect(nodesUnder(t, { kind: "tor", id: "t2" }).map((n) => n.id)).toEqual(["b"]);
    expect(() =>
      registerNodes(t, [
        { id: "d", tor: "t1" },
        { id: "b", tor: "t1" },
      ]),
    ).toThrow(code("CONFLICT"));
    expect(t.nodes.has("d")).toBe(false);
    expect(registerNodes(t, [{ id: "c", tor: "t1" }])).toBe(t);
    expect(registerNodes(base, [])).toBe(base);
  });
});

describe("input checks", () => {
  it("rejects unknown keys and wrong types from untyped callers, naming the field", () => {
    const t = small();
    const untyped = (value: unknown) => value as never;
    expect(() => registerNode(t, untyped({ id: "n", tor: "t1", labels: { a: 1 } }))).toThrow(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        details: { issues: [expect.objectContaining({ path: "labels.a" })] },
      }),
    );
    expect(() => registerNode(t, untyped({ id: 5, tor: "t1" }))).toThrow(code("INVALID_ARGUMENT"));
    expect(() =>
      addSubnet(
        t,
        untyped({ scope: { kind: "tor", id: "t1" }, cidr: "10.0.1.0/24", blockprefix: 28 }),
      ),
    ).toThrow(/blockprefix/);
    expect(() =>
      addSubnet(t, untyped({ scope: { kind: "rack", id: "t1" }, cidr: "10.0.1.0/24" })),
    ).toThrow(code("INVALID_ARGUMENT"));
    expect(() => addZone(t, untyped({ id: "z2", subnetRanges: "10.0.0.0/8" }))).toThrow(
      code("INVALID_ARGUMENT"),
    );
    expect(() => addTor(t, untyped({ id: "t9", pod: "p1", rack: 3 }))).toThrow(
      code("INVALID_ARGUMENT"),
    );
    expect(() => addPod(t, untyped({ id: "p9" }))).toThrow(code("INVALID_ARGUMENT"));
  });
});

describe("carryOverNodes", () => {
  it("keeps run-time nodes across a config change and reports those whose TOR is gone", () => {
    const previous = registerNodes(exampleTopology(), [
      { id: "late-1", tor: "tor-a1-1" },
      { id: "late-2", tor: "tor-b2-2" },
      { id: "node-a1", tor: "tor-a1-1", labels: { old: "yes" } },
    ]);
    const next = parseTopology(
      exampleTopologyYaml.replace(/ {10}- id: tor-b2-2[\s\S]*$/, ""),
      "yaml",
    );
    const { topology, orphaned } = carryOverNodes(next, previous);
    expect(topology.nodes.get("late-1")?.tor).toBe("tor-a1-1");
    expect(orphaned.map((n) => n.id)).toEqual(["late-2", "node-b7", "node-b8"]);
    expect(topology.nodes.get("node-a1")?.labels).toEqual({});
    expect(next.nodes.has("late-1")).toBe(false);
  });
});
