// Renders the request limits (src/request-limits.ts) as the Markdown tables of docs/grpc.md.
// `pnpm --filter @ipam/grpc-server gen:limits` rewrites the part of docs/grpc.md between the
// markers; test/request-limits.test.ts fails when that part differs from the tables.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { Cluster, Ipam } from "@ipam/grpc-client/messages";
import type { MessageLimits } from "../src/field-rules.js";
import { CLUSTER_REQUEST_LIMITS, IPAM_REQUEST_LIMITS } from "../src/request-limits.js";

export const BEGIN =
  "<!-- request-limits:begin (generated: pnpm --filter @ipam/grpc-server gen:limits) -->";
export const END = "<!-- request-limits:end -->";
export const DOC = fileURLToPath(new URL("../../../docs/grpc.md", import.meta.url));

function rows(limits: MessageLimits, prefix: string): string[] {
  const rules = limits.rules as unknown as Readonly<
    Record<string, { limit: string; children?: MessageLimits }>
  >;
  const out: string[] = [];
  for (const field of limits.schema.fields) {
    const rule = rules[field.localName];
    if (rule === undefined) continue;
    const name = `${prefix}${field.name}${field.fieldKind === "list" ? "[]" : ""}`;
    out.push(`| \`${name}\` | ${rule.limit.replaceAll("|", "\\|")} |`);
    if (rule.children !== undefined) out.push(...rows(rule.children, `${name}.`));
  }
  return out;
}

function serviceTables(
  service: DescService,
  table: Readonly<Record<string, MessageLimits>>,
): string[] {
  const out = [`#### ${service.typeName}`, ""];
  for (const method of service.methods) {
    const limits = table[method.localName];
    if (limits === undefined) throw new Error(`no limits for ${service.typeName}.${method.name}`);
    const fields = rows(limits, "");
    out.push(`**${method.name}** (\`${limits.schema.typeName}\`)`, "");
    if (fields.length === 0) {
      out.push("No fields.", "");
      continue;
    }
    out.push("| field | limit |", "|---|---|", ...fields, "");
  }
  return out;
}

/** The generated section, markers included. */
export function renderRequestLimits(): string {
  return [
    BEGIN,
    "",
    ...serviceTables(Ipam, IPAM_REQUEST_LIMITS as unknown as Record<string, MessageLimits>),
    ...serviceTables(Cluster, CLUSTER_REQUEST_LIMITS as unknown as Record<string, MessageLimits>),
    END,
  ].join("\n");
}

/** The section of `doc` between the markers (markers included), or undefined. */
export function currentSection(doc: string): string | undefined {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start === -1 || end === -1 || end < start) return undefined;
  return doc.slice(start, end + END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const doc = readFileSync(DOC, "utf8");
  const section = currentSection(doc);
  if (section === undefined) {
    process.stderr.write(`${DOC}: markers not found (${BEGIN} ... ${END})\n`);
    process.exit(1);
  }
  writeFileSync(DOC, doc.replace(section, renderRequestLimits()));
  process.stdout.write(`wrote the request limits into ${DOC}\n`);
}
