import { Family, MemberRole, RaftRole, StatsLevel } from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLUSTER_PROVIDERS,
  type ClusterFixture,
  type ClusterProvider,
} from "./helpers/cluster-providers.js";

// One behavioural suite, every cluster store: what the Cluster API and agents do must not
// depend on where the cluster state is replicated (ipamd's Raft or etcd). Each provider starts
// two real L1 servers (and, for etcd, a real etcd member) with the example topology applied;
// the tests talk to them over gRPC on loopback. The tests of one provider share its cluster and
// run in order. A new cluster behaviour belongs here (an `it` below), so that it is proven on
// both stores; store-specific behaviour (failover, membership, snapshots) has its own files.

/** Backstop of one test (waits inside have their own deadlines). */
const TEST_MS = 180_000;

describe.each(CLUSTER_PROVIDERS)(
  "cluster behaviour with the $name store",
  (provider: ClusterProvider) => {
    let fx: ClusterFixture;

    beforeAll(async () => {
      fx = await provider.start();
    }, 240_000);

    afterAll(async () => {
      await fx?.stop();
    }, TEST_MS);

    it(
      "dry-runs, applies and reads back a topology change; checks expected_version",
      async () => {
        const config = toCanonicalConfig(exampleTopology()) as unknown as {
          zones: { pods: { tors: { id: string; subnets: Record<string, unknown>[] }[] }[] }[];
        };
        const tor = config.zones[0]?.pods[0]?.tors[0];
        if (tor === undefined) throw new Error("example topology has no TOR");
        tor.subnets.push({
          id: "suite-extra-v4",
          cidr: "10.99.12.0/24",
          purpose: "storage",
          gateway: "10.99.12.1",
          reserved: [],
          blockPrefix: 28,
          priority: 100,
          cooldownSeconds: 30,
        });
        const json = JSON.stringify(config);
        const dry = await fx.client.applyTopology({ topologyJson: json, dryRun: true });
        expect(dry.changes).toContain("add subnet suite-extra-v4");
        expect(dry.raftIndex).toBe(0n);
        const before = await fx.client.getTopology({});
        expect(before.topologyJson).not.toContain("suite-extra-v4");

        const applied = await fx.client.applyTopology({ topologyJson: json });
        expect(applied.changes).toContain("add subnet suite-extra-v4");
        expect(applied.raftIndex).toBeGreaterThan(0n);
        // Every server reads the new topology at once (linearizable reads).
        for (const c of fx.perServer) {
          const read = await c.getTopology({});
          expect(read.version).toBe(applied.version);
          expect(read.topologyJson).toContain("suite-extra-v4");
        }
        await expect(
          fx.client.applyTopology({ topologyJson: json, expectedVersion: applied.version + 1n }),
        ).rejects.toMatchObject({
          code: "CONFLICT",
          message: expect.stringContaining("expected_version"),
        });
        await expect(fx.client.applyTopology({ topologyJson: "{" })).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringContaining("topology_json"),
        });
      },
      TEST_MS,
    );

    it(
      "registers nodes, leases and releases blocks, and shows them in GetNodeLeases and ListBlocks",
      async () => {
        const [s1, s2] = fx.perServer;
        if (s1 === undefined || s2 === undefined) throw new Error("two servers expected");
        const created = await s1.registerNode({ nodeId: "n-x", torId: "tor-a1-1" });
        expect(created.created).toBe(true);
        const again = await s2.registerNode({ nodeId: "n-x", torId: "tor-a1-1" });
        expect(again.created).toBe(false);
        await expect(s1.registerNode({ nodeId: "", torId: "tor-a1-1" })).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: "node_id: must not be empty",
        });

        const a = await s1.leaseBlock({ nodeId: "n-x", purpose: "default", family: Family.IPV4 });
        expect(a.block?.cidr).toBe("10.99.0.0/26");
        // The same request_id, sent to each server, returns the first block, not a second one.
        const r1 = await s1.leaseBlock({
          nodeId: "n-x",
          purpose: "default",
          family: Family.IPV6,
          requestId: "req-1",
        });
        const r2 = await s2.leaseBlock({
          nodeId: "n-x",
          purpose: "default",
          family: Family.IPV6,
          requestId: "req-1",
        });
        expect(r2.block?.cidr).toBe(r1.block?.cidr);
        await expect(
          s1.leaseBlock({ nodeId: "n-x", purpose: "default", family: Family.UNSPECIFIED }),
        ).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringContaining("family"),
        });

        for (const c of fx.perServer) {
          const leases = await c.getNodeLeases({ nodeId: "n-x" });
          expect(leases.blocks.map((b) => b.cidr).sort()).toEqual(["10.99.0.0/26", "fd99::/120"]);
          expect(leases.raftIndex).toBeGreaterThan(0n);
        }

        const page1 = await fx.client.listBlocks({ pageSize: 1 });
        expect(page1.blocks).toHaveLength(1);
        expect(page1.nextPageToken).not.toBe("");
        const page2 = await fx.client.listBlocks({ pageSize: 1, pageToken: page1.nextPageToken });
        expect(page2.blocks).toHaveLength(1);
        expect(page2.blocks[0]?.cidr).not.toBe(page1.blocks[0]?.cidr);
        expect(page2.nextPageToken).toBe("");

        expect((await s2.releaseBlock({ nodeId: "n-x", cidr: "10.99.0.0/26" })).released).toBe(
          true,
        );
        expect((await s1.releaseBlock({ nodeId: "n-x", cidr: "10.99.0.0/26" })).released).toBe(
          false,
        );
        await expect(
          s1.releaseBlock({ nodeId: "n-x", cidr: "10.99.0.0/99" }),
        ).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringContaining("cidr"),
        });
      },
      TEST_MS,
    );

    it(
      "allocates and releases direct-mode addresses in one batch, each item on its own",
      async () => {
        await fx.client.registerNode({ nodeId: "n-y", torId: "tor-a1-1" });
        const items = Array.from({ length: 5 }, (_, i) => ({
          network: "mgmt",
          containerId: `c${i}`,
          ifname: "eth1",
          nodeId: "n-y",
          purpose: "management",
          family: Family.IPV4,
        }));
        items.push({ ...items[0], containerId: "bad", purpose: "no-such-purpose" } as never);
        const r = await fx.client.allocateDirect({ items });
        const addresses = r.results.slice(0, 5).map((x) => {
          expect(x.result.case).toBe("address");
          return x.result.case === "address" ? x.result.value.address : "";
        });
        expect(new Set(addresses).size).toBe(5);
        for (const a of addresses) expect(a).toMatch(/^10\.99\.9\./);
        expect(r.results[5]?.result.case).toBe("error");
        // Idempotent per key: the same item again, on the other server, gives the same address.
        const again = await fx.perServer[1]?.allocateDirect({ items: [items[2] as never] });
        expect(again?.results[0]?.result.value).toMatchObject({ address: addresses[2] });
        await expect(
          fx.client.allocateDirect({ items: [{ ...items[0], nodeId: "" } as never] }),
        ).rejects.toMatchObject({ message: "items[0].node_id: must not be empty" });

        const leases = await fx.client.getNodeLeases({ nodeId: "n-y" });
        expect(leases.direct.map((d) => d.address?.address).sort()).toEqual([...addresses].sort());

        const released = await fx.client.releaseDirect({
          keys: [{ network: "mgmt", containerId: "c0", ifname: "eth1" }],
        });
        expect(released.results[0]?.addresses).toEqual([addresses[0]]);
        const none = await fx.client.releaseDirect({
          keys: [{ network: "mgmt", containerId: "c0", ifname: "eth1" }],
        });
        expect(none.results[0]?.addresses).toEqual([]);
      },
      TEST_MS,
    );

    it(
      "reports stats at every topology level",
      async () => {
        for (const level of [
          StatsLevel.ZONE,
          StatsLevel.POD,
          StatsLevel.TOR,
          StatsLevel.SUBNET,
          StatsLevel.PURPOSE,
        ]) {
          const s = await fx.client.getStats({ level });
          expect(s.entries.length).toBeGreaterThan(0);
          for (const e of s.entries) expect(Number(e.counts?.capacity)).toBeGreaterThan(0);
        }
        // One entry per family: IPv4 and IPv6 counts are never summed.
        const tor = await fx.client.getStats({ level: StatsLevel.TOR, id: "tor-a1-1" });
        expect(tor.entries.map((e) => e.family)).toEqual([Family.IPV4, Family.IPV6]);
        expect(tor.entries[0]?.nodes).toBe(4); // node-a1, node-a2, n-x, n-y
        expect(Number(tor.entries[0]?.counts?.leased)).toBeGreaterThan(0);
        // Direct-mode allocations are held addresses the cluster knows exactly.
        const mgmt = await fx.client.getStats({ level: StatsLevel.PURPOSE, id: "management" });
        const held = mgmt.entries.reduce((n, e) => n + BigInt(e.counts?.held ?? "0"), 0n);
        expect(held).toBe(4n);
        for (const e of mgmt.entries) expect(e.counts?.allocated).toBe(e.counts?.held);
        await expect(fx.client.getStats({ level: StatsLevel.UNSPECIFIED })).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringContaining("level"),
        });
      },
      TEST_MS,
    );

    it(
      "static addresses: the block holding one goes to the asking node only; a direct-mode one exactly",
      async () => {
        await fx.client.registerNode({ nodeId: "n-s1", torId: "tor-a1-1" });
        await fx.client.registerNode({ nodeId: "n-s2", torId: "tor-a1-1" });
        const wanted = { nodeId: "n-s1", purpose: "default", address: "10.99.0.200" };
        const first = await fx.client.leaseBlock(wanted);
        expect(first.block?.cidr).toBe("10.99.0.192/26");
        // Idempotent for its holder, on any server; never split with another node.
        const again = await fx.perServer[1]?.leaseBlock({ ...wanted, address: "10.99.0.201" });
        expect(again?.block?.cidr).toBe("10.99.0.192/26");
        await expect(
          fx.client.leaseBlock({ ...wanted, nodeId: "n-s2", address: "10.99.0.210" }),
        ).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("n-s1") });
        await expect(
          fx.client.leaseBlock({ ...wanted, nodeId: "n-s2", address: "192.0.2.1" }),
        ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
        for (const c of fx.perServer) {
          const leases = await c.getNodeLeases({ nodeId: "n-s1" });
          expect(leases.blocks.map((b) => b.cidr)).toEqual(["10.99.0.192/26"]);
        }

        const item = {
          network: "mgmt",
          containerId: "static-1",
          ifname: "eth1",
          nodeId: "n-s2",
          purpose: "management",
          family: Family.IPV4,
          requestedAddress: "10.99.9.50",
        };
        const got = await fx.client.allocateDirect({ items: [item] });
        expect(got.results[0]?.result).toMatchObject({
          case: "address",
          value: { address: "10.99.9.50" },
        });
        const clash = await fx.client.allocateDirect({ items: [{ ...item, containerId: "s-2" }] });
        expect(clash.results[0]?.result).toMatchObject({
          case: "error",
          value: { code: "CONFLICT", message: expect.stringContaining("mgmt/static-1/eth1") },
        });

        await fx.client.releaseBlock({ nodeId: "n-s1", cidr: "10.99.0.192/26" });
        await fx.client.releaseDirect({
          keys: [{ network: "mgmt", containerId: "static-1", ifname: "eth1" }],
        });
      },
      TEST_MS,
    );

    it(
      "adds, drains and removes subnets; deregisters a node and frees what it held",
      async () => {
        const subnet = {
          id: "extra",
          cidr: "10.99.10.0/24",
          purpose: "storage",
          scope: "tor-a1-1",
          blockPrefix: 28,
        };
        const added = await fx.client.addSubnet({ subnet });
        expect(added.subnet?.family).toBe(Family.IPV4);
        expect(added.subnet?.gateway).toBe("10.99.10.1");
        // The identical subnet again succeeds; an overlapping one is a conflict.
        await fx.client.addSubnet({ subnet });
        await expect(
          fx.client.addSubnet({
            subnet: { id: "clash", cidr: "10.99.10.0/25", purpose: "storage", scope: "tor-a1-1" },
          }),
        ).rejects.toMatchObject({ code: "CONFLICT" });
        await expect(
          fx.client.addSubnet({
            subnet: { cidr: "10.99.11.0/24", purpose: "storage", scope: "nowhere" },
          }),
        ).rejects.toMatchObject({
          code: "NOT_FOUND",
          message: expect.stringContaining("subnet.scope"),
        });

        await fx.client.leaseBlock({ nodeId: "n-x", subnetId: "extra" });
        await expect(fx.client.removeSubnet({ subnetId: "extra" })).rejects.toMatchObject({
          code: "CONFLICT",
        });
        const drained = await fx.client.drainSubnet({ subnetId: "extra", drain: true });
        expect(drained.blocksLeased).toBe(1n);
        await expect(
          fx.client.leaseBlock({ nodeId: "n-x", subnetId: "extra" }),
        ).rejects.toMatchObject({ code: "POOL_EXHAUSTED" });
        // Forced: the block is revoked, not freed; the subnet stays as removing, naming its holder.
        const forced = await fx.client.removeSubnet({ subnetId: "extra", force: true });
        expect(forced).toMatchObject({ removed: true, removing: true });
        expect(forced.holders.map((h) => [h.nodeId, h.blocks.length, h.reported])).toEqual([
          ["n-x", 1, false],
        ]);
        expect(await fx.client.removeSubnet({ subnetId: "extra" })).toMatchObject({
          removing: true,
        });
        const revoked = (await fx.client.getNodeLeases({ nodeId: "n-x" })).blocks.filter(
          (b) => b.subnetId === "extra",
        );
        expect(revoked.map((b) => b.state)).toEqual(["revoked"]);
        // Its range cannot be added again while it is held.
        await expect(
          fx.client.addSubnet({
            subnet: { id: "again", cidr: "10.99.10.0/24", purpose: "storage", scope: "tor-a1-1" },
          }),
        ).rejects.toMatchObject({ code: "CONFLICT" });
        // The holder returns the block: the subnet goes with it.
        await fx.client.releaseBlock({ nodeId: "n-x", cidr: revoked[0]?.cidr ?? "" });
        expect((await fx.client.removeSubnet({ subnetId: "extra" })).removed).toBe(false);

        await expect(fx.client.deregisterNode({ nodeId: "n-y" })).rejects.toMatchObject({
          code: "CONFLICT",
          message: expect.stringContaining("force"),
        });
        // Forced: the node keeps its 4 direct addresses and stays as deregistering.
        const forcedNode = await fx.client.deregisterNode({ nodeId: "n-y", force: true });
        expect(forcedNode).toMatchObject({
          releasedAddresses: 0,
          keptAddresses: 4,
          deregistering: true,
        });
        // Declared dead: freed at once.
        const gone = await fx.client.deregisterNode({ nodeId: "n-y", dead: true });
        expect(gone.releasedAddresses).toBe(4);
        const unknown = await fx.client.deregisterNode({ nodeId: "n-y" });
        expect(unknown).toMatchObject({ releasedBlocks: 0, releasedAddresses: 0 });
        expect((await fx.client.getNodeLeases({ nodeId: "n-y" })).direct).toEqual([]);
      },
      TEST_MS,
    );

    it(
      "serves two agents: allocations never collide, releases free, direct-mode goes through L1",
      async () => {
        const [x, y] = await Promise.all([
          fx.agent("agent-x", "tor-a1-2"),
          fx.agent("agent-y", "tor-a1-2"),
        ]);
        const allocate = async (a: typeof x, from: number, to: number) => {
          const out: string[] = [];
          for (let i = from; i < to; i++) {
            const r = await a.ipam.allocate({
              network: "pods",
              containerId: `c${i}`,
              ifname: "eth0",
            });
            out.push(r.addresses[0]?.address ?? "");
          }
          return out;
        };
        const [ax, ay] = await Promise.all([allocate(x, 0, 80), allocate(y, 0, 80)]);
        expect(new Set([...ax, ...ay]).size).toBe(160);
        // The cluster leased each agent its own blocks, holding every address handed out.
        const bx = (await fx.client.getNodeLeases({ nodeId: "agent-x" })).blocks.map((b) => b.cidr);
        const by = (await fx.client.getNodeLeases({ nodeId: "agent-y" })).blocks.map((b) => b.cidr);
        expect(bx.filter((b) => by.includes(b))).toEqual([]);
        for (const [a, blocks] of [
          [x, bx],
          [y, by],
        ] as const) {
          for (const b of (await a.ipam.getNodeBlocks({})).blocks) expect(blocks).toContain(b.cidr);
        }
        // A release frees the address on the agent (it cools down, then is reused).
        const released = await x.ipam.release({
          network: "pods",
          containerId: "c0",
          ifname: "eth0",
        });
        expect(released.released).toBe(true);
        expect(released.addresses).toContain(ax[0]);
        // A direct-mode purpose is allocated in L1 and shows in the node's leases.
        const mgmt = await y.ipam.allocate({
          network: "mgmt",
          containerId: "m0",
          ifname: "eth1",
          purpose: "management",
        });
        const address = mgmt.addresses[0]?.address ?? "";
        expect(address).toMatch(/^10\.99\.25\./);
        const direct = await fx.client.getNodeLeases({ nodeId: "agent-y" });
        expect(direct.direct.map((d) => d.address?.address)).toContain(address);
      },
      TEST_MS,
    );

    it(
      "keeps the address history agents ship on every server, once per event, and forecasts from it",
      async () => {
        const t0 = Date.now() - 60_000;
        const event = (seq: number, kind: "allocate" | "release", at: number) => ({
          nodeId: "n-hist",
          journalId: "j-hist",
          seq: BigInt(seq),
          atUnixMs: BigInt(at),
          event: kind,
          address: "10.99.0.77",
          family: Family.IPV4,
          network: "pods",
          containerId: `c-hist-${seq < 3 ? 1 : 2}`,
          ifname: "eth0",
          purpose: "default",
          subnetId: "tor-a1-1-default-v4",
          podNamespace: "team",
          podName: `pod-${seq < 3 ? 1 : 2}`,
          podUid: "",
        });
        const events = [
          event(1, "allocate", t0),
          event(2, "release", t0 + 1000),
          event(3, "allocate", t0 + 2000),
        ];
        // As an agent does: the batch to every server, and a resend (lost answer) changes nothing.
        for (const c of fx.perServer) {
          const r = await c.reportAddressEvents({ nodeId: "n-hist", journalId: "j-hist", events });
          expect(r.storedThroughSeq).toBe(3n);
          const again = await c.reportAddressEvents({
            nodeId: "n-hist",
            journalId: "j-hist",
            events,
          });
          expect(again.storedThroughSeq).toBe(3n);
        }
        for (const [i, c] of fx.perServer.entries()) {
          const h = await c.addressHistory({ address: "10.99.0.77", atUnixMs: BigInt(t0 + 1500) });
          expect(h.serverId).toBe(`s${i + 1}`);
          expect(h.events.map((e) => `${e.event} ${e.podName}`)).toEqual([
            "allocate pod-1",
            "release pod-1",
            "allocate pod-2",
          ]);
          expect(h.holders).toEqual([]);
          const now = await c.addressHistory({
            address: "10.99.0.77",
            atUnixMs: BigInt(t0 + 2500),
          });
          expect(now.holders.map((e) => e.podName)).toEqual(["pod-2"]);
          const f = await c.forecast({ tor: "tor-a1-1", purpose: "default", family: Family.IPV4 });
          expect(f.serverId).toBe(`s${i + 1}`);
          expect(f.entries.map((e) => e.tor)).toContain("tor-a1-1");
        }
        await expect(fx.client.addressHistory({ address: "10.99.0.300" })).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringContaining("address"),
        });
      },
      TEST_MS,
    );

    it(
      "says in GetStatus which store holds the state, and GetLeader agrees on every server",
      async () => {
        const statuses = await Promise.all(fx.perServer.map((c) => c.getStatus({})));
        const leaders = await Promise.all(fx.perServer.map((c) => c.getLeader({})));
        for (const st of statuses) expect(st.clusterStore).toBe(fx.store);
        const leader = statuses[0]?.leaderId ?? "";
        expect(leader).not.toBe("");
        for (const l of leaders) expect(l.leaderId).toBe(leader);
        expect(statuses.filter((st) => st.role === RaftRole.LEADER).map((st) => st.id)).toEqual([
          leader,
        ]);
        expect(new Set(statuses.map((st) => st.clusterId)).size).toBe(1);
        expect(statuses.map((st) => st.members.map((m) => m.id).sort())).toEqual([
          ["s1", "s2"],
          ["s1", "s2"],
        ]);
        if (fx.store === "raft") {
          expect(statuses[0]?.members.every((m) => m.role === MemberRole.VOTER)).toBe(true);
        } else {
          // Membership is etcd's: the Raft membership calls say so.
          await expect(
            fx.client.addLearner({ id: "s9", address: "127.0.0.1:1" }),
          ).rejects.toMatchObject({
            code: "UNIMPLEMENTED",
            message: expect.stringContaining("cluster store is etcd"),
          });
        }
      },
      TEST_MS,
    );
  },
);
