import { readFileSync } from "node:fs";
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { currentSection, DOC, renderRequestLimits } from "../scripts/request-limits-doc.js";
import {
  CLUSTER_REQUEST_LIMITS,
  Cluster,
  IPAM_REQUEST_LIMITS,
  Ipam,
  type MessageLimits,
} from "../src/index.js";

/** The dotted paths of every field of `message`, nested messages included. */
function fieldPaths(message: DescMessage, prefix = ""): string[] {
  return message.fields.flatMap((field) => {
    const path = `${prefix}${field.name}`;
    const inner =
      field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")
        ? field.message
        : undefined;
    return inner === undefined ? [path] : [path, ...fieldPaths(inner, `${path}.`)];
  });
}

/** The dotted paths the limits cover, following nested tables. */
function coveredPaths(limits: MessageLimits, prefix = ""): string[] {
  const rules = limits.rules as unknown as Record<string, { children?: MessageLimits }>;
  return limits.schema.fields.flatMap((field) => {
    const rule = rules[field.localName];
    if (rule === undefined) return [];
    const path = `${prefix}${field.name}`;
    return rule.children === undefined
      ? [path]
      : [path, ...coveredPaths(rule.children, `${path}.`)];
  });
}

describe.each([
  ["ipam.v1.Ipam", Ipam as DescService, IPAM_REQUEST_LIMITS],
  ["ipam.v1.Cluster", Cluster as DescService, CLUSTER_REQUEST_LIMITS],
] as const)("request limits of %s", (_name, service, table) => {
  it("cover every field of every request, nested messages included", () => {
    const limits = table as unknown as Record<string, MessageLimits | undefined>;
    for (const method of service.methods) {
      const methodLimits = limits[method.localName];
      expect(methodLimits, method.name).toBeDefined();
      if (methodLimits === undefined) continue;
      expect(methodLimits.schema.typeName, method.name).toBe(method.input.typeName);
      expect(coveredPaths(methodLimits).sort(), method.name).toEqual(
        fieldPaths(method.input).sort(),
      );
    }
  });
});

describe("docs/grpc.md", () => {
  it("shows the request limits exactly as the tables have them (pnpm gen:limits when not)", () => {
    const section = currentSection(readFileSync(DOC, "utf8"));
    expect(section).toBe(renderRequestLimits());
  });
});
