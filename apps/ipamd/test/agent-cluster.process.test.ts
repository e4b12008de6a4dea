import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  FamilySelection,
  type IpamClient,
  RaftRole,
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

// Three `ipamd --role server` processes and two `ipamd --role agent` processes on 127.0.0.1,
// each with its own data dir. Both agents sit under TOR tor-a1-1, so their blocks come from the
// same subnets. Everything is SIGKILLed by PID at the end.

const clients: Array<{ close(): void }> = [];

afterAll(async () => {
  for (const c of clients) c.close();
  await killAll();
});

describe("ipamd: 3 servers + 2 agents as separate processes", () => {
  const root = tempDir("ipamd-agents-cluster");
  const procs: IpamdProcess[] = [];
  const addresses: string[] = [];
  const agents: Array<{ id: string; ipam: IpamClient; proc: IpamdProcess }> = [];

  /** Containers c<from>..c<to - 1> on both agents at once; each agent's first addresses. */
  async function allocateOnBoth(from: number, to: number): Promise<[string[], string[]]> {
    const held = await Promise.all(
      agents.map(async (a) => {
        const mine: string[] = [];
        for (let i = from; i < to; i++) {
          const r = await a.ipam.allocate({
            network: "pods",
            containerId: `c${i}`,
            ifname: "eth0",
          });
          mine.push(r.addresses[0]?.address ?? "");
        }
        return mine;
      }),
    );
    return held as [string[], string[]];
  }

  it("both agents allocate 200 addresses each; no address is held by both", async () => {
    for (let i = 1; i <= 3; i++) addresses.push(`127.0.0.1:${await freePort()}`);
    const serverArgs = (i: number) => [
      "--role",
      "server",
      "--node-id",
      `s${i}`,
      "--data-dir",
      join(root, `s${i}`),
      "--grpc-addr",
      addresses[i - 1] as string,
      "--metrics-addr",
      "off",
      "--election-ms",
      "500",
      "--log-level",
      "warn",
      ...(i === 1 ? ["--bootstrap"] : ["--join", addresses[0] as string]),
    ];
    for (let i = 1; i <= 3; i++) procs.push(spawnIpamd(`s${i}`, serverArgs(i)));
    const l1: ClusterClient = createClusterClient({ addresses, deadlineMs: 30_000 });
    clients.push(l1);
    await waitFor("three voters with a leader", async () => {
      const st = await l1.getStatus({}, { deadlineMs: 5000 });
      const leader = await l1.getLeader({}, { deadlineMs: 5000 });
      return st.members.length === 3 &&
        leader.leaderId !== "" &&
        (st.role === RaftRole.LEADER || st.role === RaftRole.FOLLOWER)
        ? st
        : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf(procs)}`);
    });

    for (const id of ["agent-x", "agent-y"]) {
      const dir = join(root, id);
      const sock = join(dir, "ipamd.sock");
      const proc = spawnIpamd(id, [
        "--role",
        "agent",
        "--servers",
        addresses.join(","),
        "--node-id",
        id,
        "--tor",
        "tor-a1-1",
        "--data-dir",
        dir,
        "--unix-socket",
        sock,
        "--metrics-addr",
        "off",
        "--log-level",
        "warn",
      ]);
      procs.push(proc);
      const ipam = createIpamClient({ addresses: [`unix:${sock}`], deadlineMs: 30_000 });
      clients.push(ipam);
      agents.push({ id, ipam, proc });
    }
    for (const a of agents) {
      await waitFor(`${a.id} to be ready`, async () => {
        const s = await a.ipam.status({}, { deadlineMs: 5000 });
        return s.state === ReadyState.READY && s.reason === "" ? s : undefined;
      }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf(procs)}`);
      });
    }

    // 200 allocations on each agent, the two agents running at the same time.
    const [x, y] = await allocateOnBoth(0, 200);
    expect(new Set(x).size).toBe(200);
    expect(new Set(y).size).toBe(200);
    const shared = x.filter((a) => new Set(y).has(a));
    expect(shared).toEqual([]);

    // The cluster leased disjoint blocks to the two nodes, holding every address handed out.
    const bx = (await l1.getNodeLeases({ nodeId: "agent-x" })).blocks.map((b) => b.cidr);
    const by = (await l1.getNodeLeases({ nodeId: "agent-y" })).blocks.map((b) => b.cidr);
    expect(bx.filter((b) => by.includes(b))).toEqual([]);
    for (const [a, blocks] of [
      [agents[0], bx],
      [agents[1], by],
    ] as const) {
      const local = await a?.ipam.getNodeBlocks({});
      for (const b of local?.blocks ?? []) expect(blocks).toContain(b.cidr);
    }
  });

  it("keeps allocating through a leader SIGKILL and leases new blocks from the new leader", async () => {
    const l1 = createClusterClient({ addresses, deadlineMs: 30_000 });
    clients.push(l1);
    // Under load an election may be under way: wait for a leader to be named.
    const leader = await waitFor("a leader", async () => {
      const l = await l1.getLeader({});
      return addresses.includes(l.leaderAddress) ? l : undefined;
    });
    const victim = procs[addresses.indexOf(leader.leaderAddress)] as IpamdProcess;
    expect(victim.name).toBe(leader.leaderId);
    victim.kill("SIGKILL");
    await victim.exited();
    const before = new Map<string, number>();
    for (const id of ["agent-x", "agent-y"]) {
      before.set(id, (await l1.getNodeLeases({ nodeId: id })).blocks.length);
    }
    // 300 more per agent: more than the spare blocks they hold, so new leases must commit
    // through the new leader.
    const [x, y] = await allocateOnBoth(200, 500);
    expect(new Set([...x, ...y]).size).toBe(600);
    for (const a of agents) {
      const after = (await l1.getNodeLeases({ nodeId: a.id })).blocks.length;
      expect(after).toBeGreaterThan(before.get(a.id) ?? 0);
      await waitFor(`${a.id} to report the cluster reachable`, async () => {
        const s = await a.ipam.status({});
        return s.reason === "" ? s : undefined;
      });
    }
    const newLeader = await l1.getLeader({});
    expect(newLeader.leaderId).not.toBe(leader.leaderId);
  });
  it("serves static addresses through the cluster: leases the block that holds one, refuses another node's block naming it", async () => {
    const l1 = createClusterClient({ addresses, deadlineMs: 5000 });
    clients.push(l1);
    const [x, y] = agents as [(typeof agents)[0], (typeof agents)[0]];
    const leased = async (id: string) =>
      (await l1.getNodeLeases({ nodeId: id })).blocks.map((b) => b.cidr);
    const byY = (await leased("agent-y")).filter(
      (c) => c.startsWith("10.99.") && c.endsWith("/26"),
    );
    // An address in a block agent-y holds: agent-y's to allocate from, never split.
    const ofY = `${(byY[0] as string).split("/")[0]?.replace(/\.(\d+)$/, (_m, d) => `.${Number(d) + 10}`)}`;
    await expect(
      x.ipam.allocate({
        network: "pods",
        containerId: "static-1",
        ifname: "eth0",
        requestedAddresses: [ofY],
      }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("leased to node agent-y"),
    });
    // An address in a block nobody holds: the agent leases that very block and claims it.
    const taken = new Set([...(await leased("agent-x")), ...(await leased("agent-y"))]);
    const free = Array.from({ length: 32 }, (_, i) => `10.99.${i >> 2}.${(i & 3) * 64}/26`)
      .reverse()
      .find((c) => !taken.has(c)) as string;
    const wanted = free.replace(/\.(\d+)\/26$/, (_m, d) => `.${Number(d) + 7}`);
    const got = await x.ipam.allocate({
      network: "pods",
      containerId: "static-1",
      ifname: "eth0",
      requestedAddresses: [wanted],
    });
    expect(got.addresses.map((a) => a.address)).toEqual([wanted]);
    expect(await leased("agent-x")).toContain(free);
    const again = await x.ipam.allocate({
      network: "pods",
      containerId: "static-1",
      ifname: "eth0",
      requestedAddresses: [wanted],
    });
    expect(again.addresses.map((a) => a.address)).toEqual([wanted]);
    await expect(
      y.ipam.allocate({
        network: "pods",
        containerId: "static-2",
        ifname: "eth0",
        requestedAddresses: [wanted],
      }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("leased to node agent-x"),
    });
    // Direct mode (management, one address at a time in the cluster): exact, and held once.
    const mgmt = await x.ipam.allocate({
      network: "mgmt",
      containerId: "static-3",
      ifname: "eth0",
      purpose: "management",
      requestedAddresses: ["10.99.9.50"],
    });
    expect(mgmt.addresses.map((a) => a.address)).toEqual(["10.99.9.50"]);
    await expect(
      y.ipam.allocate({
        network: "mgmt",
        containerId: "static-4",
        ifname: "eth0",
        purpose: "management",
        requestedAddresses: ["10.99.9.50"],
      }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("held by mgmt/static-3/eth0"),
    });
    // A typo in the purpose is an argument error naming the known purposes, on Allocate and Status.
    await expect(
      x.ipam.allocate({ network: "pods", containerId: "typo", ifname: "eth0", purpose: "storge" }),
    ).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("purposes: default, management, storage"),
    });
    await expect(x.ipam.status({ purpose: "storge" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    const ready = await y.ipam.status({
      purpose: "management",
      families: FamilySelection.DUAL_STACK,
    });
    expect(ready.state).toBe(ReadyState.READY);
  });
});
