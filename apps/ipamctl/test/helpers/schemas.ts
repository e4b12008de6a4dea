// The JSON Schemas of ipamctl's --json documents (docs/ipamctl/schemas), compiled with ajv.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

const SCHEMAS = fileURLToPath(new URL("../../../../docs/ipamctl/schemas/", import.meta.url));

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

let compiled: Map<string, ValidateFunction> | undefined;

/** Every schema by the `kind` it describes (file `<Kind>.schema.json`). */
export function schemasByKind(): Map<string, ValidateFunction> {
  if (compiled !== undefined) return compiled;
  const ajv = addFormats(new Ajv({ strict: true, allErrors: true }));
  compiled = new Map();
  for (const file of readdirSync(SCHEMAS).filter((f) => f.endsWith(".schema.json"))) {
    const schema = JSON.parse(readFileSync(`${SCHEMAS}${file}`, "utf8")) as object;
    compiled.set(file.replace(".schema.json", ""), ajv.compile(schema));
  }
  return compiled;
}

/**
 * The schema errors of a --json document (by its `kind`), as text; empty when it is valid.
 * A document whose kind has no schema is an error too.
 */
export function schemaErrors(doc: Record<string, unknown>): string {
  const validate = schemasByKind().get(String(doc.kind));
  if (validate === undefined) return `no schema for kind ${String(doc.kind)}`;
  if (validate(doc)) return "";
  return JSON.stringify(validate.errors, null, 2);
}
