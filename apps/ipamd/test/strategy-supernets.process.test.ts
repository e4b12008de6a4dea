import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cidr } from "@ipam/bitmap";
import { type ClusterClient, createClusterClient, Family, StatsLevel } from "@ipam/grpc-server";
import type { TopologyConfig } from "@ipam/topology";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClusterFixture as RaftTrio, startCluster } from "./helpers/cluster-fixture.js";
import {
  CLUSTER_PROVIDERS,
  type ClusterFixture,
  type ClusterProvider,
} from "./helpers/cluster-providers.js";
import { killAll, logsOf, POLL_RPC_MS, tempDir, waitFor } from "./helpers/processes.js";

// Strategy per purpose and supernets that feed TORs (docs/topology.md, "Allocation strategy"
// and "Supernets"), on real servers of both cluster stores, over gRPC on loopback.

const TEST_MS = 240_000;

/**
 * One pod, two TORs. Purposes `st-tor`, `st-pod`, `st-zone` have one block in each level (TOR,
 * Pod, Zone) and differ only by strategy. `default` has a 4-block TOR subnet on tor-1 and a pod
 * supernet (carve /25, threshold 0.75) beside it.
 */
function config(threshold: number | string = 0.75, strategy = "tor"): TopologyConfig {
  const level = (purpose: string, cidr: string) => ({ cidr, purpose, blockPrefix: 27 });
  return {
    purposes: {
      default: { strategy: strategy as "tor" },
      mgmt: { strategy: "tor" },
      "st-tor": { strategy: "tor" },
      "st-pod": { strategy: "pod" },
      "st-zone": { strategy: "zone" },
    },
    zones: [
      {
        id: "z",
        subnets: ["st-tor", "st-pod", "st-zone"].map((p, i) => level(p, `10.99.200.${i * 32}/27`)),
        pods: [
          {
            id: "p",
            supernets: [
              {
                cidr: "10.99.64.0/22",
                prefix: 25,
                blockPrefix: 27,
                threshold: threshold as number,
              },
              // Feeds the TORs' direct-mode (per-address) mgmt subnets with /29s.
              {
                cidr: "10.99.96.0/24",
                prefix: 29,
                blockPrefix: 32,
                purpose: "mgmt",
                threshold: 0.5,
              },
            ],
            subnets: ["st-tor", "st-pod", "st-zone"].map((p, i) =>
              level(p, `10.99.100.${i * 32}/27`),
            ),
            tors: [
              {
                id: "tor-1",
                subnets: [
                  { id: "tor-1-default", cidr: "10.99.64.0/25", blockPrefix: 27 },
                  { id: "tor-1-mgmt", cidr: "10.99.96.0/29", purpose: "mgmt", blockPrefix: 32 },
                  ...["st-tor", "st-pod", "st-zone"].map((p, i) =>
                    level(p, `10.99.10.${i * 32}/27`),
                  ),
                ],
                nodes: [{ id: "n1" }, { id: "n2" }],
              },
              { id: "tor-2", nodes: [{ id: "n3" }] },
            ],
          },
        ],
      },
    ],
  };
}

const lease = (c: ClusterClient, nodeId: string, purpose: string) =>
  c.leaseBlock({ nodeId, purpose, family: Family.IPV4 });

/** The subnets one server reports (stale read of its own replica), with origin and strategy. */
async function subnetRows(c: ClusterClient, purpose = "default") {
  const r = await c.getStats({ level: StatsLevel.SUBNET, purpose, allowStale: true });
  return r.entries.map((e) => ({ id: e.id, origin: e.origin, strategy: e.strategy }));
}

/**
 * Leases 5 blocks for TOR tor-1 at once (two nodes, racing): the 3rd applied reaches 0.75 of
 * tor-1-default and carves 10.99.64.128/25; the 5 leave the TOR at 5/8, below the threshold.
 */
async function growTor(c: ClusterClient): Promise<string[]> {
  const blocks = await Promise.all(
    ["n1", "n2", "n1", "n2", "n1"].map((n) => lease(c, n, "default")),
  );
  return blocks.map((b) => b.block?.cidr ?? "").sort();
}

/** True for a block of the subnet the supernet carves first for tor-1 (adjacent to tor-1-default). */
const inCarved = (cidr: string | undefined): boolean =>
  cidr !== undefined && Cidr.parse("10.99.64.128/25").contains(Cidr.parse(cidr));

