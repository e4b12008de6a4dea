import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cidr } from "@ipam/bitmap";
import type { IpamClient } from "@ipam/grpc-server";
import { exampleTopology, type TopologyConfig, toCanonicalConfig } from "@ipam/topology";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProc, type ClusterFixture, startCluster } from "./helpers/cluster-fixture.js";
import { killAll, logsOf, tempDir, waitFor } from "./helpers/processes.js";

// Issue 15, items 1, 2 and 4, on real processes: three `ipamd --role server` processes (Raft over
// gRPC, SQLite each, the topology from a file they watch) and three `ipamd --role agent`
// processes under TOR tor-a1-1, all on 127.0.0.1. An operator removes subnets and nodes that
// live agents hold, drains a subnet to the end, and reloads the topology file.

const TOR = "tor-a1-1";
let c: ClusterFixture;
let x: AgentProc;
let y: AgentProc;
let z: AgentProc;
let topologyFile: string;

function inside(address: string, cidr: string): boolean {
  return Cidr.parse(cidr).contains(Cidr.parse(`${address}/${address.includes(":") ? 128 : 32}`));
}

async function allocate(ipam: IpamClient, id: string, purpose: string): Promise<string> {
  const r = await ipam.allocate({ network: "pods", containerId: id, ifname: "eth0", purpose });
  return r.addresses[0]?.address ?? "";
}

async function release(ipam: IpamClient, id: string): Promise<void> {
  await ipam.release({ network: "pods", containerId: id, ifname: "eth0" });
}

/**
 * Allocates probes of `purpose` on `agent` until one fails (the agent stopped allocating from
 * the subnet); returns the probes that succeeded meanwhile (released again).
 */
