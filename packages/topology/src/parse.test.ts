import { describe, expect, it } from "vitest";
import { toCanonicalJson } from "./canonical.js";
import { TopologyError } from "./errors.js";
import { parseTopology } from "./parse.js";
import { nodePath, subnetsForNode } from "./queries.js";

const yamlDoc = `
zones:
  - id: z1
    subnetRanges: [10.0.0.0/16]
    pods:
      - id: p1
        tors:
          - id: t1
            subnets:
              - cidr: 10.0.1.0/24
                purpose: storage
                blockPrefix: /28
            nodes:
              - id: n1
`;

function thrown(fn: () => unknown): TopologyError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TopologyError) return error;
    throw error;
  }
  throw new Error("expected a TopologyError");
}

describe("parseTopology", () => {
  it("reads YAML and JSON, explicitly or by auto-detection", () => {
    const fromYaml = parseTopology(yamlDoc, "yaml");
    const json = toCanonicalJson(fromYaml);
    expect(toCanonicalJson(parseTopology(yamlDoc))).toBe(json);
    expect(toCanonicalJson(parseTopology(json, "json"))).toBe(json);
    expect(toCanonicalJson(parseTopology(json, "auto"))).toBe(json);
    expect(toCanonicalJson(parseTopology(json, "yaml"))).toBe(json);
    expect(fromYaml.subnets.get("10.0.1.0/24")?.blockPrefix).toBe(28);
  });

  it("treats empty text as an empty topology and ignores a byte-order mark", () => {
    expect(parseTopology("", "yaml").zones.size).toBe(0);
    expect(parseTopology('\uFEFF{"zones":[{"id":"z"}]}', "json").zones.has("z")).toBe(true);
  });

  it("reports syntax errors as INVALID_CONFIG", () => {
    const json = thrown(() => parseTopology('{"zones": [', "json"));
    expect(json.code).toBe("INVALID_CONFIG");
    expect(json.message).toContain("not valid JSON");
    const yaml = thrown(() => parseTopology("zones:\n  - id: [unclosed\n", "yaml"));
    expect(yaml.code).toBe("INVALID_CONFIG");
    expect(yaml.issues[0]?.message).toMatch(/line \d+/);
    expect(yaml.cause).toBeDefined();
  });

  it("reports every problem with its path", () => {
    const error = thrown(() =>
      parseTopology(
        yamlDoc
          .replace("10.0.1.0/24", "10.0.0.0/33")
          .replace("- id: n1", "- id: n1\n                rack: 4"),
      ),
    );
    expect(error.issues.map((i) => i.path)).toEqual(["zones[0].pods[0].tors[0].nodes[0]"]);
    const semantic = thrown(() => parseTopology(yamlDoc.replace("10.0.1.0/24", "10.0.0.0/33")));
    expect(semantic.message).toContain(
      "zones[0].pods[0].tors[0].subnets[0].cidr: 10.0.0.0/33 is not a valid CIDR",
    );
  });
});

describe("the original project's snake_case JSON", () => {
  const legacy = JSON.stringify({
    zones: [
      {
        name: "zone-1",
        subnet_ranges: ["10.10.0.0/16"],
        labels: { rack_row: "r1" },
        pods: [
          {
            name: "pod-1",
            tors: [
              {
                name: "tor-1",
                subnets: [
                  { cidr: "10.10.1.0/24", purpose: "default", block_prefix: 27 },
                  { cidr: "10.10.2.0/24", purpose: "storage", cooldown_seconds: 5 },
                ],
                nodes: [{ name: "node-1" }],
              },
            ],
          },
        ],
      },
    ],
    pods: [
      {
        name: "pod-2",
        zone_id: "zone-1",
        subnet_ranges: ["10.10.128.0/17"],
        tors: [{ name: "tor-2", subnets: [{ cidr: "10.10.200.0/24", purpose: "default" }] }],
      },
    ],
    nodes: [{ name: "node-2", tor_id: "tor-2" }],
  });

  it("maps snake_case keys, name-only entities and top-level pods", () => {
    const t = parseTopology(legacy, "json");
    expect(t.zones.get("zone-1")?.subnetRanges).toEqual(["10.10.0.0/16"]);
    expect(t.zones.get("zone-1")?.labels).toEqual({ rack_row: "r1" });
    expect(t.subnets.get("10.10.1.0/24")?.blockPrefix).toBe(27);
    expect(t.subnets.get("10.10.2.0/24")?.cooldownSeconds).toBe(5);
    expect(t.pods.get("pod-2")).toMatchObject({ zone: "zone-1", subnetRanges: ["10.10.128.0/17"] });
    expect(nodePath(t, "node-2").text).toBe("zone-1/pod-2/tor-2/node-2");
    expect(subnetsForNode(t, "node-1", { purpose: "storage", family: 4 })).toHaveLength(1);
  });

  it("still validates the converted document, with paths", () => {
    const bad = legacy.replace('"block_prefix":27', '"block_prefix":20');
    expect(thrown(() => parseTopology(bad)).issues).toEqual([
      {
        path: "zones[0].pods[0].tors[0].subnets[0].blockPrefix",
        message: expect.stringContaining("shorter than the subnet"),
      },
    ]);
    const unknownZone = legacy.replace('"zone_id":"zone-1"', '"zone_id":"zone-9"');
    expect(thrown(() => parseTopology(unknownZone)).issues[0]?.path).toBe("pods[0].zone");
    const twice = legacy.replace('"block_prefix":27', '"block_prefix":27,"blockPrefix":26');
    expect(thrown(() => parseTopology(twice)).issues[0]?.message).toContain("duplicates");
  });
});
