import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  Family,
  type IpamClient,
  ReadyState,
} from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { EtcdClient } from "../src/etcd/etcd-client.js";
import { bytes, EtcdKeys, prefixEnd } from "../src/etcd/etcd-keys.js";
import { makeCerts } from "./helpers/certs.js";
import { type EtcdMember, etcdctl, killAllEtcd, startEtcdCluster } from "./helpers/etcd.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// What only the etcd store does, on real etcd and ipamd processes: snapshots, log truncation
// and compaction with a new server starting from the snapshot; a command appended twice applied
// once; etcd unreachable (servers not ready, agents degraded, nothing lost); the controller
// lease moving on; TLS and etcd auth, and a wrong password refused at start.

const clients: Array<{ close(): void }> = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
  await killAllEtcd();
});

function cluster(addresses: readonly string[]): ClusterClient {
  const c = createClusterClient({ addresses, deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

function server(
  id: string,
  address: string,
  etcdFlags: readonly string[],
  extra: readonly string[] = [],
): IpamdProcess {
  return spawnIpamd(id, [
    "--role",
    "server",
    "--node-id",
    id,
    "--grpc-addr",
    address,
    // Its own data dir (the address history archive), never the shared default.
    "--data-dir",
    tempDir(`ipamd-etcd-${id}`),
    "--log-format",
    "json",
    ...etcdFlags,
    ...extra,
    ...(extra.includes("--metrics-addr") ? [] : ["--metrics-addr", "off"]),
  ]);
}

async function serving(c: ClusterClient, procs: IpamdProcess[]): Promise<void> {
  await waitFor(
    "the server to serve the topology",
    async () => {
      const t = await c.getTopology({}, { deadlineMs: 5000 });
      const st = await c.getStatus({}, { deadlineMs: 5000 });
      return t.topologyJson.includes("tor-a1-1") && st.leaderId !== "" ? true : undefined;
    },
    { timeoutMs: 120_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(procs)}`);
  });
}

const newPrefix = () => `/ipamd-test/${randomBytes(4).toString("hex")}`;

/** How many entries of the topology's `nodes` lists a server serves are `id` (0: none). */
async function nodeCount(c: ClusterClient, id: string): Promise<number> {
  const t = await c.getTopology({});
  let count = 0;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === "nodes" && Array.isArray(x)) {
          count += x.filter((n) => (n as { id?: unknown }).id === id).length;
        }
        walk(x);
      }
    }
  };
  walk(JSON.parse(t.topologyJson));
  return count;
}

describe("etcd store: snapshots, truncation and compaction", () => {
  it("writes snapshots, deletes the log behind them, compacts, and a new server starts from the snapshot", async () => {
    const etcd = await startEtcdCluster(1);
    const prefix = newPrefix();
    const keys = new EtcdKeys(prefix);
    const flags = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
    ];
    const small = ["--etcd-snapshot-entries", "50", "--etcd-log-retention", "15"];
    const a1 = `127.0.0.1:${await freePort()}`;
    const s1 = server("s1", a1, flags, small);
    const c1 = cluster([a1]);
    await serving(c1, [s1]);
    await c1.registerNode({ nodeId: "n1", torId: "tor-a1-1" });
    for (let i = 0; i < 15; i++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, k) =>
          c1.registerNode({ nodeId: "n1", torId: "tor-a1-1", labels: { round: `${i}-${k}` } }),
        ),
      );
    }
    const lease = await c1.leaseBlock({
      nodeId: "n1",
      purpose: "default",
      family: Family.IPV4,
      requestId: "snap",
    });
    const probe = new EtcdClient({ endpoints: etcd.members.map((m) => m.endpoint) });
    clients.push(probe);
    const logKey = bytes(keys.log);
    const logCount = async () =>
      (await probe.range({ key: logKey, rangeEnd: prefixEnd(logKey), countOnly: true })).count;
    const written = await logCount();
    // 152 commands, 10 at a time in 15 rounds: a round's commands may share log keys (group
    // commit), rounds never do.
    expect(written).toBeGreaterThanOrEqual(16n);
    expect(written).toBeLessThanOrEqual(152n);
    // A snapshot is written, and once the entries are older than the retention they go, and
    // etcd's history behind them is compacted.
    const st = await waitFor("a snapshot", async () => {
      const s = await c1.getStatus({});
      return s.snapshotIndex > 0n ? s : undefined;
    });
    expect(st.snapshotIndex).toBeLessThanOrEqual(st.appliedIndex);
    await waitFor(
      "the log truncated behind the snapshot",
      async () => ((await logCount()) < written / 2n ? true : undefined),
      {
        timeoutMs: 120_000,
      },
    );
    // The server deletes the log entries, then compacts etcd's history behind them: two calls, so
    // the compaction may come a moment after the deletion is visible.
    await waitFor(
      "etcd's history compacted behind the snapshot",
      async () => {
        const read = await probe.range({ key: logKey, revision: 2n }).catch((e: unknown) => e);
        return (read as { details?: { etcd?: string } }).details?.etcd === "compacted"
          ? true
          : undefined;
      },
      { timeoutMs: 120_000 },
    );
    // A new server on the same prefix starts from the snapshot plus what is left of the log.
    const a2 = `127.0.0.1:${await freePort()}`;
    const s2 = server("s2", a2, flags, small);
    const c2 = cluster([a2]);
    await serving(c2, [s1, s2]);
    await waitFor("s2 to log its start from the snapshot", () =>
      s2.log.some((l) => l.includes("restored the replica from the snapshot")) ? true : undefined,
    );
    const stale = await c2.listBlocks({ nodeId: "n1", allowStale: true });
    expect(stale.blocks.map((b) => b.cidr)).toEqual([lease.block?.cidr]);
    const retried = await c2.leaseBlock({
      nodeId: "n1",
      purpose: "default",
      family: Family.IPV4,
      requestId: "snap",
    });
    expect(retried.block?.cidr).toBe(lease.block?.cidr);
  }, 300_000);
});

describe("etcd store: a command appended twice", () => {
  it("is applied once (the id window), on every server", async () => {
    const etcd = await startEtcdCluster(1);
    const prefix = newPrefix();
    const keys = new EtcdKeys(prefix);
    const flags = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
    ];
    const addresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const procs = addresses.map((a, i) => server(`d${i + 1}`, a, flags));
    const any = cluster(addresses);
    const each = addresses.map((a) => cluster([a]));
    await serving(any, procs);
    await any.registerNode({ nodeId: "n2", torId: "tor-a1-1" });
    // No request_id: applied twice, this command would lease a second block.
    const first = await any.leaseBlock({ nodeId: "n2", purpose: "default", family: Family.IPV4 });
    const probe = new EtcdClient({ endpoints: [etcd.members[0]?.endpoint ?? ""] });
    clients.push(probe);
    const logKey = bytes(keys.log);
    const entries = await probe.range({ key: logKey, rangeEnd: prefixEnd(logKey) });
    const latest = [...entries.kvs].sort((a, b) => Number(b.modRevision - a.modRevision))[0];
    expect(latest).toBeDefined();
    // What a proposer's retry after a lost answer would append once the first key was gone.
    await probe.put({
      key: bytes(`${keys.log}replayed`),
      value: latest?.value ?? new Uint8Array(),
    });
    await any.registerNode({ nodeId: "n2-after", torId: "tor-a1-1" });
    for (const c of each) {
      const leases = await c.getNodeLeases({ nodeId: "n2" });
      expect(leases.blocks.map((b) => b.cidr)).toEqual([first.block?.cidr]);
    }
  }, 300_000);
});

describe("etcd store: a proposer that retries after a timeout", () => {
  it("gets the same block for the same request_id and registers once, however often it retried", async () => {
    const etcd = await startEtcdCluster(1);
    const member = etcd.members[0];
    if (member === undefined || member.proc.pid === undefined) throw new Error("no etcd member");
    const prefix = newPrefix();
    const flags = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
    ];
    const addresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const procs = addresses.map((a, i) => server(`r${i + 1}`, a, flags));
    // Each server on its own (a client of both is answered by the first one up): a server still
    // starting when etcd stops fails its start, as it should, and the test would lose it.
    for (const a of addresses) await serving(cluster([a]), procs);
    // One attempt per call, short deadlines: what a caller that gives up and retries sees.
    const impatient = addresses.map((a) => {
      const c = createClusterClient({ addresses: [a], deadlineMs: 1500, maxAttempts: 1 });
      clients.push(c);
      return c;
    });
    const [first, second] = impatient as [ClusterClient, ClusterClient];
    await first.registerNode({ nodeId: "n-retry", torId: "tor-a1-1" }, { deadlineMs: 30_000 });
    const lease = { nodeId: "n-retry", purpose: "default", family: Family.IPV4, requestId: "r-1" };

    // etcd stalls (SIGSTOP by PID): every attempt times out at the caller, its write queued.
    process.kill(member.proc.pid, "SIGSTOP");
    try {
      for (const c of [first, second, first]) {
        await expect(c.leaseBlock(lease)).rejects.toBeInstanceOf(Error);
        await expect(
          c.registerNode({ nodeId: "n-late", torId: "tor-a1-1" }),
        ).rejects.toBeInstanceOf(Error);
      }
    } finally {
      process.kill(member.proc.pid, "SIGCONT");
    }

    // The retry after the timeout (through either server) answers the one block; the queued
    // attempts applied once between them.
    const retried = await waitFor("the retried LeaseBlock to answer", () =>
      second.leaseBlock(lease, { deadlineMs: 10_000 }),
    ).catch((err: unknown) => {
      // The servers' own account (one refused connections in a CI run: did it exit, and why?).
      throw new Error(`${(err as Error).message}\n${logsOf(procs, 40)}`);
    });
    const again = await first.leaseBlock(lease, { deadlineMs: 10_000 });
    expect(again.block?.cidr).toBe(retried.block?.cidr);
    const each = addresses.map((a) => cluster([a]));
    await waitFor("n-late registered by a queued attempt", async () => {
      return (await nodeCount(each[1] as ClusterClient, "n-late")) > 0 ? true : undefined;
    });
    const late = await second.registerNode(
      { nodeId: "n-late", torId: "tor-a1-1" },
      { deadlineMs: 10_000 },
    );
    expect(late.created).toBe(false);
    for (const c of each) {
      const leases = await c.getNodeLeases({ nodeId: "n-retry" });
      expect(leases.blocks.map((b) => b.cidr)).toEqual([retried.block?.cidr]);
      expect(await nodeCount(c, "n-late")).toBe(1);
    }
  }, 300_000);
});

describe("etcd store: a lost watch while the log is truncated and compacted", () => {
  it("the server re-lists from the latest snapshot and serves every write it missed", async () => {
    const etcd = await startEtcdCluster(3);
    const [e1, e2, e3] = etcd.members as [EtcdMember, EtcdMember, EtcdMember];
    const prefix = newPrefix();
    const keys = new EtcdKeys(prefix);
    const common = ["--cluster-store", "etcd", "--etcd-prefix", prefix];
    const small = ["--etcd-snapshot-entries", "50", "--etcd-log-retention", "15"];
    const a1 = `127.0.0.1:${await freePort()}`;
    const a2 = `127.0.0.1:${await freePort()}`;
    const s1 = server(
      "w1",
      a1,
      [...common, "--etcd-endpoints", `${e1.endpoint},${e2.endpoint}`],
      small,
    );
    // w2 talks to e3 alone: killing e3 cuts w2's watch while the cluster goes on.
    const s2 = server("w2", a2, [...common, "--etcd-endpoints", e3.endpoint], small);
    const c1 = cluster([a1]);
    const c2 = cluster([a2]);
    await serving(c1, [s1, s2]);
    await serving(c2, [s1, s2]);
    await c1.registerNode({ nodeId: "n-lw", torId: "tor-a1-1" });
    const before = await c1.leaseBlock({
      nodeId: "n-lw",
      purpose: "default",
      family: Family.IPV4,
      requestId: "lw-before",
    });
    const seen = await waitFor("w2 to apply the first lease", async () => {
      const st = await c2.getStatus({});
      const b = await c2.listBlocks({ nodeId: "n-lw", allowStale: true });
      return b.blocks.length === 1 ? st.appliedIndex : undefined;
    });

    await e3.kill("SIGKILL");
    const down = await waitFor("w2 to say it lost etcd", async () => {
      const st = await c2.getStatus({}, { deadlineMs: 5000 });
      return st.notReadyReason !== "" ? st : undefined;
    });
    expect(down.notReadyReason).toContain("etcd");
    // Meanwhile the cluster goes on: enough entries for snapshots, a new block for n-lw.
    for (let i = 0; i < 12; i++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, k) =>
          c1.registerNode({ nodeId: "n-lw", torId: "tor-a1-1", labels: { round: `${i}-${k}` } }),
        ),
      );
    }
    const during = await c1.leaseBlock({
      nodeId: "n-lw",
      purpose: "default",
      family: Family.IPV4,
      requestId: "lw-during",
    });
    // Until the log w2 stopped at is deleted behind a snapshot and etcd compacted past it.
    const probe = new EtcdClient({ endpoints: [e1.endpoint, e2.endpoint] });
    clients.push(probe);
    const logKey = bytes(keys.log);
    await waitFor(
      "etcd compacted past what w2 applied",
      async () => {
        await c1.registerNode({
          nodeId: "n-lw",
          torId: "tor-a1-1",
          labels: { tick: `${Date.now()}` },
        });
        const r = await probe.range({ key: logKey, revision: seen }).catch((e: unknown) => e);
        return (r as { details?: { etcd?: string } }).details?.etcd === "compacted"
          ? true
          : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 2000 },
    );
    const restoredBefore = s2.log.filter((l) =>
      l.includes("restored the replica from the snapshot"),
    ).length;

    e3.restart();
    await waitFor(
      "w2 ready again",
      async () =>
        (await c2.getStatus({}, { deadlineMs: 5000 })).notReadyReason === "" ? true : undefined,
      { timeoutMs: 120_000 },
    );
    await waitFor("w2 to log its re-list from the snapshot", () =>
      s2.log.filter((l) => l.includes("restored the replica from the snapshot")).length >
      restoredBefore
        ? true
        : undefined,
    );
    const stale = await c2.listBlocks({ nodeId: "n-lw", allowStale: true });
    expect(stale.blocks.map((b) => b.cidr).sort()).toEqual(
      [before.block?.cidr, during.block?.cidr].sort(),
    );
    // And it takes part again: its own write, read back on the other server.
    await c2.registerNode({ nodeId: "n-lw-after", torId: "tor-a1-1" });
    expect(await nodeCount(c1, "n-lw-after")).toBe(1);
  }, 400_000);
});

describe("etcd store: etcd unreachable, and the controller lease", () => {
  it("servers report not ready with the reason; agents allocate from held blocks; nothing is lost", async () => {
    const root = tempDir("ipamd-etcd-down");
    const etcd = await startEtcdCluster(1);
    const prefix = newPrefix();
    const flags = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
    ];
    const addresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const metrics = [await freePort(), await freePort()];
    const procs = addresses.map((a, i) =>
      server(`u${i + 1}`, a, flags, ["--metrics-addr", `127.0.0.1:${metrics[i]}`]),
    );
    const any = cluster(addresses);
    await serving(any, procs);
    const sock = join(root, "agent", "ipamd.sock");
    const agentMetrics = await freePort();
    const agent = spawnIpamd("agent", [
      "--role",
      "agent",
      "--servers",
      addresses.join(","),
      "--node-id",
      "agent-u",
      "--tor",
      "tor-a1-1",
      "--data-dir",
      join(root, "agent"),
      "--unix-socket",
      sock,
      "--metrics-addr",
      `127.0.0.1:${agentMetrics}`,
      "--log-format",
      "json",
    ]);
    procs.push(agent);
    const ipam: IpamClient = createIpamClient({
      addresses: [`unix:${sock}`],
      deadlineMs: 30_000,
      maxAttempts: 1,
    });
    clients.push(ipam);
    await waitFor(
      "the agent to be ready",
      async () => {
        const s = await ipam.status({}, { deadlineMs: 5000 });
        return s.state === ReadyState.READY && s.reason === "" ? true : undefined;
      },
      { timeoutMs: 120_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf(procs)}`);
    });
    const before: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ipam.allocate({ network: "pods", containerId: `b${i}`, ifname: "eth0" });
      before.push(r.addresses[0]?.address ?? "");
    }
    const readyz = async (port: number) => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: r.status, body: await r.text() };
    };
    expect((await readyz(metrics[0] as number)).status).toBe(200);

    // The controller lease: SIGTERM on the controller hands it to the other server at once.
    const controller = (await any.getLeader({})).leaderId;
    const cIndex = controller === "u1" ? 0 : 1;
    procs[cIndex]?.kill("SIGTERM");
    expect(await procs[cIndex]?.exited()).toBe(0);
    const other = cluster([addresses[1 - cIndex] as string]);
    const next = await waitFor("the other server to take the controller lease", async () => {
      const l = await other.getLeader({});
      return l.leaderId !== "" && l.leaderId !== controller ? l.leaderId : undefined;
    });
    expect(next).toBe(cIndex === 0 ? "u2" : "u1");
    const restarted = spawnIpamd(`${procs[cIndex]?.name}'`, procs[cIndex]?.args ?? []);
    procs.push(restarted);
    await serving(cluster([addresses[cIndex] as string]), procs);

    // etcd goes away.
    await etcd.members[0]?.kill("SIGKILL");
    for (const port of metrics) {
      const r = await waitFor("/readyz to say not ready", async () => {
        const x = await readyz(port);
        return x.status === 503 ? x : undefined;
      });
      expect(r.body).toContain("etcd");
    }
    const degraded = await waitFor(
      "the agent to report the cluster unreachable",
      async () => {
        const s = await ipam.status({}, { deadlineMs: 5000 });
        return s.reason.includes("cluster unreachable") ? s : undefined;
      },
      { timeoutMs: 120_000 },
    );
    expect(degraded.state).toBe(ReadyState.READY);
    const during: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ipam.allocate({ network: "pods", containerId: `d${i}`, ifname: "eth0" });
      during.push(r.addresses[0]?.address ?? "");
    }
    expect(new Set([...before, ...during]).size).toBe(10);
    const write = await any
      .registerNode({ nodeId: "while-down", torId: "tor-a1-1" }, { deadlineMs: 3000 })
      .catch((e: unknown) => e);
    expect(write).toBeInstanceOf(Error);

    // etcd comes back: ready again, writes commit, every allocation is still held.
    etcd.members[0]?.restart();
    for (const port of metrics) {
      await waitFor(
        "/readyz to say ready again",
        async () => ((await readyz(port)).status === 200 ? true : undefined),
        {
          timeoutMs: 120_000,
        },
      );
    }
    await waitFor(
      "a write to commit again",
      () => any.registerNode({ nodeId: "after", torId: "tor-a1-1" }, { deadlineMs: 5000 }),
      {
        timeoutMs: 120_000,
      },
    );
    await waitFor(
      "the agent to see the cluster again",
      async () => {
        const s = await ipam.status({}, { deadlineMs: 5000 });
        return s.reason === "" ? true : undefined;
      },
      { timeoutMs: 120_000 },
    );
    const held = await ipam.listAllocations({ pageSize: 100 });
    expect(held.allocations.map((a) => a.addresses[0]?.address).sort()).toEqual(
      [...before, ...during].sort(),
    );
  }, 400_000);
});

