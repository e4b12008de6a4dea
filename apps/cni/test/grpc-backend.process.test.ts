// The built `ipamd-cni` executable (dist/main.cjs) in its own process against a real Ipam
// server on a unix socket.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createIpamServer, type GrpcServer } from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestIpamHandlers } from "./test-ipam-handlers.js";

const MAIN = fileURLToPath(new URL("../dist/main.cjs", import.meta.url));
const PLUGIN = fileURLToPath(new URL("../dist/plugin.cjs", import.meta.url));
let dir: string;
let socketPath: string;
let server: GrpcServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ipamd-cni-exe-"));
  socketPath = join(dir, "ipamd.sock");
  server = await createIpamServer({
    unixSocket: { path: socketPath },
    handlers: createTestIpamHandlers(3),
    reflection: false,
  });
});

afterAll(async () => {
  await server.shutdown(1000);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the executable for `command` on `container`; its exit code and stdout. */
function exe(
  command: string,
  container: string,
  config: string,
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN],
      {
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: container,
          CNI_NETNS: "/proc/1/ns/net",
          CNI_IFNAME: "eth0",
        },
      },
      (error, stdout) => resolve({ code: error === null ? 0 : Number(error.code), stdout }),
    );
    child.stdin?.end(config);
  });
}

describe("the ipamd-cni executable against a real Ipam server", () => {
  it("the executable answers ADD and imports only node built-ins", async () => {
    // The launcher and the plugin bundle it runs.
    const source = [MAIN, PLUGIN].map((file) => readFileSync(file, "utf8")).join("\n");
    const specifiers = [
      // Keywords only, not the same words inside strings (HPACK's static table has "from").
      ...source.matchAll(
        /(?:^|[\s;(=,])(?:from\s*|import\s*\(?\s*|require\s*\(\s*)["']([^"']+)["']/gm,
      ),
    ].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const specifier of specifiers)
      expect(builtinModules).toContain(specifier?.replace(/^node:/, ""));
    expect(source).not.toContain("@grpc/grpc-js");
    const config = JSON.stringify({
      cniVersion: "1.0.0",
      name: "exe",
      ipam: { type: "ipamd-cni", socketPath },
    });
    const added = await exe("ADD", "exe1", config);
    expect(added.code, added.stdout).toBe(0);
    expect(JSON.parse(added.stdout).ips[0].address).toMatch(/^10\.99\.0\.\d+\/24$/);
    expect((await exe("DEL", "exe1", config)).code).toBe(0);
  });
});
