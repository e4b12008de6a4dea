import { describe, expect, it } from "vitest";
import type { TopologyConfig } from "./config-schema.js";
import { createTopology, validateTopologyConfig } from "./create-topology.js";
import { TopologyError, type TopologyIssue } from "./errors.js";

function issuesOf(config: unknown): readonly TopologyIssue[] {
  return validateTopologyConfig(config);
}

const tor = (id: string, subnets: TopologyConfig["zones"] = []) => ({ id, subnets });

describe("createTopology", () => {
  it("builds the entities with defaults and parents", () => {
    const t = createTopology({
      zones: [
        {
          id: "z1",
          labels: { region: "eu" },
          pods: [{ id: "p1", tors: [{ id: "t1", location: "rack 4", nodes: [{ id: "n1" }] }] }],
        },
      ],
      nodes: [{ id: "n2", tor: "t1", labels: { gpu: "yes" } }],
    });
    expect(t.zones.get("z1")).toEqual({
      id: "z1",
      name: "z1",
      labels: { region: "eu" },
      subnetRanges: [],
    });
    expect(t.pods.get("p1")?.zone).toBe("z1");
    expect(t.tors.get("t1")).toEqual({
      id: "t1",
      name: "t1",
      pod: "p1",
      location: "rack 4",
      labels: {},
    });
    expect([...t.nodes.values()].map((n) => [n.id, n.tor])).toEqual([
      ["n1", "t1"],
      ["n2", "t1"],
    ]);
    expect(t.nodes.get("n2")?.labels).toEqual({ gpu: "yes" });
  });

  it("accepts an empty document", () => {
    expect(createTopology({ zones: [] }).zones.size).toBe(0);
    expect(issuesOf({})).toEqual([]);
  });

  it("throws INVALID_CONFIG listing every problem with its path", () => {
    let caught: unknown;
    try {
      createTopology({
        zones: [
          {
            id: "z1",
            pods: [
              {
                id: "p1",
                tors: [
                  {
                    id: "t1",
                    subnets: [
                      { cidr: "10.0.0.0/33" },
                      { cidr: "10.0.0.1/24" },
                      { cidr: "10.1.0.0/24", gateway: "10.2.0.1" },
                    ],
                  },
                ],
              },
            ],
          },
          { id: "z1" },
        ],
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TopologyError);
    const error = caught as TopologyError;
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.issues.map((i) => i.path)).toEqual([
      "zones[0].pods[0].tors[0].subnets[0].cidr",
      "zones[0].pods[0].tors[0].subnets[1].cidr",
      "zones[0].pods[0].tors[0].subnets[2].gateway",
      "zones[1].id",
    ]);
    for (const issue of error.issues) expect(error.message).toContain(issue.path);
    expect(error.message).toContain(
      "zones[0].pods[0].tors[0].subnets[0].cidr: 10.0.0.0/33 is not a valid CIDR",
    );
  });
});

describe("shape errors", () => {
  it("names unknown keys, wrong types and missing fields", () => {
    const issues = issuesOf({
      zones: [{ id: "z1", podz: [] }, { id: 7 }, { id: "z3", pods: [{ id: "p", tors: "x" }] }],
    });
    expect(issues.map((i) => i.path)).toEqual(["zones[0]", "zones[1].id", "zones[2].pods[0].tors"]);
    expect(issues[0]?.message).toContain("podz");
  });

  it("requires a subnet's cidr and rejects a non-object document", () => {
    expect(issuesOf({ zones: [{ id: "z", subnets: [{ purpose: "x" }] }] })[0]?.path).toBe(
      "zones[0].subnets[0].cidr",
    );
    expect(issuesOf("zones: []")).toHaveLength(1);
  });
});

describe("tree rules", () => {
  it("rejects duplicate ids of every kind, naming both places", () => {
    const issues = issuesOf({
      zones: [
        {
          id: "z",
          pods: [
            {
              id: "p",
              tors: [
                { id: "t", nodes: [{ id: "n" }], subnets: [{ id: "s", cidr: "10.0.0.0/24" }] },
                { id: "t", nodes: [{ id: "n" }], subnets: [{ id: "s", cidr: "10.0.1.0/24" }] },
              ],
            },
            { id: "p" },
          ],
        },
        { id: "z" },
      ],
    });
    expect(issues.map((i) => i.path)).toEqual([
      "zones[0].pods[0].tors[1].id",
      "zones[0].pods[0].tors[1].subnets[0].id",
      "zones[0].pods[0].tors[1].nodes[0].id",
      "zones[0].pods[1].id",
      "zones[1].id",
    ]);
    expect(issues[0]?.message).toBe('duplicate TOR id "t" (also at zones[0].pods[0].tors[0].id)');
  });

  it("rejects a node listed outside its TOR that names an unknown TOR", () => {
    const issues = issuesOf({
      zones: [{ id: "z", pods: [{ id: "p", tors: [{ id: "t" }] }] }],
      nodes: [
        { id: "n1", tor: "t" },
        { id: "n2", tor: "nope" },
      ],
    });
    expect(issues).toEqual([{ path: "nodes[1].tor", message: 'unknown TOR "nope"' }]);
  });

  it("takes the name as id when id is omitted, and validates it", () => {
    const t = createTopology({ zones: [{ name: "zone-1", pods: [{ name: "pod-1" }] }] });
    expect(t.pods.get("pod-1")).toMatchObject({ id: "pod-1", name: "pod-1", zone: "zone-1" });
    expect(issuesOf({ zones: [{ name: "zone-1", pods: [{ name: "pod 1" }] }] })).toEqual([
      {
        path: "zones[0].pods[0].name",
        message: expect.stringContaining('"pod 1" is not a valid pod id'),
      },
    ]);
    expect(issuesOf({ zones: [{ labels: {} }] })).toEqual([
      { path: "zones[0].id", message: "zone id is required" },
    ]);
  });

  it("requires every subnet inside its pod's and zone's subnetRanges, per family", () => {
    const issues = issuesOf({
      zones: [
        {
          id: "z",
          subnetRanges: ["10.0.0.0/16"],
          subnets: [{ cidr: "10.1.0.0/24" }, { cidr: "fd00::/64" }],
          pods: [
            {
              id: "p",
              subnetRanges: ["10.0.0.0/20", "10.5.0.0/24", "fd00:1::/48"],
              subnets: [{ cidr: "10.0.64.0/24" }],
              tors: [
                tor("t", [
                  { cidr: "10.0.32.0/24" },
                  { cidr: "fd00:2::/64" },
                  { cidr: "10.0.1.0/24" },
                  { cidr: "fd00:1::/64" },
                ] as never),
              ],
            },
          ],
        },
      ],
    });
    expect(issues.map((i) => i.path)).toEqual([
      "zones[0].subnets[0].cidr",
      "zones[0].pods[0].subnetRanges[1]",
      "zones[0].pods[0].subnets[0].cidr",
      "zones[0].pods[0].tors[0].subnets[0].cidr",
      "zones[0].pods[0].tors[0].subnets[1].cidr",
    ]);
    expect(issues[0]?.message).toBe(
      '10.1.0.0/24 is outside the subnetRanges of zone "z" (10.0.0.0/16)',
    );
    expect(issues[3]?.message).toContain('pod "p"');
  });

  it("rejects subnets that overlap anywhere in the tree, at every level", () => {
    const issues = issuesOf({
      zones: [
        {
          id: "z1",
          subnets: [{ cidr: "10.0.0.0/16" }],
          pods: [{ id: "p1", tors: [tor("t1", [{ cidr: "10.0.5.0/24" }] as never)] }],
        },
        {
          id: "z2",
          pods: [
            {
              id: "p2",
              subnets: [{ cidr: "fd00::/48" }],
              tors: [
                tor("t2", [
                  { cidr: "10.1.0.0/24" },
                  { cidr: "fd00:0:0:7::/64" },
                  { cidr: "10.2.0.0/24" },
                ] as never),
                tor("t3", [{ cidr: "10.1.0.128/25" }, { cidr: "10.2.0.0/24", id: "x" }] as never),
              ],
            },
          ],
        },
      ],
    });
    expect(issues.map((i) => i.path).sort()).toEqual([
      "zones[0].pods[0].tors[0].subnets[0].cidr",
      "zones[1].pods[0].tors[0].subnets[1].cidr",
      "zones[1].pods[0].tors[1].subnets[0].cidr",
      "zones[1].pods[0].tors[1].subnets[1].cidr",
    ]);
    const byPath = new Map(issues.map((i) => [i.path, i.message]));
    expect(byPath.get("zones[0].pods[0].tors[0].subnets[0].cidr")).toBe(
      "10.0.5.0/24 overlaps 10.0.0.0/16 at zones[0].subnets[0]",
    );
  });

  it("reports a duplicate CIDR once as a duplicate id and once as an overlap", () => {
    const issues = issuesOf({
      zones: [{ id: "z", subnets: [{ cidr: "10.0.0.0/24" }, { cidr: "10.0.0.0/24" }] }],
    });
    expect(issues.map((i) => i.message)).toEqual([
      'duplicate subnet id "10.0.0.0/24" (also at zones[0].subnets[0].cidr)',
      "10.0.0.0/24 overlaps 10.0.0.0/24 at zones[0].subnets[0]",
    ]);
  });

  it("accepts adjacent subnets and the same range in both families", () => {
    expect(
      issuesOf({
        zones: [
          {
            id: "z",
            subnets: [
              { cidr: "10.0.0.0/25" },
              { cidr: "10.0.0.128/25" },
              { cidr: "::/96" },
              { cidr: "0.0.0.0/8" },
            ],
          },
        ],
      }),
    ).toEqual([]);
  });
});