describe("etcd store: TLS and etcd authentication", () => {
  it("works over https with a user and password, and refuses to start with a wrong password", async () => {
    const root = tempDir("ipamd-etcd-auth");
    const certs = makeCerts(root);
    const etcd = await startEtcdCluster(1, {
      tls: { ca: certs.caFile, cert: certs.certFile, key: certs.keyFile },
    });
    const endpoint = `https://${etcd.members[0]?.endpoint}`;
    const tlsCtl = ["--cacert", certs.caFile];
    etcdctl(endpoint, [...tlsCtl, "user", "add", "root:root-pass"]);
    etcdctl(endpoint, [...tlsCtl, "user", "add", "ipamd:s3cret"]);
    etcdctl(endpoint, [...tlsCtl, "role", "add", "ipamd"]);
    const prefix = newPrefix();
    etcdctl(endpoint, [
      ...tlsCtl,
      "role",
      "grant-permission",
      "ipamd",
      "--prefix=true",
      "readwrite",
      `${prefix}/`,
    ]);
    etcdctl(endpoint, [...tlsCtl, "user", "grant-role", "ipamd", "ipamd"]);
    etcdctl(endpoint, [...tlsCtl, "auth", "enable"]);
    const password = join(root, "etcd-password");
    writeFileSync(password, "s3cret\n", { mode: 0o600 });
    const flags = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      endpoint,
      "--etcd-prefix",
      prefix,
      "--etcd-tls-ca",
      certs.caFile,
      "--etcd-username",
      "ipamd",
    ];
    const a1 = `127.0.0.1:${await freePort()}`;
    const small = ["--etcd-snapshot-entries", "20", "--etcd-log-retention", "15"];
    const s1 = server("t1", a1, [...flags, "--etcd-password-file", password], small);
    const c1 = cluster([a1]);
    await serving(c1, [s1]);
    const created = await c1.registerNode({ nodeId: "n-tls", torId: "tor-a1-1" });
    expect(created.created).toBe(true);
    // The role limited to the prefix is enough for all ipamd does, compaction included: etcd's
    // history behind the snapshot goes (read here as root).
    for (let i = 0; i < 30; i++) {
      await c1.registerNode({ nodeId: "n-tls", torId: "tor-a1-1", labels: { i: `${i}` } });
    }
    const asRoot = [...tlsCtl, "--user", "root:root-pass"];
    await waitFor(
      "etcd to be compacted by ipamd's limited user",
      async () => {
        await c1.registerNode({
          nodeId: "n-tls",
          torId: "tor-a1-1",
          labels: { t: `${Date.now()}` },
        });
        try {
          etcdctl(endpoint, [...asRoot, "get", `${prefix}/log/`, "--prefix", "--rev", "2"]);
          return undefined;
        } catch (err) {
          return (err as Error).message.includes("compacted") ? true : undefined;
        }
      },
      { timeoutMs: 180_000, intervalMs: 2000 },
    );

    writeFileSync(password, "wrong\n", { mode: 0o600 });
    const bad = server("t2", `127.0.0.1:${await freePort()}`, [
      ...flags,
      "--etcd-password-file",
      password,
    ]);
    expect(await bad.exited()).toBe(1);
    expect(bad.log.join("\n")).toContain("--etcd-username");
  }, 300_000);
});

