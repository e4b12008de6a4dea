import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const packageRoot = join(import.meta.dirname, "..");
const bufBin = join(packageRoot, "node_modules", ".bin", "buf");
const binPath = `${join(packageRoot, "node_modules", ".bin")}:${process.env.PATH ?? ""}`;

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out;
}

describe("generated code (src/gen)", () => {
  const outDir = mkdtempSync(join(tmpdir(), "ipam-grpc-gen-"));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("is what `pnpm gen` produces from proto/ today (run `pnpm gen` when this fails)", () => {
    execFileSync(bufBin, ["generate", "--output", outDir], {
      cwd: packageRoot,
      env: { ...process.env, PATH: binPath },
      stdio: "pipe",
    });
    execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(packageRoot, "scripts", "gen-lean-codec.ts"),
        join(outDir, "src", "gen", "ipam", "v1", "ipam_pb.ts"),
        join(outDir, "src", "gen", "lean", "ipam_codec.ts"),
        join(outDir, "src", "gen", "ipam", "v1", "cluster_pb.ts"),
        join(outDir, "src", "gen", "lean", "cluster_codec.ts"),
      ],
      { cwd: packageRoot, stdio: "pipe" },
    );
    const fresh = join(outDir, "src", "gen");
    const committed = join(packageRoot, "src", "gen");
    const freshFiles = listFiles(fresh);
    expect(listFiles(committed)).toEqual(freshFiles);
    for (const file of freshFiles) {
      const want = readFileSync(join(fresh, file), "utf8");
      const have = readFileSync(join(committed, file), "utf8");
      expect(have === want, `${file} is stale: run \`pnpm --filter @ipam/grpc-client gen\``).toBe(
        true,
      );
    }
  });

  it("the protos pass `buf lint` with the rules in buf.yaml", () => {
    const result = execFileSync(bufBin, ["lint"], { cwd: packageRoot, stdio: "pipe" });
    expect(result.toString()).toBe("");
  });
});
