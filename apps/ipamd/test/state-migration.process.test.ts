import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type ClusterClient, createClusterClient, Family } from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { killAllEtcd, startEtcdCluster } from "./helpers/etcd.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  POLL_RPC_MS,
  RETRY_ATTEMPTS,
  runIpamdCommand,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// Migration both ways with the `ipamd state export|import` commands, on real processes: a Raft
// server's state moves into etcd (servers then run with --cluster-store etcd), and back into a
// new Raft data dir (a server resumes from it). Nothing leased is lost on the way.

const clients: ClusterClient[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
  await killAllEtcd();
});

function client(address: string): ClusterClient {
  const c = createClusterClient({
    addresses: [address],
    deadlineMs: 30_000,
    maxAttempts: RETRY_ATTEMPTS,
  });
  clients.push(c);
  return c;
}

const base = (id: string, address: string) => [
  "--role",
  "server",
  "--node-id",
  id,
  "--grpc-addr",
  address,
  "--metrics-addr",
  "off",
  "--log-format",
  "json",
];

async function ready(c: ClusterClient, procs: IpamdProcess[]): Promise<void> {
  await waitFor(
    "the server to lead and serve the topology",
    async () => {
      const st = await c.getStatus({}, { deadlineMs: POLL_RPC_MS });
      const t = await c.getTopology({}, { deadlineMs: POLL_RPC_MS });
      return st.leaderId !== "" && t.topologyJson.includes("tor-a1-1") ? true : undefined;
    },
    { timeoutMs: 120_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(procs)}`);
  });
}

const cidrs = async (c: ClusterClient, node: string) =>
  (await c.getNodeLeases({ nodeId: node })).blocks.map((b) => b.cidr).sort();

describe("ipamd state export/import: Raft → etcd → Raft", () => {
  it("moves the whole cluster state both ways; refuses to import over a cluster in use", async () => {
    const root = tempDir("ipamd-migrate");
    // 1. A Raft server with some state, stopped with SIGTERM.
    const raftDir = join(root, "raft-1");
    const a1 = `127.0.0.1:${await freePort()}`;
    const r1 = spawnIpamd("raft-1", [...base("r1", a1), "--data-dir", raftDir, "--bootstrap"]);
    const c1 = client(a1);
    await ready(c1, [r1]);
    await c1.registerNode({ nodeId: "n1", torId: "tor-a1-1" });
    const leased = [];
    for (let i = 0; i < 3; i++) {
      const r = await c1.leaseBlock({
        nodeId: "n1",
        purpose: "default",
        family: Family.IPV4,
        requestId: `m-${i}`,
      });
      leased.push(r.block?.cidr ?? "");
    }
    const direct = await c1.allocateDirect({
      items: [
        {
          network: "mgmt",
          containerId: "d1",
          ifname: "eth1",
          nodeId: "n1",
          purpose: "management",
          family: Family.IPV4,
        },
      ],
    });
    const directAddress =
      direct.results[0]?.result.case === "address" ? direct.results[0].result.value.address : "";
    expect(directAddress).toMatch(/^10\.99\.9\./);
    const before = await cidrs(c1, "n1");
    r1.kill("SIGTERM");
    expect(await r1.exited()).toBe(0);

    // 2. Export from the data dir, import into an unused etcd prefix.
    const file = join(root, "state.bin");
    const exported = await runIpamdCommand([
      "state",
      "export",
      "--cluster-store",
      "raft",
      "--data-dir",
      raftDir,
      "--out",
      file,
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout).exported).toMatchObject({
      store: "raft",
      nodes: 17, // the example topology's 16 and n1
      blocks: 3,
      direct: 1,
    });
    const etcd = await startEtcdCluster(1);
    const prefix = `/ipamd-test/${randomBytes(4).toString("hex")}`;
    const etcdFlags = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
    ];
    const imported = await runIpamdCommand(["state", "import", ...etcdFlags, "--in", file]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).imported).toMatchObject({ store: "etcd", blocks: 3 });
    // A second import over it is refused (the prefix is in use), naming the flag.
    const again = await runIpamdCommand(["state", "import", ...etcdFlags, "--in", file]);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr).toContain("--etcd-prefix");

    // 3. An etcd-backed server serves the migrated state, and takes new writes.
    const a2 = `127.0.0.1:${await freePort()}`;
    const e1 = spawnIpamd("etcd-1", [
      ...base("e1", a2),
      "--data-dir",
      join(root, "etcd-1"),
      ...etcdFlags,
    ]);
    const c2 = client(a2);
    await ready(c2, [e1]);
    expect(await cidrs(c2, "n1")).toEqual(before);
    // The same request id answers the same block (the ids travelled in the state).
    const retried = await c2.leaseBlock({
      nodeId: "n1",
      purpose: "default",
      family: Family.IPV4,
      requestId: "m-1",
    });
    expect(retried.block?.cidr).toBe(leased[1]);
    const fresh = await c2.leaseBlock({
      nodeId: "n1",
      purpose: "default",
      family: Family.IPV4,
      requestId: "m-etcd",
    });
    expect(before).not.toContain(fresh.block?.cidr);
    const leases = await c2.getNodeLeases({ nodeId: "n1" });
    expect(leases.direct.map((d) => d.address?.address)).toEqual([directAddress]);
    const afterEtcd = await cidrs(c2, "n1");

    // 4. Export from etcd (live) and import into a new Raft data dir; a server resumes from it.
    const file2 = join(root, "state2.bin");
    const out2 = await runIpamdCommand(["state", "export", ...etcdFlags, "--out", file2]);
    expect(out2.code, out2.stderr).toBe(0);
    e1.kill("SIGTERM");
    expect(await e1.exited()).toBe(0);
    const raftDir2 = join(root, "raft-2");
    const a3 = `127.0.0.1:${await freePort()}`;
    const in2 = await runIpamdCommand([
      "state",
      "import",
      "--cluster-store",
      "raft",
      "--data-dir",
      raftDir2,
      "--node-id",
      "r2",
      "--advertise-addr",
      a3,
      "--in",
      file2,
    ]);
    expect(in2.code, in2.stderr).toBe(0);
    // Importing into a data dir that already holds a group is refused.
    const over = await runIpamdCommand([
      "state",
      "import",
      "--cluster-store",
      "raft",
      "--data-dir",
      raftDir,
      "--node-id",
      "r1",
      "--advertise-addr",
      a1,
      "--in",
      file2,
    ]);
    expect(over.code, over.stderr).toBe(1);
    expect(over.stderr).toContain("--data-dir");
    const r2 = spawnIpamd("raft-2", [...base("r2", a3), "--data-dir", raftDir2]);
    const c3 = client(a3);
    await ready(c3, [r2]);
    expect(await cidrs(c3, "n1")).toEqual(afterEtcd);
    const last = await c3.leaseBlock({
      nodeId: "n1",
      purpose: "default",
      family: Family.IPV4,
      requestId: "m-raft",
    });
    expect(afterEtcd).not.toContain(last.block?.cidr);
    // It is a real Raft group: a second server joins it and reads the same state.
    const a4 = `127.0.0.1:${await freePort()}`;
    const r3 = spawnIpamd("raft-3", [
      ...base("r3", a4),
      "--data-dir",
      join(root, "raft-3"),
      "--join",
      a3,
    ]);
    const c4 = client(a4);
    await waitFor(
      "the joiner to read the migrated state",
      async () => {
        const got = await cidrs(c4, "n1");
        return got.length === afterEtcd.length + 1 ? got : undefined;
      },
      { timeoutMs: 120_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([r2, r3])}`);
    });
  }, 600_000);
});
