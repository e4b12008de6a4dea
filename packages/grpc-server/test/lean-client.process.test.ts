import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const packageRoot = join(import.meta.dirname, "..");

/** The module URLs a fresh `node` loads when it imports `src/<entry>`. */
function modulesLoadedBy(entry: string): string[] {
  const program = `
    await import(${JSON.stringify(join(packageRoot, "src", entry))});
    console.log(JSON.stringify(await globalThis.loadedModules()));
  `;
  const output = execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--import",
      join(packageRoot, "test", "support", "record-imports.mjs"),
      "--input-type=module",
      "-e",
      program,
    ],
    { cwd: packageRoot, encoding: "utf8" },
  );
  return JSON.parse(output.trim().split("\n").at(-1) ?? "[]") as string[];
}

describe("the lean entry's module graph", () => {
  it("does not load @grpc/grpc-js nor the Cluster/Raft generated code", () => {
    const urls = modulesLoadedBy("lean.ts");
    // The recorder works: it saw the lean entry and the Ipam codecs.
    expect(urls.some((url) => url.endsWith("/src/lean.ts"))).toBe(true);
    expect(urls.some((url) => url.endsWith("/gen/ipam/v1/ipam_pb.ts"))).toBe(true);
    expect(urls.filter((url) => url.includes("@grpc"))).toEqual([]);
    expect(urls.filter((url) => /cluster_pb|raft_pb|status_pb/.test(url))).toEqual([]);
  });

  it("(control) the full entry does load @grpc/grpc-js, so the check above can fail", () => {
    const urls = modulesLoadedBy("index.ts");
    expect(urls.some((url) => url.includes("@grpc/grpc-js"))).toBe(true);
  });
});
