// The plugin built as a single executable (dist/ipamd-cni-<platform>-<arch>), run as a host without
// Node.js would run it: no node on PATH, an empty environment but the CNI variables.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createIpamServer, type GrpcServer } from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestIpamHandlers } from "./test-ipam-handlers.js";

const SEA = fileURLToPath(
  new URL(`../dist/ipamd-cni-${process.platform}-${process.arch}`, import.meta.url),
);
let dir: string;
let socketPath: string;
let server: GrpcServer;

beforeAll(async () => {
  if (!existsSync(SEA)) throw new Error(`${SEA} missing: run pnpm --filter @ipam/cni build`);
  dir = mkdtempSync(join(tmpdir(), "ipamd-cni-sea-"));
  socketPath = join(dir, "ipamd.sock");
  server = await createIpamServer({
    unixSocket: { path: socketPath },
    handlers: createTestIpamHandlers(50),
    reflection: false,
  });
});

afterAll(async () => {
  await server?.shutdown(1000);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** One CNI call, asynchronously: the stand-in server answers from this process's event loop. */
function run(
  command: string,
  containerId: string,
  config: object,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      SEA,
      [],
      {
        env: {
          PATH: "/nonexistent",
          CNI_COMMAND: command,
          CNI_CONTAINERID: containerId,
          CNI_NETNS: "/proc/1/ns/net",
          CNI_IFNAME: "eth0",
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code), out: stdout, err: stderr }),
    );
    child.stdin?.end(JSON.stringify(config));
  });
}

const conf = () => ({ cniVersion: "1.0.0", name: "sea", ipam: { type: "ipamd-cni", socketPath } });

describe.skipIf(process.platform !== "linux")("the single-executable plugin", () => {
  it("answers VERSION with nothing on stderr (no experimental-feature warning)", async () => {
    const version = await run("VERSION", "", { cniVersion: "1.1.0" });
    expect(version.code).toBe(0);
    expect(JSON.parse(version.out).supportedVersions).toEqual([
      "0.3.0",
      "0.3.1",
      "0.4.0",
      "1.0.0",
      "1.1.0",
    ]);
    expect(version.err).toBe("");
  });

  it("allocates on ADD, releases on DEL, and reports errors in the CNI shape", async () => {
    const add = await run("ADD", "sea-1", conf());
    expect(add.code, add.out).toBe(0);
    expect(JSON.parse(add.out).ips[0].address).toMatch(/^10\.99\.0\.\d+\/24$/);
    const again = await run("ADD", "sea-1", conf());
    expect(JSON.parse(again.out).ips).toEqual(JSON.parse(add.out).ips);
    expect((await run("DEL", "sea-1", conf())).code).toBe(0);
    const check = await run("CHECK", "sea-1", { ...conf(), prevResult: JSON.parse(add.out) });
    expect(check.code).toBe(3);
    const bad = await run("ADD", "sea-2", { ...conf(), ipam: { type: "ipamd-cni", famlies: [] } });
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out)).toMatchObject({ code: 2, msg: expect.stringMatching(/famlies/) });
  });
});
