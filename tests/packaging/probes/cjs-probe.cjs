// Runs inside the consumer project (copied there by src/probes.ts), started with plain `node`
// and no flags: require()s each entry listed in probe-input.json as a CommonJS consumer would
// and prints one JSON object, specifier → { resolved, keys, sameAsImport | json | exists } or
// { error }. `sameAsImport`: every export require() gave is the very value import() gives
// (one module instance, so `instanceof` and module state agree). Never throws.
const { existsSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main() {
  const entries = JSON.parse(readFileSync(join(__dirname, "probe-input.json"), "utf8"));
  const results = {};
  for (const { specifier, kind } of entries) {
    const result = {};
    try {
      result.resolved = require.resolve(specifier);
      if (kind === "file") {
        result.exists = existsSync(result.resolved);
      } else if (kind === "json") {
        result.json = JSON.stringify(require(specifier));
      } else {
        const required = require(specifier);
        result.keys = Object.keys(required).sort();
        const imported = await import(specifier);
        result.sameAsImport =
          Object.keys(imported).length === result.keys.length &&
          result.keys.every((key) => required[key] === imported[key]);
      }
    } catch (error) {
      result.error = `${error?.code ?? error?.name}: ${error?.message}`;
    }
    results[specifier] = result;
  }
  process.stdout.write(JSON.stringify(results));
}

main();
