import { existsSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { createClusterClient } from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { makeCerts } from "./helpers/certs.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  POLL_RPC_MS,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// A daemon that cannot start ends: every failure to start closes what was opened and exits
// non-zero, whatever the role (issue 16 item 4). Role all honours --tls-cert/--tls-key.

afterAll(() => killAll());

const held: Server[] = [];
afterAll(() => Promise.all(held.map((s) => new Promise((r) => s.close(r)))));

/** A TCP port on 127.0.0.1 that this test holds open for the rest of the file. */
function takenPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      held.push(server);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
}

/** Waits (bounded by the test's timeout) for `p` to exit; returns its code and whole stderr. */
async function exitOf(p: IpamdProcess): Promise<{ code: number | null; stderr: string }> {
  const code = await p.exited();
  return { code, stderr: p.log.join("\n") };
}

function baseArgs(dir: string): string[] {
  return [...["--data-dir", dir, "--unix-socket", join(dir, "ipamd.sock"), "--node-id", "s1"]];
}

describe("a start that fails ends the process", () => {
  it("role all: a plaintext --grpc-addr on a non-loopback address is refused naming the flags", async () => {
    const dir = tempDir("ipamd-start-insecure");
    const p = spawnIpamd("insecure", [
      ...baseArgs(dir),
      ...["--grpc-addr", "0.0.0.0:0", "--metrics-addr", "127.0.0.1:0"],
    ]);
    const { code, stderr } = await exitOf(p);
    expect(code, stderr).not.toBe(0);
    expect(stderr).toContain("--tls-cert");
    expect(stderr).toContain("--insecure");
    expect(stderr).not.toContain("tcp.insecure");
    expect(existsSync(join(dir, "ipamd.sock"))).toBe(false);
  }, 60_000);

  it("role all: a taken --grpc-addr port exits 1 and removes the unix socket it had opened", async () => {
    const dir = tempDir("ipamd-start-grpc-taken");
    const port = await takenPort();
    const p = spawnIpamd("grpc-taken", [
      ...baseArgs(dir),
      ...["--grpc-addr", `127.0.0.1:${port}`, "--metrics-addr", "127.0.0.1:0"],
    ]);
    const { code, stderr } = await exitOf(p);
    expect(code, stderr).toBe(1);
    expect(stderr).toContain(`127.0.0.1:${port}`);
    expect(existsSync(join(dir, "ipamd.sock"))).toBe(false);
  }, 60_000);

  it("role all: a taken --metrics-addr port exits 1", async () => {
    const dir = tempDir("ipamd-start-metrics-taken");
    const port = await takenPort();
    const p = spawnIpamd("metrics-taken", [
      ...baseArgs(dir),
      ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", `127.0.0.1:${port}`],
    ]);
    const { code, stderr } = await exitOf(p);
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("EADDRINUSE");
  }, 60_000);

  it("roles all and server: a missing or invalid --topology file exits non-zero naming it", async () => {
    const dir = tempDir("ipamd-start-topology");
    const invalid = join(dir, "bad.yaml");
    writeFileSync(invalid, "zones: 5\n");
    const missing = spawnIpamd("topology-missing", [
      ...baseArgs(dir),
      ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"],
      ...["--topology", join(dir, "nowhere.yaml")],
    ]);
    const server = spawnIpamd("topology-invalid", [
      ...baseArgs(join(dir, "server")),
      ...["--role", "server", "--bootstrap", "--grpc-addr", "127.0.0.1:0"],
      ...["--metrics-addr", "127.0.0.1:0", "--topology", invalid],
    ]);
    const [a, b] = await Promise.all([exitOf(missing), exitOf(server)]);
    expect(a.code, a.stderr).not.toBe(0);
    expect(a.stderr).toContain("--topology");
    expect(a.stderr).toContain("nowhere.yaml");
    expect(b.code, b.stderr).not.toBe(0);
    expect(b.stderr).toContain("--topology");
    expect(b.stderr).toContain("bad.yaml");
  }, 60_000);

  it("role server: a taken --metrics-addr port exits 1", async () => {
    const dir = tempDir("ipamd-start-server-metrics");
    const port = await takenPort();
    const p = spawnIpamd("server-metrics-taken", [
      ...baseArgs(dir),
      ...["--role", "server", "--bootstrap", "--grpc-addr", "127.0.0.1:0"],
      ...["--metrics-addr", `127.0.0.1:${port}`],
    ]);
    const { code, stderr } = await exitOf(p);
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("EADDRINUSE");
  }, 60_000);
});

describe("role all with --tls-cert/--tls-key", () => {
  it("serves its TCP listener over TLS (mutual with --tls-ca) and refuses cleartext clients", async () => {
    const dir = tempDir("ipamd-all-tls");
    const certs = makeCerts(dir);
    const port = await freePort();
    const p = spawnIpamd("all-tls", [
      ...baseArgs(dir),
      ...["--grpc-addr", `127.0.0.1:${port}`, "--metrics-addr", "127.0.0.1:0"],
      ...["--tls-cert", certs.certFile, "--tls-key", certs.keyFile, "--tls-ca", certs.caFile],
    ]);
    const secure = createClusterClient({
      addresses: [`127.0.0.1:${port}`],
      tls: { ca: certs.ca, cert: certs.cert, key: certs.key },
      deadlineMs: POLL_RPC_MS,
      maxAttempts: 1,
    });
    try {
      const status = await waitFor("a TLS answer", () => secure.getStatus({}), {
        timeoutMs: 60_000,
      }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf([p])}`);
      });
      expect(status.leaderId).toBe("s1");
      const plain = createClusterClient({
        addresses: [`127.0.0.1:${port}`],
        deadlineMs: 2000,
        maxAttempts: 1,
      });
      await expect(plain.getStatus({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
      plain.close();
    } finally {
      secure.close();
    }
  }, 90_000);
});
