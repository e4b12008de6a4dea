import { statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createIpamClient } from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import {
  freePort,
  killAll,
  logsOf,
  runIpamdCommand,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// What the daemon says at start and to a person who got something wrong (issue 16 items 7-8,
// issue 23 item 5): readiness only once every listener accepts, private files, and errors that
// name the flag or setting and the fix.

afterAll(() => killAll());

/** Resolves true when something accepts a connection on `target` (a unix path or a port). */
function accepts(target: string | number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket =
      typeof target === "number" ? connect(target, "127.0.0.1") : connect({ path: target });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("role all at start", () => {
  it("says ready on /readyz only once the unix socket and the TCP listener accept", async () => {
    const dir = tempDir("ipamd-readiness");
    const socket = join(dir, "ipamd.sock");
    const [metricsPort, grpcPort] = [await freePort(), await freePort()];
    const p = spawnIpamd("ready", [
      ...["--data-dir", join(dir, "data"), "--unix-socket", socket, "--node-id", "r1"],
      ...["--grpc-addr", `127.0.0.1:${grpcPort}`, "--metrics-addr", `127.0.0.1:${metricsPort}`],
    ]);
    // The first 200 of /readyz, polled as fast as it answers; at that moment both listeners
    // must already accept.
    await waitFor(
      "/readyz 200",
      async () => {
        const r = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
        return r.status === 200 ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 5 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([p])}`);
    });
    const [unixAccepts, tcpAccepts] = await Promise.all([accepts(socket), accepts(grpcPort)]);
    expect({ unixAccepts, tcpAccepts }).toEqual({ unixAccepts: true, tcpAccepts: true });

    // The data folder it created is 0700, the store's files (WAL and shared memory too) 0600.
    const client = createIpamClient({ addresses: [`unix:${socket}`] });
    await client.allocate({ network: "n", containerId: "c1", ifname: "eth0" });
    client.close();
    const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
    expect(mode(join(dir, "data"))).toBe("700");
    for (const file of ["ipamd.db", "ipamd.db-wal", "ipamd.db-shm"]) {
      expect(mode(join(dir, "data", file)), file).toBe("600");
    }
  }, 180_000);

  it("logs a warning when --insecure lets a non-loopback listener serve cleartext", async () => {
    const dir = tempDir("ipamd-insecure-warn");
    const socket = join(dir, "ipamd.sock");
    const p = spawnIpamd("insecure", [
      ...["--data-dir", dir, "--unix-socket", socket, "--node-id", "i1", "--insecure"],
      ...["--grpc-addr", "0.0.0.0:0", "--metrics-addr", "off"],
    ]);
    const line = await waitFor(
      "the --insecure warning",
      () => p.log.find((l) => l.includes('"level":40') && l.includes("--insecure")),
      { timeoutMs: 120_000 },
    );
    expect(line).toContain("--tls-cert");
    await waitFor("ready", () => p.log.find((l) => l.includes('"msg":"ready: ')), {
      timeoutMs: 120_000,
    });
    p.kill("SIGTERM");
    expect(await p.exited()).toBe(0);
  }, 180_000);
});

describe("errors a person can act on", () => {
  it("--election-ms -5 names the flag and its range", async () => {
    const r = await runIpamdCommand(["--election-ms", "-5", "--data-dir", tempDir("ipamd-em")]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--election-ms: "-5" is not a number in 100..60000');
    expect(r.stderr).not.toContain("ambiguous");
  }, 180_000);

  it('a JSON config with "data-dir": 5 is refused naming the setting and the file', async () => {
    const dir = tempDir("ipamd-config-type");
    const file = join(dir, "ipamd.json");
    writeFileSync(file, JSON.stringify({ "data-dir": 5 }));
    const r = await runIpamdCommand(["--config", file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("--data-dir");
    expect(r.stderr).toContain("ipamd.json: must be a string, got the number 5");
  }, 180_000);

  it("a client command without a daemon says which socket it tried and that ipamd is not running", async () => {
    const dir = tempDir("ipamd-no-daemon");
    const socket = join(dir, "ipamd.sock");
    const r = await runIpamdCommand(["status", "--unix-socket", socket]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`unix:${socket} (from --unix-socket)`);
    expect(r.stderr).toContain("ipamd is not running");
    expect(r.stderr).not.toContain("Resolution note");
  }, 180_000);
});
