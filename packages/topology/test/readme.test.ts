import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { createTopology, parseTopology } from "../src/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

function blocks(lang: string): string[] {
  return [...readme.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map(
    (m) => m[1] as string,
  );
}

describe("README", () => {
  it("the embedding example runs and prints what its comments say", async () => {
    const [code] = blocks("ts");
    expect(code).toBeDefined();
    const dir = join(root, "test-results");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "readme-example.ts");
    const entry = pathToFileURL(join(root, "src/index.ts")).href;
    writeFileSync(file, (code as string).replace('"@ipam/topology"', JSON.stringify(entry)));
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await import(pathToFileURL(file).href);
      const lines = log.mock.calls.map((args) => args.join(" "));
      expect(lines[0]).toBe("zone-a/pod-a1/tor-a1-1/node-new");
      expect(lines[1]).toBe("tor-a1-1-storage-v4 10.99.8.0/24 10.99.8.1 /28");
      expect(lines.at(-1)).toBe("node-new");
    } finally {
      log.mockRestore();
    }
  });

  it("the config format example is a valid topology", () => {
    const [yaml] = blocks("yaml");
    const t = parseTopology(yaml as string, "yaml");
    expect(t.nodes.get("node-a9")?.tor).toBe("tor-a1-1");
    expect(t.subnets.get("tor-a1-1-default-v4")?.reserved).toEqual([
      "10.99.0.2-10.99.0.9",
      "10.99.7.0/28",
    ]);
    expect(createTopology({ zones: [] }).zones.size).toBe(0);
  });
});
