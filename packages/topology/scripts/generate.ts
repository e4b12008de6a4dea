// Regenerates the committed derived files: topology.schema.json (from the zod schema) and
// src/example-yaml.ts (from examples/example-topology.yaml). Run: pnpm --filter @ipam/topology generate
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderExampleModule, renderJsonSchema } from "./render.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const yaml = readFileSync(join(root, "examples/example-topology.yaml"), "utf8");
writeFileSync(join(root, "src/example-yaml.ts"), renderExampleModule(yaml));
writeFileSync(join(root, "topology.schema.json"), renderJsonSchema());
console.log("wrote src/example-yaml.ts and topology.schema.json");
