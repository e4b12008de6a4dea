import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  Family,
  type GetStatusResponse,
  MemberRole,
  RaftRole,
} from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import { afterAll, describe, expect, it } from "vitest";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  runIpamdCommand,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// Real `ipamd --role server` processes on 127.0.0.1 forming a Raft group over gRPC, each with
// its own data dir (SQLite). Leaders are killed with SIGKILL by PID.

const ELECTION_MS = 500;
const TOR = [...exampleTopology().tors.keys()][0] ?? "";

interface Server {
  readonly id: string;
  readonly address: string;
  readonly dataDir: string;
  proc: IpamdProcess;
  readonly client: ClusterClient;
}

const clients: ClusterClient[] = [];

function client(addresses: readonly string[]): ClusterClient {
  const c = createClusterClient({ addresses, deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

function serverArgs(id: string, address: string, dataDir: string, extra: readonly string[]) {
  return [
    "--role",
    "server",
    "--node-id",
    id,
    "--data-dir",
    dataDir,
    "--grpc-addr",
    address,
    "--metrics-addr",
    "off",
    "--election-ms",
    String(ELECTION_MS),
    "--log-level",
    "info",
    ...extra,
  ];
}

async function startServer(id: string, extra: readonly string[], root: string): Promise<Server> {
  const address = `127.0.0.1:${await freePort()}`;
  const dataDir = join(root, id);
  const proc = spawnIpamd(id, serverArgs(id, address, dataDir, extra));
  return { id, address, dataDir, proc, client: client([address]) };
}

function restart(server: Server): void {
  server.proc = spawnIpamd(`${server.id}'`, server.proc.args);
}

/** GetStatus of every server, once all answer. */
async function statuses(servers: readonly Server[]): Promise<GetStatusResponse[]> {
  return Promise.all(servers.map((s) => s.client.getStatus({}, { deadlineMs: 5000 })));
}

/** Waits until all `servers` agree on one leader among them and list `voters` as voters. */
async function waitForGroup(
  servers: readonly Server[],
  voters: readonly string[],
): Promise<GetStatusResponse[]> {
  return waitFor(
    `a leader and voters ${voters.join(",")} on ${servers.map((s) => s.id).join(",")}`,
    async () => {
      const all = await statuses(servers);
      const leader = all[0]?.leaderId ?? "";
      if (leader === "" || !all.every((st) => st.leaderId === leader)) return undefined;
      if (all.filter((st) => st.role === RaftRole.LEADER).length !== 1) return undefined;
      for (const st of all) {
        const v = st.members
          .filter((m) => m.role === MemberRole.VOTER)
          .map((m) => m.id)
          .sort();
        if (v.join(",") !== [...voters].sort().join(",")) return undefined;
      }
      return all;
    },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(servers.map((s) => s.proc))}`);
  });
}

afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
});

describe("ipamd --role server: a Raft group of server processes", () => {
  const root = tempDir("ipamd-servers");
  const servers: Server[] = [];
  const leaderOf = (all: readonly GetStatusResponse[]): Server => {
    const id = all[0]?.leaderId;
    const s = servers.find((x) => x.id === id);
    if (s === undefined) throw new Error(`leader ${id} is not one of the servers`);
    return s;
  };
  /** The blocks a server's replica holds for `node` (stale read: what that replica applied). */
  const blocksOn = async (s: Server, node: string) =>
    (await s.client.listBlocks({ nodeId: node, allowStale: true }, { deadlineMs: 5000 })).blocks;

  it("forms a group: one --bootstrap and two --join servers become three voters with one leader", async () => {
    servers.push(await startServer("s1", ["--bootstrap"], root));
    const seed = servers[0]?.address ?? "";
    servers.push(await startServer("s2", ["--join", seed], root));
    servers.push(await startServer("s3", ["--join", seed], root));
    const all = await waitForGroup(servers, ["s1", "s2", "s3"]);
    const clusterIds = new Set(all.map((st) => st.clusterId));
    expect(clusterIds.size).toBe(1);
    expect([...clusterIds][0]).not.toBe("");
    for (const st of all) {
      expect(st.members.map((m) => [m.id, m.address])).toEqual(
        servers.map((s) => [s.id, s.address]),
      );
    }
    // GetLeader names the same leader with its advertise address everywhere.
    const leader = leaderOf(all);
    for (const s of servers) {
      const l = await s.client.getLeader({});
      expect(l.leaderId).toBe(leader.id);
      expect(l.leaderAddress).toBe(leader.address);
    }
  });

  it("forwards a write sent to a follower to the leader; it is applied on every server", async () => {
    const leader = leaderOf(await waitForGroup(servers, ["s1", "s2", "s3"]));
    const follower = servers.find((s) => s.id !== leader.id) as Server;
    const created = await follower.client.registerNode({ nodeId: "node-a", torId: TOR });
    expect(created.created).toBe(true);
    const leased = await follower.client.leaseBlock({
      nodeId: "node-a",
      purpose: "default",
      family: Family.IPV4,
      requestId: "lease-1",
    });
    const cidr = leased.block?.cidr ?? "";
    expect(cidr).toMatch(/^10\.99\./);
    // Retrying the same request_id on another follower answers the same block.
    const other = servers.find((s) => s.id !== leader.id && s.id !== follower.id) as Server;
    const again = await other.client.leaseBlock({
      nodeId: "node-a",
      purpose: "default",
      family: Family.IPV4,
      requestId: "lease-1",
    });
    expect(again.block?.cidr).toBe(cidr);
    for (const s of servers) {
      const blocks = await waitFor(`${s.id} to apply the lease`, async () => {
        const b = await blocksOn(s, "node-a");
        return b.length > 0 ? b : undefined;
      });
      expect(blocks.map((b) => b.cidr)).toEqual([cidr]);
    }
    // A linearizable read on a follower sees the write at once.
    const leases = await follower.client.getNodeLeases({ nodeId: "node-a" });
    expect(leases.blocks.map((b) => b.cidr)).toEqual([cidr]);
  });

  it("elects a new leader after the leader is SIGKILLed; writes succeed; the killed server restarts and rejoins", async () => {
    const before = await waitForGroup(servers, ["s1", "s2", "s3"]);
    const old = leaderOf(before);
    // The block leased with request_id "lease-1" by the previous test, granted by this leader.
    const [lease1] = await blocksOn(old, "node-a");
    old.proc.kill("SIGKILL");
    await old.proc.exited();
    const rest = servers.filter((s) => s !== old);
    const after = await waitFor("a new leader among the survivors", async () => {
      const all = await statuses(rest);
      const id = all[0]?.leaderId ?? "";
      if (id === "" || id === old.id || !all.every((st) => st.leaderId === id)) return undefined;
      return all;
    });
    expect(Number(after[0]?.term)).toBeGreaterThan(Number(before[0]?.term));
    // A client knowing every server writes through whoever leads now.
    const any = client(servers.map((s) => s.address));
    const lease = await waitFor("a write to succeed after the failover", () =>
      any.leaseBlock(
        { nodeId: "node-a", purpose: "default", family: Family.IPV4, requestId: "lease-2" },
        { deadlineMs: 3000 },
      ),
    );
    expect(lease.block?.cidr).toMatch(/^10\.99\./);
    // A retry of the lease the old leader granted (same request_id, as after a lost answer) gets
    // that block from the new leader, not a second one: the id lives in the replicated state.
    const retried = await any.leaseBlock({
      nodeId: "node-a",
      purpose: "default",
      family: Family.IPV4,
      requestId: "lease-1",
    });
    expect(lease1?.cidr).toMatch(/^10\.99\./);
    expect(retried.block?.cidr).toBe(lease1?.cidr);

    restart(old);
    const back = await waitForGroup(servers, ["s1", "s2", "s3"]);
    expect(back.find((st) => st.id === old.id)?.term).toBe(back[0]?.term);
    const blocks = await waitFor(`${old.id} to catch up`, async () => {
      const b = await blocksOn(old, "node-a");
      return b.length === 2 ? b : undefined;
    });
    expect(blocks.map((b) => b.cidr).sort()).toEqual(
      [...(await blocksOn(rest[0] as Server, "node-a"))].map((b) => b.cidr).sort(),
    );
  });

  it("adds a fourth server as a learner and promotes it to voter", async () => {
    const s4 = await startServer("s4", ["--join", servers.map((s) => s.address).join(",")], root);
    servers.push(s4);
    const all = await waitForGroup(servers, ["s1", "s2", "s3", "s4"]);
    expect(all.find((st) => st.id === "s4")?.role).not.toBe(RaftRole.LEARNER);
    // It went through the learner stage: added as a learner, caught up, then promoted.
    const log = s4.proc.log.join("\n");
    expect(log.indexOf("added as learner")).toBeGreaterThan(-1);
    expect(log.indexOf("joined the Raft group as a voter")).toBeGreaterThan(
      log.indexOf("added as learner"),
    );
    // It received the log: the leases written before it joined.
    const blocks = await waitFor("s4 to hold the replicated leases", async () => {
      const b = await blocksOn(s4, "node-a");
      return b.length === 2 ? b : undefined;
    });
    expect(blocks).toHaveLength(2);
    // Membership calls are idempotent: asking again for the same voter changes nothing.
    const again = await s4.client.addVoter({ id: "s4", address: s4.address });
    expect(again.members.filter((m) => m.role === MemberRole.VOTER)).toHaveLength(4);
  });

  it("removes a member on request; the group keeps writing", async () => {
    const s4 = servers.find((s) => s.id === "s4") as Server;
    const [st] = await statuses([s4]);
    if (st?.leaderId === "s4") {
      // Not the case under test: hand leadership away so s4 leaves as a follower.
      await s4.client.transferLeadership({ targetId: "s1" });
    }
    // The operator command, pointed at any server (the call is forwarded to the leader).
    const server = (servers[0] as Server).address;
    const left = await runIpamdCommand(["cluster", "leave", "--node-id", "s4", "--server", server]);
    expect(left.code, left.stderr).toBe(0);
    expect(JSON.parse(left.stdout).members.map((m: { id: string }) => m.id)).not.toContain("s4");
    const listed = await runIpamdCommand(["cluster", "members", "--server", server]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).members).toEqual(
      servers
        .filter((s) => s.id !== "s4")
        .map((s) => ({ id: s.id, address: s.address, role: "voter" })),
    );
    s4.proc.kill("SIGTERM");
    expect(await s4.proc.exited()).toBe(0);
    servers.pop();
    await waitForGroup(servers, ["s1", "s2", "s3"]);
    const any = client(servers.map((s) => s.address));
    const created = await any.registerNode({ nodeId: "node-b", torId: TOR });
    expect(created.created).toBe(true);
  });

  it("SIGTERM on the leader hands leadership over; the server restarts from its data dir", async () => {
    const leader = leaderOf(await waitForGroup(servers, ["s1", "s2", "s3"]));
    leader.proc.kill("SIGTERM");
    expect(await leader.proc.exited()).toBe(0);
    const rest = servers.filter((s) => s !== leader);
    await waitFor("the hand-over", async () => {
      const all = await statuses(rest);
      const id = all[0]?.leaderId ?? "";
      return id !== "" && id !== leader.id && all.every((st) => st.leaderId === id)
        ? true
        : undefined;
    });
    restart(leader);
    await waitForGroup(servers, ["s1", "s2", "s3"]);
  });
  it("loses no acknowledged write when the leader is SIGKILLed under load", async () => {
    await waitForGroup(servers, ["s1", "s2", "s3"]);
    const any = client(servers.map((s) => s.address));
    await any.registerNode({ nodeId: "node-w", torId: TOR });
    const acked: string[] = [];
    let failed = 0;
    let stop = false;
    let seq = 0;
    const workers = Array.from({ length: 8 }, async () => {
      // Bounded: each worker stops when told, at the latest after 60 s.
      const until = Date.now() + 60_000;
      while (!stop && Date.now() < until) {
        const requestId = `w-${seq++}`;
        try {
          const r = await any.leaseBlock(
            { nodeId: "node-w", purpose: "default", family: Family.IPV6, requestId },
            { deadlineMs: 3000 },
          );
          acked.push(r.block?.cidr ?? "");
        } catch {
          failed++;
        }
      }
    });
    await waitFor("some writes before the kill", () => (acked.length >= 20 ? true : undefined));
    const old = leaderOf(await statuses(servers));
    old.proc.kill("SIGKILL");
    await old.proc.exited();
    const before = acked.length;
    await waitFor("writes to resume after the kill", () =>
      acked.length >= before + 20 ? true : undefined,
    );
    stop = true;
    await Promise.all(workers);
    restart(old);
    await waitForGroup(servers, ["s1", "s2", "s3"]);
    expect(new Set(acked).size).toBe(acked.length);
    for (const s of servers) {
      const held = await waitFor(`${s.id} to hold every acknowledged lease`, async () => {
        const cidrs = new Set((await blocksOn(s, "node-w")).map((b) => b.cidr));
        return acked.every((c) => cidrs.has(c)) ? cidrs : undefined;
      });
      expect(held.size).toBeGreaterThanOrEqual(acked.length);
    }
    // Calls that failed during the election (`failed`) may or may not have committed: the
    // replicas may hold more blocks than were acknowledged, never fewer.
    expect(acked.length + failed).toBeGreaterThan(0);
  });

  it("comes back after every server is SIGKILLed at once and restarted with the same flags", async () => {
    const before = await waitForGroup(servers, ["s1", "s2", "s3"]);
    for (const s of servers) s.proc.kill("SIGKILL");
    await Promise.all(servers.map((s) => s.proc.exited()));
    for (const s of servers) restart(s);
    const after = await waitForGroup(servers, ["s1", "s2", "s3"]);
    expect(after[0]?.clusterId).toBe(before[0]?.clusterId);
    for (const s of servers) {
      const b = await waitFor(`${s.id} to replay its log`, async () => {
        const blocks = await blocksOn(s, "node-a");
        return blocks.length === 2 ? blocks : undefined;
      });
      expect(b).toHaveLength(2);
    }
    const any = client(servers.map((s) => s.address));
    const created = await any.registerNode({ nodeId: "node-c", torId: TOR });
    expect(created.created).toBe(true);
  });
});

describe("ipamd --role server: catching up from a snapshot", () => {
  it("a server joining after the log was compacted installs the leader's snapshot, and restarts from its own", async () => {
    const root = tempDir("ipamd-servers-snapshot");
    const small = ["--raft-snapshot-entries", "100"];
    const s1 = await startServer("c1", ["--bootstrap", ...small], root);
    await waitForGroup([s1], ["c1"]);
    // 300 entries: the leader snapshots and compacts its log (SQLite keeps nothing behind it).
    await s1.client.registerNode({ nodeId: "node-s", torId: TOR });
    for (let i = 0; i < 20; i++) {
      await Promise.all(
        Array.from({ length: 15 }, (_, k) =>
          s1.client.registerNode({ nodeId: "node-s", torId: TOR, labels: { n: `${i}-${k}` } }),
        ),
      );
    }
    const lease = await s1.client.leaseBlock({
      nodeId: "node-s",
      purpose: "default",
      family: Family.IPV4,
      requestId: "snap-1",
    });
    const leader = await s1.client.getStatus({});
    expect(Number(leader.snapshotIndex)).toBeGreaterThan(0);
    const s2 = await startServer("c2", ["--join", s1.address, ...small], root);
    await waitForGroup([s1, s2], ["c1", "c2"]);
    const st = await s2.client.getStatus({});
    expect(Number(st.snapshotIndex)).toBeGreaterThan(0);
    const leases = await s2.client.getNodeLeases({ nodeId: "node-s" });
    expect(leases.blocks.map((b) => b.cidr)).toEqual([lease.block?.cidr]);
    s2.proc.kill("SIGKILL");
    await s2.proc.exited();
    restart(s2);
    await waitForGroup([s1, s2], ["c1", "c2"]);
    const stale = await s2.client.listBlocks({ nodeId: "node-s", allowStale: true });
    expect(stale.blocks.map((b) => b.cidr)).toEqual([lease.block?.cidr]);
  });
});

describe("ipamd --role server: a bootstrapped single server", () => {
  it("restarts with the same flags (SIGTERM, start again) and keeps its state", async () => {
    const root = tempDir("ipamd-server-solo");
    const metricsPort = await freePort();
    const s = await startServer(
      "solo",
      ["--bootstrap", "--metrics-addr", `127.0.0.1:${metricsPort}`],
      root,
    );
    await waitForGroup([s], ["solo"]);
    const ready = await waitFor("/readyz", async () => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
      return r.status === 200 ? r : undefined;
    });
    expect(ready.status).toBe(200);
    await s.client.registerNode({ nodeId: "node-z", torId: TOR });
    const lease = await s.client.leaseBlock({
      nodeId: "node-z",
      purpose: "default",
      family: Family.IPV6,
      requestId: "z1",
    });
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited()).toBe(0);
    restart(s);
    const [st] = await waitForGroup([s], ["solo"]);
    expect(st?.role).toBe(RaftRole.LEADER);
    const leases = await s.client.getNodeLeases({ nodeId: "node-z" });
    expect(leases.blocks.map((b) => b.cidr)).toEqual([lease.block?.cidr]);
    // A write after the restart commits.
    const created = await s.client.registerNode({ nodeId: "node-y", torId: TOR });
    expect(created.created).toBe(true);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(text).toMatch(/^ipamd_raft_proposals_total\{result="ok"\} [1-9]/m);
    expect(text).toMatch(/^ipamd_raft_role\{role="leader"\} 1$/m);
  });

  it("refuses to start a new server with neither --bootstrap nor --join, naming the flags", async () => {
    const root = tempDir("ipamd-server-none");
    const s = await startServer("lost", [], root);
    expect(await s.proc.exited()).toBe(1);
    expect(s.proc.log.join("\n")).toContain("--bootstrap or --join");
  });

  it("a server still waiting to join stops cleanly on SIGTERM", async () => {
    const root = tempDir("ipamd-server-waiting");
    const nobody = `127.0.0.1:${await freePort()}`;
    const s = await startServer("waiting", ["--join", nobody], root);
    await waitFor("the joiner to report the unreachable server", () =>
      s.proc.log.some((l) => l.includes("servers not reachable yet")) ? true : undefined,
    );
    s.proc.kill("SIGTERM");
    expect(await s.proc.exited()).toBe(0);
    expect(s.proc.log.some((l) => l.includes("signal during start"))).toBe(true);
  });

  it("refuses a wildcard --grpc-addr without --advertise-addr, naming the flag", async () => {
    const root = tempDir("ipamd-server-wildcard");
    const port = await freePort();
    const proc = spawnIpamd("wild", [
      ...serverArgs("wild", `0.0.0.0:${port}`, join(root, "wild"), ["--bootstrap"]),
      "--insecure",
    ]);
    expect(await proc.exited()).toBe(1);
    expect(proc.log.join("\n")).toContain(
      "--advertise-addr: required when --grpc-addr binds 0.0.0.0",
    );
  });
});

/** A throw-away CA and one certificate for 127.0.0.1 (used by every server, both directions). */
function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=ca"]);
  writeFileSync(join(dir, "srv.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["req", ...ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=server"]);
  openssl(
    ["x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key"].concat([
      "-CAcreateserial",
      "-out",
      "srv.crt",
      "-days",
      "2",
      "-extfile",
      "srv.ext",
    ]),
  );
  return { ca: join(dir, "ca.crt"), cert: join(dir, "srv.crt"), key: join(dir, "srv.key") };
}

describe("ipamd --role server with mutual TLS", () => {
  it("forms a group over TLS (Raft links and join calls) and refuses cleartext clients", async () => {
    const root = tempDir("ipamd-servers-tls");
    const certs = makeCerts(root);
    const tls = ["--tls-cert", certs.cert, "--tls-key", certs.key, "--tls-ca", certs.ca];
    const s1 = await startServer("t1", ["--bootstrap", ...tls], root);
    const s2 = await startServer("t2", ["--join", s1.address, ...tls], root);
    const secure = (address: string) => {
      const c = createClusterClient({
        addresses: [address],
        deadlineMs: 30_000,
        tls: {
          ca: readFileSync(certs.ca),
          cert: readFileSync(certs.cert),
          key: readFileSync(certs.key),
        },
      });
      clients.push(c);
      return c;
    };
    const group = await waitFor("two voters over TLS", async () => {
      const all = await Promise.all([s1, s2].map((s) => secure(s.address).getStatus({})));
      return all.every((st) => st.members.length === 2 && st.leaderId === "t1") ? all : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([s1.proc, s2.proc])}`);
    });
    expect(group.map((st) => st.clusterId)[0]).toBe(group[1]?.clusterId);
    // A write sent to the follower is forwarded over TLS.
    const created = await secure(s2.address).registerNode({ nodeId: "node-tls", torId: TOR });
    expect(created.created).toBe(true);
    // A cleartext client gets nowhere.
    const plain = await s1.client.getStatus({}, { deadlineMs: 1500 }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(Error);
  });
});

