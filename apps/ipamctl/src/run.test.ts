import type { createClusterClient, createIpamClient } from "@ipam/grpc-server";
import { describe, expect, it } from "vitest";
import { EXIT } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { runIpamctl } from "./run.js";

function capture(env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    stdoutIsTTY: false,
  };
  return { io, out: () => stdout, err: () => stderr };
}

// Dialling is never reached by these cases: a factory that would dial fails the test.
const noDial = {
  createClusterClient: ((): never => {
    throw new Error("dialled the cluster");
  }) as unknown as typeof createClusterClient,
  createIpamClient: ((): never => {
    throw new Error("dialled an agent");
  }) as unknown as typeof createIpamClient,
};

describe("ipamctl usage errors", () => {
  it("exits 2 naming an unknown flag, and dials nothing", async () => {
    const c = capture();
    expect(await runIpamctl(["members", "--bogus"], c.io, noDial)).toBe(EXIT.USAGE);
    expect(c.err()).toContain("--bogus");
  });

  it("exits 2 naming an unknown command", async () => {
    const c = capture();
    expect(await runIpamctl(["membres"], c.io, noDial)).toBe(EXIT.USAGE);
    expect(c.err()).toContain("membres");
  });

  it("exits 2 naming --server when an address is not HOST:PORT, and dials nothing", async () => {
    const c = capture();
    expect(await runIpamctl(["members", "--server", "10.0.0.1"], c.io, noDial)).toBe(EXIT.USAGE);
    expect(c.err()).toContain('--server: "10.0.0.1" is not HOST:PORT');
  });

  it("reads IPAMD_SERVERS like ipamd, and a flag wins over it", async () => {
    const c = capture({ IPAMD_SERVERS: "bad" });
    expect(await runIpamctl(["members"], c.io, noDial)).toBe(EXIT.USAGE);
    expect(c.err()).toContain('"bad"');
  });

  it("exits 2 naming --tls-ca when its file cannot be read", async () => {
    const c = capture();
    const code = await runIpamctl(["members", "--tls-ca", "/nonexistent/ca.pem"], c.io, noDial);
    expect(code).toBe(EXIT.USAGE);
    expect(c.err()).toContain("--tls-ca: cannot read /nonexistent/ca.pem");
  });

  it("prints help with exit 0", async () => {
    const c = capture();
    expect(await runIpamctl(["--help"], c.io, noDial)).toBe(EXIT.OK);
    expect(c.out()).toContain("members");
  });
});