const CARVED = { id: "10.99.64.128/25", origin: "carved", strategy: "tor" };

describe.each(CLUSTER_PROVIDERS)(
  "strategies and supernets with the $name store",
  (provider: ClusterProvider) => {
    let fx: ClusterFixture;

    beforeAll(async () => {
      fx = await provider.start();
      await fx.client.applyTopology({ topologyJson: JSON.stringify(config()) });
    }, TEST_MS);

    afterAll(async () => {
      await fx?.stop();
    }, TEST_MS);

    it(
      "with the TOR's subnets full: tor refuses naming the strategy, pod and zone spill in order",
      async () => {
        const order = async (purpose: string): Promise<string[]> => {
          const out: string[] = [];
          for (let i = 0; i < 4; i++) {
            try {
              out.push((await lease(fx.client, "n1", purpose)).block?.cidr ?? "none");
            } catch (err) {
              const e = err as { code: string; message: string };
              out.push(e.code);
              expect(e.message).toContain(`strategy ${purpose.slice(3)}`);
              break;
            }
          }
          return out;
        };
        expect(await order("st-tor")).toEqual(["10.99.10.0/27", "POOL_EXHAUSTED"]);
        expect(await order("st-pod")).toEqual([
          "10.99.10.32/27",
          "10.99.100.32/27",
          "POOL_EXHAUSTED",
        ]);
        expect(await order("st-zone")).toEqual([
          "10.99.10.64/27",
          "10.99.100.64/27",
          "10.99.200.64/27",
          "POOL_EXHAUSTED",
        ]);
        const purposes = await fx.client.getStats({ level: StatsLevel.PURPOSE });
        expect(purposes.entries.map((e) => [e.id, e.strategy])).toEqual([
          ["default", "tor"],
          ["mgmt", "tor"],
          ["st-pod", "pod"],
          ["st-tor", "tor"],
          ["st-zone", "zone"],
        ]);
      },
      TEST_MS,
    );

    it(
      "racing leases past the threshold carve exactly one adjacent subnet; leases continue from it; every server agrees",
      async () => {
        const blocks = await growTor(fx.client);
        // The 3rd lease carves; the 4th and 5th come from the carved subnet, the least used
        // of the TOR's two equal subnets.
        expect(blocks.filter((b) => !inCarved(b) && b.startsWith("10.99.64."))).toHaveLength(3);
        expect(blocks.filter(inCarved)).toHaveLength(2);
        for (const c of fx.perServer) {
          const rows = await waitFor("the carved subnet on every server", async () => {
            const r = await subnetRows(c);
            return r.some((x) => x.origin === "carved") ? r : undefined;
          });
          expect(rows).toEqual([CARVED, { id: "tor-1-default", origin: "file", strategy: "tor" }]);
        }
        const topology = await fx.client.getTopology({});
        expect(topology.topologyJson).toContain('"10.99.64.128/25"');
        // A reload of the same file keeps the cluster's subnet.
        await fx.client.applyTopology({ topologyJson: JSON.stringify(config()) });
        expect(await subnetRows(fx.client)).toContainEqual(CARVED);
      },
      TEST_MS,
    );

    it(
      "direct-mode allocations past the threshold carve one adjacent /29 in the same command; every server agrees",
      async () => {
        const allocate = async (i: number) => {
          const r = await fx.client.allocateDirect({
            items: [
              {
                network: "net",
                containerId: `mgmt-${i}`,
                ifname: "eth0",
                nodeId: "n1",
                purpose: "mgmt",
                family: Family.IPV4,
                requestedAddress: "",
              },
            ],
          });
          const one = r.results[0]?.result;
          if (one?.case !== "address") throw new Error(`allocation ${i}: ${JSON.stringify(one)}`);
          return one.value.address;
        };
        // tor-1-mgmt (/29) has 5 addresses to hand out: the 3rd reaches 3/5 >= 0.5 and carves
        // 10.99.96.8/29 (its sibling); the 4th comes from it (4/10: no second carve).
        const addresses: string[] = [];
        for (let i = 0; i < 4; i++) addresses.push(await allocate(i));
        const carved = Cidr.parse("10.99.96.8/29");
        expect(addresses.filter((a) => carved.contains(Cidr.parse(`${a}/32`)))).toHaveLength(1);
        for (const c of fx.perServer) {
          const rows = await waitFor("the carved mgmt subnet on every server", async () => {
            const r = await subnetRows(c, "mgmt");
            return r.some((x) => x.origin === "carved") ? r : undefined;
          });
          expect(rows).toEqual([
            { id: "10.99.96.8/29", origin: "carved", strategy: "tor" },
            { id: "tor-1-mgmt", origin: "file", strategy: "tor" },
          ]);
        }
        await waitFor("the carve in a server's log", () =>
          fx.processes.some((p) =>
            p.log.some(
              (l) => l.includes("subnet carved from supernet") && l.includes("10.99.96.8/29"),
            ),
          )
            ? true
            : undefined,
        );
      },
      TEST_MS,
    );

    it(
      "CarveSubnet carves by hand, once per request id; refusals name the field; drained and removed, the range returns to the supernet",
      async () => {
        const carve = (
          requestId: string,
          extra: { torId?: string; purpose?: string; prefixLength?: number } = {},
        ) =>
          fx.client.carveSubnet({
            torId: "tor-2",
            purpose: "default",
            family: Family.IPV4,
            prefixLength: 0,
            mode: "",
            requestId,
            ...extra,
          });
        const first = await carve("op-1");
        expect(first).toMatchObject({
          carved: true,
          supernet: "10.99.64.0/22",
          supernetScope: "pod:p",
          placement: "first-free",
          torSubnets: 1,
          subnet: { origin: "carved", scope: "tor-2", purpose: "default", blockPrefix: 27 },
        });
        const cidr = first.subnet?.cidr ?? "";
        expect(Cidr.parse("10.99.64.0/22").contains(Cidr.parse(cidr))).toBe(true);
        // A retry with the same request id (after a lost answer) carves nothing more.
        const again = await carve("op-1");
        expect(again).toMatchObject({ carved: false, subnet: { cidr }, torSubnets: 1 });
        for (const [extra, code, field] of [
          [{ torId: "tor-9" }, "NOT_FOUND", "carve-subnet.tor"],
          [{ purpose: "st-tor" }, "NOT_FOUND", "carve-subnet.purpose"],
          [{ prefixLength: 20 }, "INVALID_ARGUMENT", "carve-subnet.prefix"],
        ] as const) {
          await expect(carve(`bad-${field}`, extra)).rejects.toMatchObject({
            code,
            message: expect.stringContaining(field),
          });
        }
        // Returned: drained, removed, and the next carve takes the same slot again.
        await fx.client.drainSubnet({ subnetId: cidr, drain: true });
        const removed = await fx.client.removeSubnet({ subnetId: cidr, force: false });
        expect(removed).toMatchObject({
          removed: true,
          removing: false,
          returnedToSupernet: "10.99.64.0/22",
        });
        expect((await subnetRows(fx.client)).map((r) => r.id)).not.toContain(cidr);
        const next = await carve("op-2");
        expect(next).toMatchObject({ carved: true, subnet: { cidr } });
        await fx.client.drainSubnet({ subnetId: cidr, drain: true });
        await fx.client.removeSubnet({ subnetId: cidr, force: false });
      },
      TEST_MS,
    );

    it(
      "a reload that only changes a purpose's strategy is applied and reported; one that declares a subnet over a carved one is refused naming the field",
      async () => {
        const r = await fx.client.applyTopology({
          topologyJson: JSON.stringify(config(0.75, "pod")),
        });
        expect(r.changes).toEqual(["change purpose default (strategy tor → pod)"]);
        const purposes = await fx.client.getStats({ level: StatsLevel.PURPOSE });
        expect(purposes.entries.find((e) => e.id === "default")?.strategy).toBe("pod");
        await fx.client.applyTopology({ topologyJson: JSON.stringify(config()) });
        // A carved subnet (10.99.96.8/29, from the direct-mode test) overlapped by the file.
        const before = await fx.client.getTopology({});
        const over = config() as {
          zones: { pods: { tors: { id: string; subnets?: object[] }[] }[] }[];
        };
        const tor2 = over.zones[0]?.pods[0]?.tors[1];
        if (tor2 === undefined) throw new Error("no tor-2");
        tor2.subnets = [
          { id: "tor-2-mgmt", cidr: "10.99.96.8/30", purpose: "mgmt", blockPrefix: 32 },
        ];
        await expect(
          fx.client.applyTopology({ topologyJson: JSON.stringify(over) }),
        ).rejects.toMatchObject({
          code: "CONFLICT",
          message: expect.stringContaining("zones[0].pods[0].tors[1].subnets[0].cidr"),
        });
        const after = await fx.client.getTopology({});
        expect(after.version).toBe(before.version);
      },
      TEST_MS,
    );

    it(
      "bad input is refused with the field named and the state unchanged",
      async () => {
        const before = await fx.client.getTopology({});
        const overlap = config() as { zones: { pods: { supernets: { cidr: string }[] }[] }[] };
        const supernet = overlap.zones[0]?.pods[0]?.supernets[0];
        if (supernet === undefined) throw new Error("no supernet");
        supernet.cidr = "10.99.100.0/24";
        for (const [bad, field] of [
          [config(1.5), "zones[0].pods[0].supernets[0].threshold"],
          [config(0), "zones[0].pods[0].supernets[0].threshold"],
          [overlap, "zones[0].pods[0].supernets[0].cidr"],
          [config(0.75, "nearest"), "purposes.default.strategy"],
        ] as const) {
          await expect(
            fx.client.applyTopology({ topologyJson: JSON.stringify(bad) }),
          ).rejects.toMatchObject({
            code: "INVALID_ARGUMENT",
            message: expect.stringContaining(field),
          });
        }
        const after = await fx.client.getTopology({});
        expect(after.version).toBe(before.version);
        expect(after.topologyJson).toBe(before.topologyJson);
      },
      TEST_MS,
    );
  },
);

