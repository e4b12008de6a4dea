// In a real short-lived process, one call of the lean client over the unix socket: it loads
// neither node:net nor node:stream, exits by itself, and falls back to node:net without a
// deprecation warning when the process asks to hear about pending deprecations.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { createIpamServer } from "../src/index.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { tempFolder } from "./support/temp.js";

const packageRoot = join(import.meta.dirname, "..");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The in-memory node API on a fresh unix socket, stopped at cleanup; the socket's path. */
async function serveInMemoryIpam(): Promise<string> {
  const dir = tempFolder("ipg-us-");
  cleanups.push(dir.cleanup);
  const socket = join(dir.path, "s.sock");
  const server = await createIpamServer({
    unixSocket: { path: socket },
    handlers: createInMemoryIpam().handlers,
  });
  cleanups.push(() => server.shutdown(100));
  return socket;
}

const run = promisify(execFile);

describe("one Allocate from a short-lived process (@ipam/grpc-client's dist/index.cjs)", () => {
  const lean = createRequire(join(packageRoot, "package.json")).resolve("@ipam/grpc-client");

  /** Runs one Allocate in a fresh `node` with `flags`; what it loaded and wrote. */
  async function allocateInChild(flags: string[]): Promise<{
    modules: string[];
    address: string;
    stderr: string;
  }> {
    if (!existsSync(lean)) throw new Error(`${lean} is missing: run pnpm build first`);
    const socket = await serveInMemoryIpam();
    // No close() and no exit(): the process must end by itself once the call is answered.
    const program = `
      const { createLeanIpamClient } = require(${JSON.stringify(lean)});
      createLeanIpamClient({ socketPath: ${JSON.stringify(socket)} })
        .allocate({ network: "pods", containerId: "c1", ifname: "eth0" })
        .then((r) => console.log(JSON.stringify({
          address: r.addresses[0].address,
          modules: process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")),
        })));
    `;
    const { stdout, stderr } = await run(process.execPath, [...flags, "-e", program], {
      env: { PATH: process.env.PATH },
      timeout: 120_000,
    });
    const parsed = JSON.parse(stdout) as { address: string; modules: string[] };
    return { ...parsed, stderr };
  }

  it("loads neither node:net nor node:stream, and exits on its own", async () => {
    const { modules, address, stderr } = await allocateInChild([]);
    expect(address).toBe("10.99.0.2");
    expect(modules).not.toContain("NativeModule net");
    expect(modules).not.toContain("NativeModule stream");
    expect(stderr).toBe("");
  });

  it("uses node:net, and prints no deprecation warning, under --pending-deprecation", async () => {
    const { modules, address, stderr } = await allocateInChild(["--pending-deprecation"]);
    expect(address).toBe("10.99.0.2");
    expect(modules).toContain("NativeModule net");
    expect(stderr).not.toMatch(/DEP0111|DeprecationWarning/);
  });
});