describe("etcd store: mutual TLS to etcd", () => {
  it("works with a client certificate (etcd --client-cert-auth), and exits 1 naming the flags without one", async () => {
    const root = tempDir("ipamd-etcd-mtls");
    const certs = makeCerts(root);
    const etcd = await startEtcdCluster(1, {
      tls: { ca: certs.caFile, cert: certs.certFile, key: certs.keyFile, clientCertAuth: true },
    });
    const endpoint = `https://${etcd.members[0]?.endpoint}`;
    const flags = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      endpoint,
      "--etcd-prefix",
      newPrefix(),
      "--etcd-tls-ca",
      certs.caFile,
    ];
    const a1 = `127.0.0.1:${await freePort()}`;
    const s1 = server("m1", a1, [
      ...flags,
      "--etcd-start-timeout",
      "20",
      "--etcd-tls-cert",
      certs.certFile,
      "--etcd-tls-key",
      certs.keyFile,
    ]);
    const c1 = cluster([a1]);
    await serving(c1, [s1]);
    expect((await c1.registerNode({ nodeId: "n-mtls", torId: "tor-a1-1" })).created).toBe(true);

    // Refused at every attempt, it can only fail: it gives up after 2 s, not after 20 s of
    // retries (the failure named is the same).
    const bad = server("m2", `127.0.0.1:${await freePort()}`, [
      ...flags,
      "--etcd-start-timeout",
      "2",
    ]);
    expect(await bad.exited()).toBe(1);
    expect(bad.log.join("\n")).toContain("--etcd-endpoints");
  }, 300_000);
});
