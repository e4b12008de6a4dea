// Renderers shared by scripts/generate.ts and the staleness tests.
import { topologyJsonSchema } from "../src/config-schema.js";

export function renderJsonSchema(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}

export function renderExampleModule(yaml: string): string {
  return [
    "// Generated from examples/example-topology.yaml by scripts/generate.ts; do not edit.",
    "",
    "/** The example topology as YAML text (ipamd's embedded default). */",
    "export const exampleTopologyYaml: string =",
    `  ${JSON.stringify(yaml)};`,
    "",
  ].join("\n");
}
