import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleTopology, exampleTopologyYaml, toCanonicalConfig } from "../src/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const schema = JSON.parse(readFileSync(join(root, "topology.schema.json"), "utf8")) as object;
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

describe("the shipped JSON Schema (what editors check)", () => {
  it("accepts the example topology and the canonical form", () => {
    expect(validate(parse(exampleTopologyYaml)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(toCanonicalConfig(exampleTopology()))).toBe(true);
  });

  it("rejects misspelt keys, wrong types and a missing cidr", () => {
    expect(validate({ zones: [{ id: "z", podz: [] }] })).toBe(false);
    expect(
      validate({ zones: [{ id: "z", subnets: [{ cidr: "10.0.0.0/24", priority: "high" }] }] }),
    ).toBe(false);
    expect(validate({ zones: [{ id: "z", subnets: [{ purpose: "storage" }] }] })).toBe(false);
    expect(validate({ zones: [{ id: "bad id" }] })).toBe(false);
  });
});
