import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  FamilySelection,
  type IpamClient,
  ReadyState,
} from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// `ipamd --role agent` as a real process against a real role-all process (its Cluster API on
// TCP); both are SIGKILLed by PID. The agent is node agent-1 under TOR tor-a1-1 of the example
// topology: block-mode default addresses from 10.99.0.0/21, direct-mode management addresses
// from 10.99.9.0/26.

const clients: Array<{ close(): void }> = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
});

function ipam(socket: string): IpamClient {
  const c = createIpamClient({ addresses: [`unix:${socket}`], maxAttempts: 1, deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

function cluster(address: string): ClusterClient {
  const c = createClusterClient({ addresses: [address], deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: r.status, body: await r.text() };
}

describe("ipamd --role agent against one role-all server", () => {
  const root = tempDir("ipamd-agent");
  const sock = join(root, "agent", "ipamd.sock");
  let serverAddress = "";
  let metricsPort = 0;
  let server: IpamdProcess;
  let agent: IpamdProcess;
  let serverArgs: string[] = [];
  let agentArgs: string[] = [];
  const client = () => ipam(sock);
  /** Every address handed out by the agent, by "network/container/ifname". */
  const handed = new Map<string, string>();

  const waitStatus = (c: IpamClient, what: string, ok: (reason: string) => boolean) =>
    waitFor(what, async () => {
      const s = await c.status({}, { deadlineMs: 5000 });
      return s.state === ReadyState.READY && ok(s.reason) ? s : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([server, agent])}`);
    });

  async function allocateNew(c: IpamClient, container: string, purpose = "") {
    const r = await c.allocate({
      network: "pods",
      containerId: container,
      ifname: "eth0",
      purpose,
    });
    const address = r.addresses[0]?.address ?? "";
    expect([...handed.values()]).not.toContain(address);
    handed.set(`${purpose}/${container}`, address);
    return r.addresses[0];
  }

  it("allocates over its unix socket from blocks the cluster leased to it", async () => {
    serverAddress = `127.0.0.1:${await freePort()}`;
    metricsPort = await freePort();
    serverArgs = [
      "--data-dir",
      join(root, "server"),
      "--unix-socket",
      join(root, "server", "ipamd.sock"),
      "--grpc-addr",
      serverAddress,
      "--metrics-addr",
      "off",
      "--node-id",
      "srv-1",
      "--tor",
      "tor-b1-1",
      "--election-ms",
      "500",
      "--log-level",
      "warn",
    ];
    agentArgs = [
      "--role",
      "agent",
      "--servers",
      serverAddress,
      "--node-id",
      "agent-1",
      "--tor",
      "tor-a1-1",
      "--data-dir",
      join(root, "agent"),
      "--unix-socket",
      sock,
      "--metrics-addr",
      `127.0.0.1:${metricsPort}`,
      "--log-level",
      "info",
    ];
    server = spawnIpamd("server", serverArgs);
    agent = spawnIpamd("agent", agentArgs);
    const c = client();
    await waitStatus(c, "the agent to be ready", (reason) => reason === "");
    for (let i = 0; i < 50; i++) {
      const a = await allocateNew(c, `a${i}`);
      expect(a?.address).toMatch(/^10\.99\.[0-7]\./);
      expect(a?.subnetId).toBe("tor-a1-1-default-v4");
    }
    const leases = await cluster(serverAddress).getNodeLeases({ nodeId: "agent-1" });
    const blocks = new Set(leases.blocks.map((b) => b.cidr));
    expect(blocks.size).toBeGreaterThan(0);
    const local = await c.getNodeBlocks({});
    for (const b of local.blocks) expect(blocks.has(b.cidr)).toBe(true);
    expect(await readyz(metricsPort)).toEqual({ status: 200, body: "ready\n" });
  });

  it("allocates direct-mode addresses per IP in the cluster, concurrent requests batched", async () => {
    const c = client();
    const got = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        c.allocate({
          network: "mgmt",
          containerId: `m${i}`,
          ifname: "eth1",
          purpose: "management",
          families: FamilySelection.IPV4,
        }),
      ),
    );
    const addresses = got.map((r) => r.addresses[0]?.address ?? "");
    expect(new Set(addresses).size).toBe(8);
    for (const [i, r] of got.entries()) {
      expect(r.addresses[0]?.subnetId).toBe("tor-a1-1-management-v4");
      expect(r.addresses[0]?.address).toMatch(/^10\.99\.9\./);
      handed.set(`management/m${i}`, r.addresses[0]?.address ?? "");
    }
    // L1 holds them, owned by their keys.
    const l1 = cluster(serverAddress);
    const direct = (await l1.getNodeLeases({ nodeId: "agent-1" })).direct;
    expect(direct.map((d) => d.address?.address).sort()).toEqual([...addresses].sort());
    expect(direct.find((d) => d.key?.containerId === "m3")?.address?.address).toBe(addresses[3]);
    // Idempotent; Release gives the address back to L1.
    const again = await c.allocate({
      network: "mgmt",
      containerId: "m3",
      ifname: "eth1",
      purpose: "management",
    });
    expect(again.addresses[0]?.address).toBe(addresses[3]);
    const rel = await c.release({ network: "mgmt", containerId: "m7", ifname: "eth1" });
    expect(rel.addresses).toEqual([addresses[7]]);
    handed.delete("management/m7");
    const after = (await l1.getNodeLeases({ nodeId: "agent-1" })).direct;
    expect(after.map((d) => d.address?.address)).not.toContain(addresses[7]);
    expect(after).toHaveLength(7);
  });

  it("keeps every allocation across an agent SIGKILL and never hands an address out twice", async () => {
    agent.kill("SIGKILL");
    await agent.exited();
    agent = spawnIpamd("agent'", agentArgs);
    const c = client();
    await waitStatus(c, "the restarted agent to be ready", (reason) => reason === "");
    for (let i = 0; i < 50; i++) {
      const r = await c.allocate({ network: "pods", containerId: `a${i}`, ifname: "eth0" });
      expect(r.addresses[0]?.address).toBe(handed.get(`/a${i}`));
    }
    const m3 = await c.check({ network: "mgmt", containerId: "m3", ifname: "eth1" });
    expect(m3.ok).toBe(true);
    expect(m3.addresses[0]?.address).toBe(handed.get("management/m3"));
    for (let i = 50; i < 100; i++) await allocateNew(c, `a${i}`);
  });

  it("keeps allocating from held blocks while the cluster is down, says so, fails only when they run out, and recovers", async () => {
    server.kill("SIGKILL");
    await server.exited();
    const c = client();
    const degraded = await waitStatus(c, "Status to report the cluster unreachable", (reason) =>
      reason.includes("cluster unreachable"),
    );
    expect(degraded.reason).toBe("cluster unreachable: allocating from held blocks");
    expect(await readyz(metricsPort)).toEqual({
      status: 200,
      body: "ready: cluster unreachable, allocating from held blocks\n",
    });
    for (let i = 100; i < 110; i++) await allocateNew(c, `a${i}`);
    // Direct mode needs L1: refused at once with "try again".
    await expect(
      c.allocate({ network: "mgmt", containerId: "m-down", ifname: "eth1", purpose: "management" }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringContaining("try again") });

    // An agent restarted while no server answers starts from the blocks its store holds.
    agent.kill("SIGKILL");
    await agent.exited();
    agent = spawnIpamd("agent''", agentArgs);
    await waitStatus(c, "the agent to start from its store", (reason) =>
      reason.includes("cluster unreachable"),
    );
    for (let i = 0; i < 110; i++) {
      const r = await c.allocate({ network: "pods", containerId: `a${i}`, ifname: "eth0" });
      expect(r.addresses[0]?.address).toBe(handed.get(`/a${i}`));
    }

    // Allocate until the held blocks run dry (bounded: they hold far fewer than 5000).
    let failure: unknown;
    let n = 0;
    for (let i = 1000; i < 6000 && failure === undefined; i++) {
      try {
        await allocateNew(c, `a${i}`);
        n++;
      } catch (err) {
        failure = err;
      }
    }
    expect(n).toBeGreaterThan(0);
    expect(failure).toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining("try again"),
    });
    // Status now says the node cannot allocate (CNI STATUS 50), /readyz still that it is degraded.
    const exhausted = await c.status({});
    expect(exhausted.state).toBe(ReadyState.EXHAUSTED);
    expect(exhausted.reason).toContain("cluster unreachable");

    server = spawnIpamd("server'", serverArgs);
    await waitStatus(c, "the agent to see the cluster again", (reason) => reason === "");
    const more = await waitFor("an allocation to succeed after recovery", async () =>
      allocateNew(c, "after-recovery"),
    );
    expect(more?.address).toMatch(/^10\.99\./);
    const leases = await cluster(serverAddress).getNodeLeases({ nodeId: "agent-1" });
    expect(leases.blocks.map((b) => b.cidr)).toContain(more?.blockCidr);
    expect(await readyz(metricsPort)).toEqual({ status: 200, body: "ready\n" });
  });
});
