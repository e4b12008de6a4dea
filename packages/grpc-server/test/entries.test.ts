// What each built entry (dist/, as published) loads: the main entry never @ipam/raft (an
// optional peer dependency that only `@ipam/grpc-server/raft` needs), and no entry a second
// copy of the generated code or the lean client (they come from @ipam/grpc-client).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const dist = join(import.meta.dirname, "..", "dist");

/**
 * The bare specifiers (packages) the ES module `file` loads, following its relative imports
 * (tsup's shared chunks) through dist/, static and dynamic alike.
 */
function packagesLoadedBy(file: string): Set<string> {
  if (!existsSync(file)) throw new Error(`${file} is missing: run pnpm build first`);
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = readFileSync(path, "utf8");
    const specifiers = text.matchAll(
      /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)["']([^"']+)["']/gm,
    );
    for (const [, specifier] of specifiers) {
      if (specifier === undefined) continue;
      if (specifier.startsWith(".")) visit(resolve(dirname(path), specifier));
      else packages.add(specifier);
    }
  };
  visit(file);
  return packages;
}

describe("built entries", () => {
  it("the main entry does not load @ipam/raft", () => {
    const loaded = packagesLoadedBy(join(dist, "index.js"));
    expect(loaded.has("@grpc/grpc-js")).toBe(true); // the walk sees the entry's imports
    expect([...loaded].filter((name) => name.startsWith("@ipam/raft"))).toEqual([]);
  });

  it("(control) the raft entry does load @ipam/raft, so the check above can fail", () => {
    expect(packagesLoadedBy(join(dist, "raft.js")).has("@ipam/raft")).toBe(true);
  });

  it("the messages and the lean client come from @ipam/grpc-client, not a copy", () => {
    for (const entry of ["index.js", "raft.js", "lean.js"]) {
      const loaded = packagesLoadedBy(join(dist, entry));
      expect(
        [...loaded].some((name) => name.startsWith("@ipam/grpc-client")),
        `dist/${entry} imports @ipam/grpc-client`,
      ).toBe(true);
    }
    const lean = readFileSync(join(dist, "lean.cjs"), "utf8");
    expect(lean).toContain('require("@ipam/grpc-client")');
    expect(lean).not.toMatch(/BinaryWriter|HpackDecoder/);
  });
});
