// Runs inside the consumer project (copied there by src/probes.ts): imports each entry listed in
// probe-input.json as an ES module consumer would and prints what it got as one JSON object,
// specifier → { resolved, keys | json | exists } or { error }. Never throws: a failed entry is
// reported, the others still run.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entries = JSON.parse(readFileSync(new URL("./probe-input.json", import.meta.url), "utf8"));
const results = {};
for (const { specifier, kind } of entries) {
  const result = {};
  try {
    result.resolved = fileURLToPath(import.meta.resolve(specifier));
    if (kind === "file") {
      result.exists = existsSync(result.resolved);
    } else if (kind === "json") {
      const json = await import(specifier, { with: { type: "json" } });
      result.json = JSON.stringify(json.default);
    } else {
      result.keys = Object.keys(await import(specifier)).sort();
    }
  } catch (error) {
    result.error = `${error?.code ?? error?.name}: ${error?.message}`;
  }
  results[specifier] = result;
}
process.stdout.write(JSON.stringify(results));
