import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClusterClient, Family, RaftRole } from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, killAll, logsOf, spawnIpamd, tempDir, waitFor } from "./helpers/processes.js";
import {
  client,
  closeClients,
  keepClient,
  restart,
  serverArgs,
  startServer,
  TOR,
  waitForGroup,
} from "./helpers/servers.js";

// Real `ipamd` server processes on 127.0.0.1 in one- and two-server setups: catching up from a
// snapshot, a single bootstrapped server, refusals at start, mutual TLS, the topology file, and
// role all's Cluster API. Each test has its own servers and data dirs.

afterAll(async () => {
  closeClients();
  await killAll();
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
  // The server identity (may call every RPC, Raft included); see docs/operations.md.
  writeFileSync(
    join(dir, "srv.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,URI:spiffe://ipam.test/server/any\n",
  );
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
    const secure = (address: string) =>
      keepClient(
        createClusterClient({
          addresses: [address],
          deadlineMs: 30_000,
          tls: {
            ca: readFileSync(certs.ca),
            cert: readFileSync(certs.cert),
            key: readFileSync(certs.key),
          },
        }),
      );
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
    await waitFor("the leader to log that it applied the topology", () =>
      s1.proc.log.some((l) => l.includes("topology applied")) ? true : undefined,
    );
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