async function waitUntilRefused(agent: AgentProc, purpose: string, tag: string): Promise<void> {
  let n = 0;
  const taken: string[] = [];
  await waitFor(
    `${agent.id} to stop allocating ${purpose}`,
    async () => {
      const id = `${tag}-probe-${n++}`;
      try {
        await allocate(agent.ipam, id, purpose);
        taken.push(id);
        return undefined;
      } catch (err) {
        return err;
      }
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(c.procs())}`);
  });
  for (const id of taken) await release(agent.ipam, id);
}

function config(extra: readonly object[]): TopologyConfig {
  const cfg = structuredClone(toCanonicalConfig(exampleTopology())) as unknown as {
    zones: { id: string; pods: { id: string; tors: { id: string; subnets: object[] }[] }[] }[];
  };
  const tor = cfg.zones[0]?.pods[0]?.tors.find((t) => t.id === TOR);
  tor?.subnets.push(...extra);
  return cfg as unknown as TopologyConfig;
}

beforeAll(async () => {
  const root = tempDir("ipamd-operator");
  topologyFile = join(root, "topology.json");
  writeFileSync(topologyFile, JSON.stringify(config([])));
  c = await startCluster(root, ["--topology", topologyFile]);
  x = await c.startAgent("agent-x", TOR);
  y = await c.startAgent("agent-y", TOR);
  z = await c.startAgent("agent-z", TOR);
}, 180_000);

afterAll(async () => {
  c?.close();
  await killAll();
});

describe("operator actions never give an address to two live holders (issue 15)", () => {
  it("a forced RemoveSubnet revokes: the live holder stops allocating at once, nobody else is leased the subnet while it holds it, and it goes once returned", async () => {
    const blue = {
      id: "blue",
      cidr: "10.99.10.0/26",
      purpose: "blue",
      scope: TOR,
      blockPrefix: 28,
      cooldownSeconds: 1,
    };
    await c.l1.addSubnet({ subnet: blue });
    const held = ["b0", "b1", "b2"];
    const xAddresses: string[] = [];
    for (const id of held) xAddresses.push(await allocate(x.ipam, id, "blue"));
    for (const a of xAddresses) expect(inside(a, blue.cidr)).toBe(true);

    const removed = await c.l1.removeSubnet({ subnetId: "blue", force: true });
    await waitUntilRefused(x, "blue", "x");

    // Nobody else gets the subnet's addresses while agent-x holds them: its range cannot be
    // added again (today's bug: it could, and agent-y was handed agent-x's addresses), and
    // agent-y is leased nothing from it.
    const again = await c.l1.addSubnet({ subnet: { ...blue, id: "blue-again" } }).then(
      () => "added",
      (err: { code?: string }) => err.code,
    );
    const ys: string[] = [];
    for (let i = 0; i < 3; i++) {
      await allocate(y.ipam, `y-blue-${i}`, "blue").then(
        (a) => ys.push(a),
        () => undefined,
      );
    }
    expect(ys.filter((a) => xAddresses.includes(a))).toEqual([]);
    expect(again).toBe("CONFLICT");
    expect(ys).toEqual([]);
    expect(removed).toMatchObject({ removed: true, removing: true });
    expect(removed.holders.map((h) => h.nodeId)).toEqual(["agent-x"]);
    expect((await c.l1.getNodeLeases({ nodeId: "agent-y" })).blocks).not.toContainEqual(
      expect.objectContaining({ subnetId: "blue" }),
    );
    const xBlocks = (await c.l1.getNodeLeases({ nodeId: "agent-x" })).blocks.filter(
      (b) => b.subnetId === "blue",
    );
    expect(xBlocks.length).toBeGreaterThan(0);
    expect(new Set(xBlocks.map((b) => b.state))).toEqual(new Set(["revoked"]));
    // The pods keep their addresses.
    for (const id of held) {
      const r = await x.ipam.check({
        network: "pods",
        containerId: id,
        ifname: "eth0",
        addresses: [],
      });
      expect(r.ok).toBe(true);
    }

    // The pods go: agent-x returns the blocks, and the subnet goes with the last one.
    for (const id of held) await release(x.ipam, id);
    await waitFor(
      "the removing subnet to go once its blocks are returned",
      async () => ((await c.l1.removeSubnet({ subnetId: "blue" })).removed ? undefined : true),
      { timeoutMs: 30_000, intervalMs: 250 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf(c.procs())}`);
    });
    // Its range is free again: added through the API once more, agent-y allocates from it.
    await c.l1.addSubnet({ subnet: { ...blue, id: "blue2" } });
    expect(inside(await allocate(y.ipam, "y-blue2", "blue"), blue.cidr)).toBe(true);
  }, 120_000);

  it("a forced DeregisterNode of a live agent revokes its blocks: it stops allocating and nobody else is leased them; declared dead, they are freed", async () => {
    for (let i = 0; i < 5; i++) await allocate(z.ipam, `z${i}`, "default");
    const zBlocks = (await c.l1.getNodeLeases({ nodeId: "agent-z" })).blocks.map((b) => b.cidr);
    expect(zBlocks.length).toBeGreaterThan(0);

    const forced = await c.l1.deregisterNode({ nodeId: "agent-z", force: true });
    await waitUntilRefused(z, "default", "z");
    expect(forced).toMatchObject({ deregistering: true, releasedBlocks: 0 });
    expect([...forced.revokedBlocks].sort()).toEqual([...zBlocks].sort());

    // agent-x takes 150 default addresses (several new blocks): none inside agent-z's blocks.
    const xs: string[] = [];
    for (let i = 0; i < 150; i++) xs.push(await allocate(x.ipam, `xd${i}`, "default"));
    for (const a of xs) for (const b of zBlocks) expect(inside(a, b), `${a} in ${b}`).toBe(false);
    const still = (await c.l1.getNodeLeases({ nodeId: "agent-z" })).blocks;
    expect(still.map((b) => [b.cidr, b.state]).sort()).toEqual(
      zBlocks.map((b) => [b, "revoked"]).sort(),
    );
    await expect(c.l1.registerNode({ nodeId: "agent-z", torId: TOR })).rejects.toMatchObject({
      code: "CONFLICT",
    });

    // Declared dead (the escape hatch): freed at once; the agent, alive after all, serves
    // nothing from them.
    const dead = await c.l1.deregisterNode({ nodeId: "agent-z", dead: true });
    expect(dead.releasedBlocks).toBe(zBlocks.length);
    await waitFor(
      "agent-z to log its lost blocks",
      () =>
        z.proc.log.some((l) => l.includes("not leased to it in the cluster")) ? true : undefined,
      { timeoutMs: 15_000 },
    );
    await expect(allocate(z.ipam, "z-after", "default")).rejects.toThrow();
    for (let i = 0; i < 150; i++) await release(x.ipam, `xd${i}`);
  }, 120_000);

  it("a drain finishes by itself, the last block included, counting the addresses still held per node", async () => {
    const green = {
      id: "green",
      cidr: "10.99.11.0/26",
      purpose: "green",
      scope: TOR,
      blockPrefix: 28,
      cooldownSeconds: 1,
    };
    await c.l1.addSubnet({ subnet: green });
    await allocate(x.ipam, "g0", "green");
    await allocate(x.ipam, "g1", "green");
    await allocate(y.ipam, "g2", "green");

    const first = await c.l1.drainSubnet({ subnetId: "green", drain: true });
    expect(first.done).toBe(false);
    const progress = (want: Record<string, number>) =>
      waitFor(
        `drain progress ${JSON.stringify(want)}`,
        async () => {
          const r = await c.l1.drainSubnet({ subnetId: "green", drain: true });
          const got = Object.fromEntries(
            r.holders.filter((h) => h.reported).map((h) => [h.nodeId, Number(h.addressesHeld)]),
          );
          // Reported since the agents saw the drain: the addresses are listed too.
          const listed = r.holders.every(
            (h) => h.reported && h.addresses.length === Number(h.addressesHeld),
          );
          return JSON.stringify(got) === JSON.stringify(want) && listed ? r : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf(c.procs())}`);
      });
    const r3 = await progress({ "agent-x": 2, "agent-y": 1 });
    expect(r3.addressesAllocated).toBe("3");
    expect(r3.holders.find((h) => h.nodeId === "agent-x")?.addresses.length).toBe(2);
    await waitUntilRefused(y, "green", "yg");

    await release(x.ipam, "g0");
    await progress({ "agent-x": 1, "agent-y": 1 });
    await release(x.ipam, "g1");
    await release(y.ipam, "g2");
    await waitFor(
      "the drain to finish",
      async () => {
        const r = await c.l1.drainSubnet({ subnetId: "green", drain: true });
        return r.done ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf(c.procs())}`);
    });
    expect(await c.l1.removeSubnet({ subnetId: "green" })).toMatchObject({
      removed: true,
      removing: false,
    });
    const topo = JSON.parse((await c.l1.getTopology({})).topologyJson) as object;
    expect(JSON.stringify(topo)).not.toContain('"green"');
  }, 120_000);

  it("a topology-file reload keeps subnets added through the API and refuses a file that clashes with one, saying how to fix it", async () => {
    const subnetIds = async () => {
      const t = JSON.stringify(JSON.parse((await c.l1.getTopology({})).topologyJson));
      return { has: (id: string) => t.includes(`"id":"${id}"`) };
    };
    // blue2 (API, agent-y holds an address there) survives a file change that adds a subnet.
    writeFileSync(
      topologyFile,
      JSON.stringify(
        config([{ id: "file-extra", cidr: "10.99.12.0/26", purpose: "extra", blockPrefix: 28 }]),
      ),
    );
    for (const s of c.servers) s.proc.kill("SIGHUP");
    await waitFor(
      "the reloaded file",
      async () => ((await subnetIds()).has("file-extra") ? true : undefined),
      { timeoutMs: 30_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf(c.procs())}`);
    });
    expect((await subnetIds()).has("blue2")).toBe(true);

    // A file that overlaps blue2 is refused, naming the API subnet and the way out.
    writeFileSync(
      topologyFile,
      JSON.stringify(
        config([
          { id: "file-extra", cidr: "10.99.12.0/26", purpose: "extra", blockPrefix: 28 },
          { id: "clash", cidr: "10.99.10.0/27", purpose: "extra", blockPrefix: 28 },
        ]),
      ),
    );
    for (const s of c.servers) s.proc.kill("SIGHUP");
    const line = await waitFor(
      "the refusal in a server log",
      () =>
        c.servers
          .flatMap((s) => s.proc.log)
          .find((l) => l.includes("refused by the cluster") && l.includes("added through the API")),
      { timeoutMs: 30_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf(c.procs())}`);
    });
    expect(line).toContain("blue2");
    expect(line).toContain("ipamd cluster remove-subnet blue2");
    const ids = await subnetIds();
    expect(ids.has("clash")).toBe(false);
    expect(ids.has("blue2")).toBe(true);
  }, 120_000);
});
