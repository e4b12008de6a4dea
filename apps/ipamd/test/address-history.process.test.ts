import { join } from "node:path";
import {
  type AddressEvent,
  createClusterClient,
  createIpamClient,
  Family,
  ReadyState,
} from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { type ClusterFixture, startCluster } from "./helpers/cluster-fixture.js";
import { freePort, killAll, logsOf, spawnIpamd, tempDir, waitFor } from "./helpers/processes.js";

// The address history and the exhaustion forecast through real processes: three servers and two
// agents (x, y) under TOR tor-a1-1, an address allocated on x, released, x SIGKILLed and
// declared dead, the same address allocated on y; then a role-all daemon with a short retention
// for pruning and the forecast metric.

const clients: Array<{ close(): void }> = [];
let cluster: ClusterFixture | undefined;

afterAll(async () => {
  for (const c of clients) c.close();
  cluster?.close();
  await killAll();
});

/** `event node pod` of each event, for order assertions. */
const brief = (events: readonly AddressEvent[]) =>
  events.map((e) => `${e.event} ${e.nodeId} ${e.podNamespace}/${e.podName}/${e.podUid}`);

describe("address history in a cluster (3 servers, 2 agents)", () => {
  let address = "";
  const uid = (n: number) => `5c0e1a7e-0000-4000-8000-00000000000${n}`;

  it("records allocation and release on node x with pod identity, on every server", async () => {
    const c = await startCluster(tempDir("ipamd-history"));
    cluster = c;
    const x = await c.startAgent("x", "tor-a1-1");
    const key = { network: "pods", containerId: "cx", ifname: "eth0" };
    const r = await x.ipam.allocate({
      ...key,
      podNamespace: "shop",
      podName: "cart-1",
      podUid: uid(1),
    });
    address = r.addresses[0]?.address ?? "";
    expect(address).not.toBe("");
    await x.ipam.release(key);
    for (const s of c.servers) {
      const one = createClusterClient({ addresses: [s.address], deadlineMs: 10_000 });
      clients.push(one);
      const h = await waitFor(`${s.id} to hold x's two events`, async () => {
        const h = await one.addressHistory({ address });
        return h.events.length === 2 ? h : undefined;
      }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf(c.procs())}`);
      });
      expect(h.serverId).toBe(s.id);
      expect(brief(h.events)).toEqual([
        `allocate x shop/cart-1/${uid(1)}`,
        `release x shop/cart-1/${uid(1)}`,
      ]);
      expect(h.events[0]).toMatchObject({
        network: "pods",
        containerId: "cx",
        ifname: "eth0",
        purpose: "default",
        family: Family.IPV4,
      });
      expect(h.events[0]?.subnetId).not.toBe("");
    }
  });

  it("follows the address to node y after x is SIGKILLed, and --at picks each holder", async () => {
    const c = cluster as ClusterFixture;
    const x = c.agents.find((a) => a.id === "x");
    x?.proc.kill("SIGKILL");
    await x?.proc.exited();
    // x is gone: its blocks go back to the pool, so the address can move.
    await c.l1.deregisterNode({ nodeId: "x", dead: true });
    const y = await c.startAgent("y", "tor-a1-1");
    const r = await y.ipam.allocate({
      network: "pods",
      containerId: "cy",
      ifname: "eth0",
      podNamespace: "shop",
      podName: "cart-2",
      podUid: uid(2),
      requestedAddresses: [address],
    });
    expect(r.addresses[0]?.address).toBe(address);
    const h = await waitFor("y's allocation in the history", async () => {
      const h = await c.l1.addressHistory({ address });
      return h.events.length === 3 ? h : undefined;
    });
    expect(brief(h.events)).toEqual([
      `allocate x shop/cart-1/${uid(1)}`,
      `release x shop/cart-1/${uid(1)}`,
      `allocate y shop/cart-2/${uid(2)}`,
    ]);
    const [allocX, releaseX, allocY] = h.events as [AddressEvent, AddressEvent, AddressEvent];
    const holderAt = async (at: bigint) =>
      brief((await c.l1.addressHistory({ address, atUnixMs: at })).holders);
    expect(await holderAt(allocX.atUnixMs)).toEqual([`allocate x shop/cart-1/${uid(1)}`]);
    expect(await holderAt(releaseX.atUnixMs)).toEqual([]);
    expect(await holderAt(allocY.atUnixMs + 1n)).toEqual([`allocate y shop/cart-2/${uid(2)}`]);
    // --since / --until narrow the events, not the holders' replay.
    const late = await c.l1.addressHistory({ address, sinceUnixMs: allocY.atUnixMs });
    expect(brief(late.events)).toEqual([`allocate y shop/cart-2/${uid(2)}`]);
    const early = await c.l1.addressHistory({ address, untilUnixMs: releaseX.atUnixMs });
    expect(early.events).toHaveLength(2);
  });

  it("answers from a server that was down while events were shipped, once it is back", async () => {
    const c = cluster as ClusterFixture;
    const y = c.agents.find((a) => a.id === "y");
    if (y === undefined) throw new Error("no agent y");
    const s3 = c.servers[2];
    if (s3 === undefined) throw new Error("no server s3");
    s3.proc.kill("SIGKILL");
    await s3.proc.exited();
    await y.ipam.release({ network: "pods", containerId: "cy", ifname: "eth0" });
    await waitFor("y's release on the remaining servers", async () => {
      const h = await c.l1.addressHistory({ address });
      return h.events.length === 4 ? h : undefined;
    });
    c.restartServer(s3);
    const one = createClusterClient({ addresses: [s3.address], deadlineMs: 10_000 });
    clients.push(one);
    const h = await waitFor("the restarted server to catch up", async () => {
      const h = await one.addressHistory({ address });
      return h.events.length === 4 ? h : undefined;
    });
    expect(brief(h.events).at(-1)).toBe(`release y shop/cart-2/${uid(2)}`);
  });

  it("forecasts a finite time to full while allocating at a steady rate", async () => {
    const c = cluster as ClusterFixture;
    const y = c.agents.find((a) => a.id === "y");
    if (y === undefined) throw new Error("no agent y");
    const row = async () =>
      (await c.l1.forecast({ tor: "tor-a1-1", purpose: "default", family: Family.IPV4 }))
        .entries[0];
    for (let i = 0; i < 40; i++) {
      await y.ipam.allocate({ network: "pods", containerId: `steady-${i}`, ifname: "eth0" });
    }
    const r = await waitFor("the allocations in the forecast", async () => {
      const r = await row();
      return r !== undefined && r.samples >= 44 ? r : undefined;
    });
    expect(r.zone).not.toBe("");
    expect(r.pod).not.toBe("");
    expect(r.ratePerHour).toBeGreaterThan(0);
    expect(r.fullInSeconds).toBeGreaterThan(0);
    expect(Number.isFinite(r.fullInSeconds)).toBe(true);
    expect(BigInt(r.capacity)).toBeGreaterThan(0n);
    expect(r.rSquared).toBeGreaterThanOrEqual(0);
    expect(r.rSquared).toBeLessThanOrEqual(1);
  });
});

describe("address history in role all: retention and the forecast metric", () => {
  it("says no growth when idle, exports a finite forecast while allocating, and prunes past the retention", async () => {
    const dir = tempDir("ipamd-history-all");
    const grpc = `127.0.0.1:${await freePort()}`;
    const metrics = await freePort();
    const socket = join(dir, "ipamd.sock");
    const start = (extra: readonly string[]) =>
      spawnIpamd("all", [
        ...["--data-dir", dir, "--unix-socket", socket, "--node-id", "h1"],
        ...["--grpc-addr", grpc, "--metrics-addr", `127.0.0.1:${metrics}`],
        ...["--log-level", "warn", ...extra],
      ]);
    let proc = start([]);
    const ipam = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 15_000 });
    const l1 = createClusterClient({ addresses: [grpc], deadlineMs: 15_000 });
    clients.push(ipam, l1);
    const ready = () =>
      waitFor("ready", async () => {
        const s = await ipam.status({}, { deadlineMs: 5000 });
        return s.state === ReadyState.READY ? true : undefined;
      }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf([proc])}`);
      });
    await ready();
    const v4 = { tor: "tor-a1-1", purpose: "default", family: Family.IPV4 };
    const idle = (await l1.forecast(v4)).entries[0];
    expect(idle?.samples).toBe(0);
    expect(idle?.fullInSeconds).toBeUndefined();

    const a = await ipam.allocate({ network: "pods", containerId: "c0", ifname: "eth0" });
    const address = a.addresses[0]?.address ?? "";
    for (let i = 1; i < 20; i++) {
      await ipam.allocate({ network: "pods", containerId: `c${i}`, ifname: "eth0" });
    }
    const series =
      'ipamd_pool_forecast_full_seconds{zone="zone-a",pod="pod-a1",tor="tor-a1-1",purpose="default",family="ipv4"}';
    const value = await waitFor("a finite forecast on /metrics", async () => {
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      const v = line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
      return Number.isFinite(v) ? v : undefined;
    });
    expect(value).toBeGreaterThan(0);
    await waitFor("the allocation in the history", async () => {
      const h = await l1.addressHistory({ address });
      return h.events.length === 1 ? h : undefined;
    });

    // The same node again with a retention of one second: the events go, the records stay.
    proc.kill("SIGTERM");
    expect(await proc.exited()).toBe(0);
    proc = start(["--history-retention", "1s"]);
    await ready();
    const pruned = await waitFor("the retention to prune the events", async () => {
      const h = await l1.addressHistory({ address });
      return h.events.length === 0 && h.oldestKeptUnixMs === 0n ? h : undefined;
    });
    expect(pruned.events).toEqual([]);
    const held = await ipam.check({
      network: "pods",
      containerId: "c0",
      ifname: "eth0",
      addresses: [address],
    });
    expect(held.ok).toBe(true);
  });
});
