import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createIpamClient, type IpamClient, ReadyState } from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "./helpers/processes.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const children: ChildProcess[] = [];

/**
 * The example topology with a one-day cool-down on every subnet, so that an address released
 * before a restart is still cooling down after it however slowly the machine restarts.
 */
function longCooldownTopology(dir: string): string {
  const config = toCanonicalConfig(exampleTopology()) as unknown as {
    zones: { pods: { tors: { subnets: { cooldownSeconds?: number }[] }[] }[] }[];
  };
  for (const zone of config.zones)
    for (const pod of zone.pods)
      for (const tor of pod.tors) for (const subnet of tor.subnets) subnet.cooldownSeconds = 86_400;
  const file = join(dir, "topology.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

function startDaemon(dataDir: string, extra: readonly string[] = []): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "--data-dir",
      dataDir,
      "--unix-socket",
      join(dataDir, "ipamd.sock"),
      "--grpc-addr",
      "127.0.0.1:0",
      "--metrics-addr",
      "off",
      "--node-id",
      "node-t1",
      "--log-level",
      "warn",
      ...extra,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  children.push(child);
  return child;
}

/** Waits (generously: a loaded machine starts a daemon slowly) until the daemon reports READY. */
async function waitReady(client: IpamClient): Promise<void> {
  await waitFor("the daemon to be ready", async () => {
    const s = await client.status({}, { deadlineMs: 5000 });
    return s.state === ReadyState.READY ? true : undefined;
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

afterAll(() => {
  for (const c of children)
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      process.kill(c.pid, "SIGKILL");
    }
});

describe("ipamd role all, single node", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "ipamd-single-"));
  const client = createIpamClient({
    addresses: [`unix:${join(dataDir, "ipamd.sock")}`],
    deadlineMs: 60_000,
  });

  it("allocates over the unix socket, idempotently, and keeps everything across a restart", async () => {
    const first = startDaemon(dataDir);
    await waitReady(client);
    const seen = new Map<string, string>();
    for (let i = 0; i < 100; i++) {
      const r = await client.allocate({ network: "n", containerId: `c${i}`, ifname: "eth0" });
      const address = r.addresses[0]?.address ?? "";
      expect(address).toMatch(/^10\.99\./);
      expect([...seen.values()]).not.toContain(address);
      seen.set(`c${i}`, address);
    }
    const again = await client.allocate({ network: "n", containerId: "c7", ifname: "eth0" });
    expect(again.addresses[0]?.address).toBe(seen.get("c7"));
    const released = await client.release({ network: "n", containerId: "c0", ifname: "eth0" });
    expect(released.released).toBe(true);
    seen.delete("c0");

    first.kill("SIGTERM");
    expect(await exited(first)).toBe(0);

    startDaemon(dataDir);
    await waitReady(client);
    for (const [container, address] of seen) {
      const r = await client.allocate({ network: "n", containerId: container, ifname: "eth0" });
      expect(r.addresses[0]?.address).toBe(address);
    }
    const taken = new Set(seen.values());
    for (let i = 100; i < 150; i++) {
      const r = await client.allocate({ network: "n", containerId: `c${i}`, ifname: "eth0" });
      const address = r.addresses[0]?.address ?? "";
      expect(taken.has(address)).toBe(false);
      taken.add(address);
    }
    const check = await client.check({
      network: "n",
      containerId: "c7",
      ifname: "eth0",
      addresses: [seen.get("c7") ?? ""],
    });
    expect(check.ok).toBe(true);
    const stats = await client.getPoolStats({});
    const allocated = stats.subnets.reduce((n, s) => n + Number(s.counts?.allocated ?? 0), 0);
    expect(allocated).toBe(taken.size);
    const gc = await client.garbageCollect({
      network: "n",
      validAttachments: [{ containerId: "c1", ifname: "eth0" }],
    });
    expect(gc.released.length).toBe(taken.size - 1);
    const kept = await client.check({ network: "n", containerId: "c1", ifname: "eth0" });
    expect(kept.ok).toBe(true);
    const gone = await client.check({ network: "n", containerId: "c2", ifname: "eth0" });
    expect(gone.ok).toBe(false);
    client.close();
  });

  it("keeps a released address cooling down across a SIGKILL restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ipamd-cool-"));
    const c = createIpamClient({
      addresses: [`unix:${join(dir, "ipamd.sock")}`],
      deadlineMs: 60_000,
    });
    const topology = ["--topology", longCooldownTopology(dir)];
    const daemon = startDaemon(dir, topology);
    await waitReady(c);
    const addresses: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await c.allocate({ network: "n", containerId: `c${i}`, ifname: "eth0" });
      addresses.push(r.addresses[0]?.address ?? "");
    }
    // The newest record: after a restart the block's next-fit cursor resumes right before its
    // address, so without the persisted cool-down it would be the very next one handed out.
    const released = addresses[9];
    expect((await c.release({ network: "n", containerId: "c9", ifname: "eth0" })).released).toBe(
      true,
    );
    daemon.kill("SIGKILL");
    await exited(daemon);
    startDaemon(dir, topology);
    await waitReady(c);
    // Released addresses cool down for a day: well past this test's end.
    for (let i = 0; i < 5; i++) {
      const r = await c.allocate({ network: "n", containerId: `after${i}`, ifname: "eth0" });
      expect(r.addresses[0]?.address).not.toBe(released);
      expect(addresses.slice(0, 9)).not.toContain(r.addresses[0]?.address);
    }
    const stats = await c.getPoolStats({});
    const cooling = stats.subnets.reduce((n, s) => n + Number(s.counts?.coolingDown ?? 0), 0);
    expect(cooling).toBe(1);
    c.close();
  });
});
