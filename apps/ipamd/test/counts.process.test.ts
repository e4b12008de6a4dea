import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  Family,
  FamilySelection,
  type IpamClient,
  ReadyState,
  StatsLevel,
} from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// Exact counts on real processes (issue 16 item 5, issue 23 items 6 and 7): one server and two
// agents on one TOR; every count exact (an IPv6 /64 is 2^64 addresses, not 18446744073709552000),
// one family per GetStats entry, per-block figures on the node, the cluster's "held" equal to
// what the agents hold (from their reports), the subnet cooling gauge on the server, and the
// pod's spill subnet used once the rack's blocks are all in use or cooling down.

const clients: Array<{ close(): void }> = [];
const procs: IpamdProcess[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
});

function ipam(socket: string): IpamClient {
  const c = createIpamClient({ addresses: [`unix:${socket}`], maxAttempts: 1, deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

function samples(text: string, name: string, labels: Record<string, string> = {}): number[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .map((l) => Number(l.slice(l.lastIndexOf(" ") + 1)));
}

async function waitReady(c: IpamClient): Promise<void> {
  await waitFor("ready", async () => {
    const s = await c.status({}, { deadlineMs: 5000 });
    return s.state === ReadyState.READY && s.reason === "" ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(procs)}`);
  });
}

// A TOR with a small IPv4 subnet (/26 in /28 blocks: 4 blocks, 61 usable addresses) and an IPv6
// /64 (/120 blocks), and the pod's IPv4 spill subnet; an hour of cool-down everywhere, so that
// nothing leaves cool-down while a test runs.
const TOPOLOGY = `version: 1
zones:
  - id: zone-c
    subnetRanges: [10.99.0.0/17, fd99::/50]
    pods:
      - id: pod-c1
        subnetRanges: [10.99.0.0/18, fd99::/51]
        subnets:
          - id: pod-c1-spill-v4
            cidr: 10.99.48.0/24
            purpose: default
            blockPrefix: 28
            cooldownSeconds: 3600
        tors:
          - id: tor-c1
            subnets:
              - id: tor-c1-v4
                cidr: 10.99.0.0/26
                purpose: default
                blockPrefix: 28
                cooldownSeconds: 3600
              - id: tor-c1-v6
                cidr: fd99::/64
                purpose: default
                blockPrefix: 120
                cooldownSeconds: 3600
          - id: tor-c2
            subnets:
              - id: tor-c2-v4
                cidr: 10.99.1.0/26
                purpose: default
                blockPrefix: 28
`;

const key = (containerId: string) => ({ network: "n", containerId, ifname: "eth0" });

describe("exact counts: one server, two agents", () => {
  let l1: ClusterClient;
  let a: IpamClient;
  let b: IpamClient;
  let serverMetrics = 0;

  beforeAll(async () => {
    const root = tempDir("ipamd-counts");
    const topology = join(root, "topology.yaml");
    writeFileSync(topology, TOPOLOGY);
    const server = `127.0.0.1:${await freePort()}`;
    serverMetrics = await freePort();
    procs.push(
      spawnIpamd("server", [
        ...["--role", "server", "--bootstrap", "--data-dir", join(root, "server")],
        ...["--grpc-addr", server, "--metrics-addr", `127.0.0.1:${serverMetrics}`],
        ...["--node-id", "srv-1", "--topology", topology],
        ...["--election-ms", "500", "--log-level", "warn"],
      ]),
    );
    for (const id of ["agent-a", "agent-b"]) {
      procs.push(
        spawnIpamd(id, [
          ...["--role", "agent", "--servers", server, "--node-id", id, "--tor", "tor-c1"],
          ...["--data-dir", join(root, id), "--unix-socket", join(root, `${id}.sock`)],
          ...["--metrics-addr", "off", "--log-level", "warn"],
        ]),
      );
    }
    l1 = createClusterClient({ addresses: [server], deadlineMs: 10_000 });
    clients.push(l1);
    a = ipam(join(root, "agent-a.sock"));
    b = ipam(join(root, "agent-b.sock"));
    await waitReady(a);
    await waitReady(b);
    // Agent a: five dual-stack pods, two of them gone (cooling down); agent b: three IPv4 pods.
    for (let i = 0; i < 5; i++) {
      await a.allocate({ ...key(`a${i}`), families: FamilySelection.DUAL_STACK });
    }
    await a.release(key("a0"));
    await a.release(key("a1"));
    for (let i = 0; i < 3; i++) await b.allocate(key(`b${i}`));
  });

  it("counts an IPv6 /64 exactly and never sums two families into one entry", async () => {
    const v6 = await l1.getStats({ level: StatsLevel.SUBNET, id: "tor-c1-v6" });
    expect(v6.entries).toHaveLength(1);
    const counts = v6.entries[0]?.counts;
    expect(v6.entries[0]?.family).toBe(Family.IPV6);
    // 2^64 addresses: network and gateway reserved, the rest can be handed out.
    expect(BigInt(counts?.capacity ?? "") + BigInt(counts?.reserved ?? "")).toBe(2n ** 64n);
    expect(counts?.capacity).toBe("18446744073709551614");
    expect(BigInt(counts?.free ?? "") + BigInt(counts?.leased ?? "")).toBe(18446744073709551614n);
    // The TOR has subnets of both families: one entry each, IPv4 first.
    const tor = await l1.getStats({ level: StatsLevel.TOR, id: "tor-c1" });
    expect(tor.entries.map((e) => [e.id, e.family, e.subnets])).toEqual([
      ["tor-c1", Family.IPV4, 1],
      ["tor-c1", Family.IPV6, 1],
    ]);
    expect(tor.entries[0]?.counts?.capacity).toBe("61");
  });

  it("reports each block's own capacity, held and cooling addresses on the node", async () => {
    const blocks = (await a.getNodeBlocks({})).blocks;
    const v4 = blocks.filter((x) => x.family === Family.IPV4);
    const v6 = blocks.filter((x) => x.family === Family.IPV6);
    // Held 3 + cooling 2 per family, in the node's first block of each subnet.
    expect(v4.reduce((n, x) => n + x.allocated, 0n)).toBe(3n);
    expect(v4.reduce((n, x) => n + x.coolingDown, 0n)).toBe(2n);
    expect(v6.reduce((n, x) => n + x.allocated, 0n)).toBe(3n);
    expect(v6.reduce((n, x) => n + x.coolingDown, 0n)).toBe(2n);
    // A /28 block's capacity, not the subnet's: 16 minus the subnet's network address and
    // gateway in the first block, 16 (or 15 with the broadcast) in the others.
    for (const x of v4) expect(Number(x.capacity)).toBeLessThanOrEqual(16);
    for (const x of v6) expect(Number(x.capacity)).toBeLessThanOrEqual(256);
    for (const x of blocks) expect(x.state).toBe("leased");
    const pool = (await a.getPoolStats({ family: Family.IPV4 })).subnets;
    expect(pool.map((s) => [s.subnetId, s.cidr, s.counts?.held, s.counts?.coolingDown])).toEqual([
      ["tor-c1-v4", "10.99.0.0/26", "3", "2"],
    ]);
    expect(pool[0]?.blocksTotal).toBe("4");
    const c = pool[0]?.counts;
    expect(BigInt(c?.capacity ?? "")).toBe(
      BigInt(c?.held ?? "") + BigInt(c?.coolingDown ?? "") + BigInt(c?.free ?? ""),
    );
  });

  it("gives the cluster's held count as the sum of what the agents hold, with the report age", async () => {
    const entry = await waitFor("both agents' reports of every block", async () => {
      const r = await l1.getStats({ level: StatsLevel.TOR, id: "tor-c1", family: Family.IPV4 });
      const e = r.entries[0];
      // Both agents' reports made after every allocation and release (an earlier report of
      // agent a can already add up to 6 held, before its releases, with nothing cooling).
      return e?.counts?.heldUnreportedBlocks === 0n &&
        e.counts.held === "6" &&
        e.counts.coolingDown === "2"
        ? e
        : undefined;
    });
    expect(entry.family).toBe(Family.IPV4);
    // Agent a holds 3 and cools 2, agent b holds 3.
    expect(entry.counts?.coolingDown).toBe("2");
    expect(entry.counts?.allocated).toBe("6");
    expect(entry.counts?.heldReportedAtUnixMs).toBeGreaterThan(0n);
    expect(entry.counts?.heldReportAgeMs).toBeGreaterThanOrEqual(0n);
    // Every held or cooling address is inside a leased block.
    const leased = BigInt(entry.counts?.leased ?? "");
    expect(leased).toBeGreaterThanOrEqual(6n + 2n);
    expect(BigInt(entry.counts?.free ?? "") + leased).toBe(61n);
  });

  it("exports the addresses cooling on the agents in the server's subnet gauge", async () => {
    await waitFor("the server's cooling gauge", async () => {
      const text = await (await fetch(`http://127.0.0.1:${serverMetrics}/metrics`)).text();
      const v = samples(text, "ipamd_subnet_cooling_down_addresses", { subnet: "tor-c1-v4" });
      return v.length === 1 && v[0] === 2 ? true : undefined;
    });
  });
});