describe("supernet growth on a three-server Raft cluster", () => {
  let trio: RaftTrio;
  let perServer: ClusterClient[] = [];

  beforeAll(async () => {
    const root = tempDir("ipamd-supernets");
    const file = join(root, "topology.json");
    writeFileSync(file, JSON.stringify(config()));
    // Snapshots every few entries: a restarted server restores the carve from a snapshot.
    trio = await startCluster(root, ["--topology", file, "--raft-snapshot-entries", "4"]);
    perServer = trio.servers.map((s) =>
      createClusterClient({ addresses: [s.address], deadlineMs: 15_000 }),
    );
  }, TEST_MS);

  afterAll(async () => {
    for (const c of perServer) c.close();
    trio?.close();
    await killAll();
  }, TEST_MS);

  it(
    "all three replicas agree on the carve, and a restart of every server from its snapshot keeps it",
    async () => {
      await waitFor("the topology file applied", async () =>
        (await trio.l1.getTopology({})).topologyJson.includes("tor-1-default") ? true : undefined,
      );
      const blocks = await growTor(trio.l1);
      expect(blocks.filter(inCarved)).toHaveLength(2);
      for (const c of perServer) {
        await waitFor("the carve on every replica", async () =>
          (await subnetRows(c)).some((x) => x.origin === "carved") ? true : undefined,
        );
      }
      // The carve is in the log of the server that applied the lease for the agent.
      await waitFor("the carve in a server's log", () =>
        trio.servers.some((s) => s.proc.log.some((l) => l.includes("subnet carved from supernet")))
          ? true
          : undefined,
      );
      // Every server has a snapshot past the carve, so the restart restores it from there.
      for (const c of perServer) {
        await waitFor("a snapshot on every server", async () =>
          (await c.getStatus({}, { deadlineMs: POLL_RPC_MS })).snapshotIndex > 0n
            ? true
            : undefined,
        );
      }
      for (const s of trio.servers) s.proc.kill("SIGKILL");
      await Promise.all(trio.servers.map((s) => s.proc.exited()));
      for (const s of trio.servers) trio.restartServer(s);
      for (const c of perServer) {
        // A server restores its snapshot, then replays the log after it once a leader commits:
        // until then it can answer from an older state. Wait for the carve, bounded.
        const rows = await waitFor("the carve after the restart", async () => {
          const r = await subnetRows(c);
          return r.some((x) => x.origin === "carved") ? r : undefined;
        }).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}\n${logsOf(trio.procs())}`);
        });
        expect(rows).toEqual([CARVED, { id: "tor-1-default", origin: "file", strategy: "tor" }]);
      }
      // Leases continue from the carved subnet (tor-1-default is full).
      const next = await waitFor("a lease once a leader is elected again", () =>
        lease(trio.l1, "n2", "default"),
      );
      expect(inCarved(next.block?.cidr) ? "carved" : next.block?.cidr).toBe("carved");
    },
    TEST_MS,
  );
});
