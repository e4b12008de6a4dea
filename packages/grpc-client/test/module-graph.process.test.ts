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

describe("the main entry's module graph", () => {
  it("does not load @grpc/grpc-js, @ipam/raft nor the Cluster/Raft generated code", () => {
    const urls = modulesLoadedBy("index.ts");
    // The recorder works: it saw the entry and the Ipam codecs.
    expect(urls.some((url) => url.endsWith("/src/index.ts"))).toBe(true);
    expect(urls.some((url) => url.endsWith("/gen/ipam/v1/ipam_pb.ts"))).toBe(true);
    expect(urls.filter((url) => url.includes("@grpc") || url.includes("/raft/dist/"))).toEqual([]);
    expect(urls.filter((url) => /cluster_pb|raft_pb|status_pb/.test(url))).toEqual([]);
  });

  it("(control) the messages entry does load the Cluster and Raft code, so the check above can fail", () => {
    const urls = modulesLoadedBy("messages.ts");
    expect(urls.some((url) => url.endsWith("/gen/ipam/v1/cluster_pb.ts"))).toBe(true);
    expect(urls.some((url) => url.endsWith("/gen/ipam/raft/v1/raft_pb.ts"))).toBe(true);
  });
});