describe("cool-down pressure: the pod's spill subnet", () => {
  it("leases from the spill subnet once every block of the rack is in use or cooling", async () => {
    const dir = tempDir("ipamd-spill");
    const topology = join(dir, "topology.yaml");
    writeFileSync(topology, TOPOLOGY);
    const socket = join(dir, "ipamd.sock");
    procs.push(
      spawnIpamd("all", [
        ...["--data-dir", join(dir, "data"), "--unix-socket", socket, "--node-id", "n1"],
        ...["--topology", topology, "--tor", "tor-c1"],
        ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", "off", "--log-level", "warn"],
      ]),
    );
    const c = ipam(socket);
    await waitReady(c);
    // Fill the rack's IPv4 subnet (61 addresses), then release everything: all cooling.
    const rack: string[] = [];
    for (let i = 0; i < 61; i++) {
      const r = await c.allocate(key(`p${i}`));
      expect(r.addresses[0]?.subnetId).toBe("tor-c1-v4");
      rack.push(r.addresses[0]?.address ?? "");
    }
    for (let i = 0; i < 61; i++) await c.release(key(`p${i}`));
    // New pods get spill addresses instead of POOL_EXHAUSTED, and no cooling address.
    for (let i = 0; i < 20; i++) {
      const r = await c.allocate(key(`q${i}`));
      expect(r.addresses[0]?.subnetId).toBe("pod-c1-spill-v4");
      expect(rack).not.toContain(r.addresses[0]?.address);
    }
  });
});
