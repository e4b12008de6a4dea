import { describe, expect, it } from "vitest";
import { toCanonicalConfig, toCanonicalJson } from "./canonical.js";
import { createTopology } from "./create-topology.js";
import { exampleTopology } from "./example.js";
import { addPod, addSubnet, addTor, addZone, registerNode } from "./operations.js";
import { parseTopology } from "./parse.js";
import { emptyTopology } from "./topology.js";

describe("toCanonicalJson", () => {
  it("round-trips the example through JSON", () => {
    const text = toCanonicalJson(exampleTopology());
    expect(toCanonicalJson(parseTopology(text, "json"))).toBe(text);
    expect(toCanonicalJson(createTopology(toCanonicalConfig(exampleTopology())))).toBe(text);
  });

  it("does not depend on the order entities were added in", () => {
    let a = emptyTopology();
    a = addZone(a, { id: "z2" });
    a = addZone(a, { id: "z1", labels: { y: "1", x: "2" } });
    a = addPod(a, { id: "p", zone: "z1" });
    a = addTor(a, { id: "t2", pod: "p" });
    a = addTor(a, { id: "t1", pod: "p" });
    a = registerNode(a, { id: "n2", tor: "t1" });
    a = registerNode(a, { id: "n1", tor: "t1" });
    a = addSubnet(a, { scope: { kind: "tor", id: "t1" }, cidr: "10.0.2.0/24" });
    a = addSubnet(a, { scope: { kind: "tor", id: "t1" }, cidr: "10.0.1.0/24" });
    const b = createTopology({
      zones: [
        {
          id: "z1",
          labels: { x: "2", y: "1" },
          pods: [
            {
              id: "p",
              tors: [
                {
                  id: "t1",
                  subnets: [{ cidr: "10.0.1.0/24" }, { cidr: "10.0.2.0/24" }],
                  nodes: [{ id: "n1" }, { id: "n2" }],
                },
                { id: "t2" },
              ],
            },
          ],
        },
        { id: "z2" },
      ],
    });
    expect(toCanonicalJson(a)).toBe(toCanonicalJson(b));
  });

  it("writes every default and a fixed key order", () => {
    const t = createTopology({
      zones: [{ id: "z", subnets: [{ cidr: "10.0.0.0/24", reserved: ["10.0.0.9"] }] }],
    });
    expect(JSON.parse(toCanonicalJson(t))).toEqual({
      version: 1,
      zones: [
        {
          id: "z",
          name: "z",
          labels: {},
          subnetRanges: [],
          subnets: [
            {
              id: "10.0.0.0/24",
              cidr: "10.0.0.0/24",
              purpose: "default",
              gateway: "10.0.0.1",
              reserved: ["10.0.0.9/32"],
              blockPrefix: 26,
              priority: 100,
              cooldownSeconds: 30,
            },
          ],
          pods: [],
        },
      ],
    });
    expect(Object.keys(toCanonicalConfig(t).zones?.[0] ?? {})).toEqual([
      "id",
      "name",
      "labels",
      "subnetRanges",
      "subnets",
      "pods",
    ]);
  });
});
