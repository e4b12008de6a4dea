import { parse as parseYaml, YAMLParseError } from "yaml";
import { buildFromConfig, checkShape, configSummary } from "./create-topology.js";
import { issuesError } from "./errors.js";
import { fromLegacyDocument } from "./legacy.js";
import type { Topology } from "./model.js";

/** Config text formats; `"auto"` reads JSON when the text starts with `{`, YAML otherwise. */
export type TopologyFormat = "json" | "yaml" | "auto";

function decode(text: string, format: TopologyFormat): unknown {
  const json = format === "json" || (format === "auto" && text.trimStart().startsWith("{"));
  try {
    return json ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const where =
      error instanceof YAMLParseError && error.linePos !== undefined
        ? ` (line ${error.linePos[0].line}, column ${error.linePos[0].col})`
        : "";
    throw issuesError(
      "INVALID_CONFIG",
      `topology config is not valid ${json ? "JSON" : "YAML"}`,
      [{ path: "", message: `${message.split("\n")[0]}${where}` }],
      { cause: error },
    );
  }
}

/**
 * Parses and validates a topology config file's text (JSON or YAML; camelCase, or the original
 * project's snake_case keys). Does no I/O: the caller reads the file.
 * @throws TopologyError `INVALID_CONFIG`; `details.issues` lists every problem with its path
 * (shape problems first; address and tree rules are checked once the shape is right).
 */
export function parseTopology(text: string, format: TopologyFormat = "auto"): Topology {
  const raw = decode(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, format);
  const legacy = fromLegacyDocument(raw ?? {});
  const shape = checkShape(legacy.document);
  if ("issues" in shape || legacy.issues.length > 0) {
    const issues = [...legacy.issues, ...("issues" in shape ? shape.issues : [])];
    throw issuesError("INVALID_CONFIG", configSummary(issues.length), issues);
  }
  const built = buildFromConfig(shape.config);
  if ("issues" in built) {
    throw issuesError("INVALID_CONFIG", configSummary(built.issues.length), built.issues);
  }
  return built.topology;
}