describe("ipamd --role server: the topology file", () => {
  it("is applied by the leader when it changes; a follower leaves it to the leader", async () => {
    const root = tempDir("ipamd-servers-topology");
    const file = join(root, "topology.json");
    const config = toCanonicalConfig(exampleTopology()) as unknown as {
      zones: { pods: { tors: { id: string; subnets: Record<string, unknown>[] }[] }[] }[];
    };
    writeFileSync(file, JSON.stringify(config));
    const s1 = await startServer("p1", ["--bootstrap", "--topology", file], root);
    const s2 = await startServer("p2", ["--join", s1.address, "--topology", file], root);
    await waitForGroup([s1, s2], ["p1", "p2"]);
    const tor = config.zones[0]?.pods[0]?.tors[0];
    if (tor === undefined) throw new Error("example topology has no TOR");
    tor.subnets.push({
      id: `${tor.id}-extra-v4`,
      cidr: "10.99.10.0/24",
      purpose: "storage",
      gateway: "10.99.10.1",
      reserved: [],
      blockPrefix: 28,
      priority: 100,
      cooldownSeconds: 30,
    });
    writeFileSync(file, JSON.stringify(config));
    // Both watch the file; the leader proposes it, the follower reads it through the log.
    await waitFor("the new subnet on the follower", async () => {
      const t = await s2.client.getTopology({});
      return t.topologyJson.includes(`${tor.id}-extra-v4`) ? true : undefined;
    });
    await waitFor("the follower to log that it leaves the file to the leader", () =>
      s2.proc.log.some((l) => l.includes("left to the leader")) ? true : undefined,
    );
    expect(s1.proc.log.some((l) => l.includes("topology applied"))).toBe(true);
  });
});

describe("ipamd --role all on its TCP listener", () => {
  it("answers GetLeader/GetStatus as a group of one and refuses membership changes", async () => {
    const root = tempDir("ipamd-all-cluster-api");
    const address = `127.0.0.1:${await freePort()}`;
    const proc = spawnIpamd("all", [
      "--node-id",
      "solo-all",
      "--data-dir",
      root,
      "--unix-socket",
      join(root, "ipamd.sock"),
      "--grpc-addr",
      address,
      "--metrics-addr",
      "off",
    ]);
    const c = client([address]);
    const leader = await waitFor("role all to answer GetLeader", async () => {
      const l = await c.getLeader({}, { deadlineMs: 5000 });
      return l.leaderId === "" ? undefined : l;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([proc])}`);
    });
    expect(leader).toMatchObject({ leaderId: "solo-all", leaderAddress: address });
    const st = await c.getStatus({});
    expect(st.role).toBe(RaftRole.LEADER);
    expect(st.members.map((m) => m.id)).toEqual(["solo-all"]);
    const err = await c.addLearner({ id: "x", address: "127.0.0.1:1" }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("UNIMPLEMENTED");
  });
});
