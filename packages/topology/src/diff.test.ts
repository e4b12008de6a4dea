import { describe, expect, it } from "vitest";
import { diff } from "./diff.js";
import { exampleTopology, exampleTopologyYaml } from "./example.js";
import { addSubnet, addZone, registerNode, removeNode, removeSubnet } from "./operations.js";
import { parseTopology } from "./parse.js";

describe("diff", () => {
  it("is empty for equal topologies, however they were built", () => {
    const d = diff(exampleTopology(), parseTopology(exampleTopologyYaml));
    expect(d.empty).toBe(true);
    expect(d.subnets).toEqual({ added: [], removed: [], changed: [] });
  });

  it("lists added, removed and changed entities per kind, sorted by id", () => {
    const a = exampleTopology();
    let b = registerNode(a, { id: "node-z", tor: "tor-a1-1" });
    b = registerNode(b, { id: "node-a0", tor: "tor-a1-1" });
    b = removeNode(b, "node-b1");
    b = registerNode(b, { id: "node-a2", tor: "tor-a1-1", labels: { gpu: "1" } });
    b = addZone(b, { id: "zone-c" });
    b = removeSubnet(b, "tor-a1-1-storage-v4");
    b = addSubnet(b, { scope: { kind: "tor", id: "tor-a1-1" }, cidr: "10.99.8.0/25" });
    const d = diff(a, b);
    expect(d.empty).toBe(false);
    expect(d.nodes.added.map((n) => n.id)).toEqual(["node-a0", "node-z"]);
    expect(d.nodes.removed.map((n) => n.id)).toEqual(["node-b1"]);
    expect(d.nodes.changed).toEqual([
      {
        id: "node-a2",
        before: a.nodes.get("node-a2"),
        after: expect.objectContaining({ labels: { gpu: "1" } }),
      },
    ]);
    expect(d.zones.added.map((z) => z.id)).toEqual(["zone-c"]);
    expect(d.subnets.removed.map((s) => s.id)).toEqual(["tor-a1-1-storage-v4"]);
    expect(d.subnets.added.map((s) => s.id)).toEqual(["10.99.8.0/25"]);
    expect(d.pods).toEqual({ added: [], removed: [], changed: [] });
    expect(d.tors.changed).toEqual([]);
  });

  it("reports a subnet whose settings changed under the same id as changed", () => {
    const a = exampleTopology();
    const b = parseTopology(
      exampleTopologyYaml.replace(
        "cidr: 10.99.8.0/24\n                purpose: storage\n                blockPrefix: 28",
        "cidr: 10.99.8.0/24\n                purpose: storage\n                blockPrefix: 27",
      ),
    );
    const d = diff(a, b);
    expect(d.subnets.changed.map((c) => [c.id, c.before.blockPrefix, c.after.blockPrefix])).toEqual(
      [["tor-a1-1-storage-v4", 28, 27]],
    );
    expect(diff(b, a).subnets.changed[0]?.before.blockPrefix).toBe(27);
  });
});

describe("diff of purposes", () => {
  const withPurposes = (purposes: string): string => `${purposes}${exampleTopologyYaml}`;

  it("shows a reload that only changes a purpose's strategy", () => {
    const a = parseTopology(withPurposes("purposes:\n  default:\n    strategy: pod\n"));
    const b = parseTopology(withPurposes("purposes:\n  default:\n    strategy: tor\n"));
    const d = diff(a, b);
    expect(d.empty).toBe(false);
    expect(d.purposePolicies.changed).toEqual([
      {
        id: "default",
        before: { id: "default", strategy: "pod" },
        after: { id: "default", strategy: "tor" },
      },
    ]);
    expect(d.subnets).toEqual({ added: [], removed: [], changed: [] });
  });

  it("lists purposes the file starts or stops configuring", () => {
    const a = parseTopology(withPurposes("purposes:\n  default:\n    strategy: pod\n"));
    const b = parseTopology(withPurposes("purposes:\n  storage:\n    strategy: tor\n"));
    const d = diff(a, b);
    expect(d.purposePolicies.added.map((p) => p.id)).toEqual(["storage"]);
    expect(d.purposePolicies.removed.map((p) => p.id)).toEqual(["default"]);
    expect(diff(b, b).empty).toBe(true);
  });
});
