import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cidr } from "@ipam/bitmap";
import { describe, expect, it } from "vitest";
import { renderExampleModule, renderJsonSchema } from "../scripts/render.js";
import {
  exampleTopology,
  exampleTopologyYaml,
  hostPrefix,
  nodesUnder,
  subnetsAt,
} from "../src/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");

describe("generated files", () => {
  it("the committed JSON Schema matches the zod schema (run `pnpm generate` when it does not)", () => {
    expect(read("topology.schema.json")).toBe(renderJsonSchema());
  });

  it("the embedded example matches examples/example-topology.yaml", () => {
    const yaml = read("examples/example-topology.yaml");
    expect(read("src/example-yaml.ts")).toBe(renderExampleModule(yaml));
    expect(exampleTopologyYaml).toBe(yaml);
  });

  it("the package ships the schema and the example", () => {
    const pkg = JSON.parse(read("package.json")) as {
      exports: Record<string, unknown>;
      files: string[];
    };
    expect(pkg.exports["./schema.json"]).toBe("./topology.schema.json");
    expect(pkg.files).toEqual(expect.arrayContaining(["topology.schema.json", "examples"]));
  });
});

describe("the example topology", () => {
  const t = exampleTopology();
  const lab = [Cidr.parse("10.99.0.0/16"), Cidr.parse("fd99::/48")];

  it("keeps every address inside 10.99.0.0/16 and fd99::/48", () => {
    const all = [
      ...[...t.subnets.values()].map((s) => s.cidr),
      ...[...t.zones.values()].flatMap((z) => z.subnetRanges),
      ...[...t.pods.values()].flatMap((p) => p.subnetRanges),
    ];
    expect(all.length).toBeGreaterThan(50);
    for (const text of all) {
      expect(
        lab.some((r) => r.contains(Cidr.parse(text))),
        text,
      ).toBe(true);
    }
  });

  it("has two zones of two pods of two TORs, each TOR with three purposes in both families", () => {
    expect([...t.zones.keys()]).toEqual(["zone-a", "zone-b"]);
    for (const zone of t.zones.values()) {
      const pods = [...t.pods.values()].filter((p) => p.zone === zone.id);
      expect(pods).toHaveLength(2);
      for (const pod of pods) {
        const tors = [...t.tors.values()].filter((x) => x.pod === pod.id);
        expect(tors).toHaveLength(2);
        for (const tor of tors) {
          const subnets = subnetsAt(t, { kind: "tor", id: tor.id });
          const kinds = subnets.map((s) => `${s.purpose}/${s.family}`).sort();
          expect(kinds).toEqual([
            "default/4",
            "default/6",
            "management/4",
            "management/6",
            "storage/4",
            "storage/6",
          ]);
          for (const s of subnets.filter((x) => x.purpose === "management")) {
            expect(s.blockPrefix).toBe(hostPrefix(s.family));
          }
          expect(nodesUnder(t, { kind: "tor", id: tor.id }).length).toBeGreaterThanOrEqual(2);
        }
      }
    }
  });
});
