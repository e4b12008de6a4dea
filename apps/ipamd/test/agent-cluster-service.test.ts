import {
  type ClusterClient,
  createClusterClient,
  createClusterService,
  Family,
  type GrpcServer,
  StatsLevel,
  startGrpcServer,
} from "@ipam/grpc-server";
import { openStore, type Store } from "@ipam/store";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterDataHandlers } from "../src/cluster/cluster-data-handlers.js";
import { LocalCluster } from "../src/cluster/local-cluster.js";

// The Cluster data handlers over a real gRPC socket on loopback, backed by a real single-voter
// Raft group on an SQLite store.
describe("Cluster data API (role all handlers over gRPC)", () => {
  let store: Store;
  let cluster: LocalCluster;
  let server: GrpcServer;
  let client: ClusterClient;

  beforeAll(async () => {
    store = openStore({ path: ":memory:" });
    cluster = new LocalCluster({
      nodeId: "server-1",
      store,
      electionMs: 500,
      logger: pino({ level: "silent" }),
    });
    await cluster.start();
    server = await startGrpcServer({
      tcp: { host: "127.0.0.1", port: 0 },
      services: [createClusterService(clusterDataHandlers(cluster))],
    });
    client = createClusterClient({ addresses: [`127.0.0.1:${server.tcpPort}`] });
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await server?.shutdown(1000);
    await cluster?.stop();
    store?.close();
  });

  it("applies a topology (dry run first), reads it back, and checks expected_version", async () => {
    const json = JSON.stringify(toCanonicalConfig(exampleTopology()));
    const dry = await client.applyTopology({ topologyJson: json, dryRun: true });
    expect(dry.changes).toContain("add subnet tor-a1-1-default-v4");
    expect(dry.raftIndex).toBe(0n);
    const before = await client.getTopology({});
    expect(JSON.parse(before.topologyJson).zones).toEqual([]);

    const applied = await client.applyTopology({ topologyJson: json });
    expect(applied.changes).toContain("add tor tor-a1-1");
    expect(applied.raftIndex).toBeGreaterThan(0n);
    const read = await client.getTopology({});
    expect(read.version).toBe(applied.version);
    expect(JSON.parse(read.topologyJson).zones.map((z: { id: string }) => z.id)).toEqual([
      "zone-a",
      "zone-b",
    ]);
    await expect(
      client.applyTopology({ topologyJson: json, expectedVersion: applied.version + 1n }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("expected_version"),
    });
    await expect(client.applyTopology({ topologyJson: "{" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("topology_json"),
    });
  });

  it("registers nodes, leases and releases blocks, and shows them in GetNodeLeases and ListBlocks", async () => {
    const created = await client.registerNode({ nodeId: "n-x", torId: "tor-a1-1" });
    expect(created.created).toBe(true);
    const again = await client.registerNode({ nodeId: "n-x", torId: "tor-a1-1" });
    expect(again.created).toBe(false);
    await expect(client.registerNode({ nodeId: "", torId: "tor-a1-1" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: "node_id: must not be empty",
    });

    const a = await client.leaseBlock({ nodeId: "n-x", purpose: "default", family: Family.IPV4 });
    expect(a.block?.cidr).toBe("10.99.0.0/26");
    // The same request_id returns the first block, not a second one.
    const r1 = await client.leaseBlock({
      nodeId: "n-x",
      purpose: "default",
      family: Family.IPV6,
      requestId: "req-1",
    });
    const r2 = await client.leaseBlock({
      nodeId: "n-x",
      purpose: "default",
      family: Family.IPV6,
      requestId: "req-1",
    });
    expect(r2.block?.cidr).toBe(r1.block?.cidr);
    await expect(
      client.leaseBlock({ nodeId: "n-x", purpose: "default", family: Family.UNSPECIFIED }),
    ).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("family"),
    });

    const leases = await client.getNodeLeases({ nodeId: "n-x" });
    expect(leases.blocks.map((b) => b.cidr).sort()).toEqual(["10.99.0.0/26", "fd99::/120"]);
    expect(leases.raftIndex).toBeGreaterThan(0n);

    const page1 = await client.listBlocks({ pageSize: 1 });
    expect(page1.blocks).toHaveLength(1);
    expect(page1.nextPageToken).not.toBe("");
    const page2 = await client.listBlocks({ pageSize: 1, pageToken: page1.nextPageToken });
    expect(page2.blocks).toHaveLength(1);
    expect(page2.blocks[0]?.cidr).not.toBe(page1.blocks[0]?.cidr);
    expect(page2.nextPageToken).toBe("");

    expect((await client.releaseBlock({ nodeId: "n-x", cidr: "10.99.0.0/26" })).released).toBe(
      true,
    );
    expect((await client.releaseBlock({ nodeId: "n-x", cidr: "10.99.0.0/26" })).released).toBe(
      false,
    );
    await expect(
      client.releaseBlock({ nodeId: "n-x", cidr: "10.99.0.0/99" }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("cidr") });
  });

  it("allocates and releases direct-mode addresses in one batch, each item on its own", async () => {
    await client.registerNode({ nodeId: "n-y", torId: "tor-a1-1" });
    const items = Array.from({ length: 5 }, (_, i) => ({
      network: "mgmt",
      containerId: `c${i}`,
      ifname: "eth1",
      nodeId: "n-y",
      purpose: "management",
      family: Family.IPV4,
    }));
    items.push({ ...items[0], containerId: "bad", purpose: "no-such-purpose" } as never);
    const r = await client.allocateDirect({ items });
    const addresses = r.results.slice(0, 5).map((x) => {
      expect(x.result.case).toBe("address");
      return x.result.case === "address" ? x.result.value.address : "";
    });
    expect(new Set(addresses).size).toBe(5);
    for (const a of addresses) expect(a).toMatch(/^10\.99\.9\./);
    expect(r.results[5]?.result.case).toBe("error");
    // Idempotent per key: the same item again gives the same address.
    const again = await client.allocateDirect({ items: [items[2] as never] });
    expect(again.results[0]?.result.value).toMatchObject({ address: addresses[2] });
    await expect(
      client.allocateDirect({ items: [{ ...items[0], nodeId: "" } as never] }),
    ).rejects.toMatchObject({ message: "items[0].node_id: must not be empty" });

    const leases = await client.getNodeLeases({ nodeId: "n-y" });
    expect(leases.direct.map((d) => d.address?.address).sort()).toEqual([...addresses].sort());

    const released = await client.releaseDirect({
      keys: [{ network: "mgmt", containerId: "c0", ifname: "eth1" }],
    });
    expect(released.results[0]?.addresses).toEqual([addresses[0]]);
    const none = await client.releaseDirect({
      keys: [{ network: "mgmt", containerId: "c0", ifname: "eth1" }],
    });
    expect(none.results[0]?.addresses).toEqual([]);
  });

  it("reports stats at every topology level", async () => {
    for (const level of [
      StatsLevel.ZONE,
      StatsLevel.POD,
      StatsLevel.TOR,
      StatsLevel.SUBNET,
      StatsLevel.PURPOSE,
    ]) {
      const s = await client.getStats({ level });
      expect(s.entries.length).toBeGreaterThan(0);
      for (const e of s.entries) expect(Number(e.counts?.capacity)).toBeGreaterThan(0);
    }
    const tor = await client.getStats({ level: StatsLevel.TOR, id: "tor-a1-1" });
    expect(tor.entries).toHaveLength(1);
    expect(tor.entries[0]?.nodes).toBe(4); // node-a1, node-a2, n-x, n-y
    expect(Number(tor.entries[0]?.counts?.allocated)).toBeGreaterThan(0);
    const mgmt = await client.getStats({ level: StatsLevel.PURPOSE, id: "management" });
    expect(mgmt.entries[0]?.counts?.allocated).toBe("4");
    await expect(client.getStats({ level: StatsLevel.UNSPECIFIED })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("level"),
    });
  });

  it("adds, drains and removes subnets; deregisters a node and frees what it held", async () => {
    const added = await client.addSubnet({
      subnet: {
        id: "extra",
        cidr: "10.99.10.0/24",
        purpose: "storage",
        scope: "tor-a1-1",
        blockPrefix: 28,
      },
    });
    expect(added.subnet?.family).toBe(Family.IPV4);
    expect(added.subnet?.gateway).toBe("10.99.10.1");
    // The identical subnet again succeeds; an overlapping one is a conflict.
    await client.addSubnet({
      subnet: {
        id: "extra",
        cidr: "10.99.10.0/24",
        purpose: "storage",
        scope: "tor-a1-1",
        blockPrefix: 28,
      },
    });
    await expect(
      client.addSubnet({
        subnet: { id: "clash", cidr: "10.99.10.0/25", purpose: "storage", scope: "tor-a1-1" },
      }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(
      client.addSubnet({ subnet: { cidr: "10.99.11.0/24", purpose: "storage", scope: "nowhere" } }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("subnet.scope"),
    });

    await client.leaseBlock({ nodeId: "n-x", subnetId: "extra" });
    await expect(client.removeSubnet({ subnetId: "extra" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    const drained = await client.drainSubnet({ subnetId: "extra", drain: true });
    expect(drained.blocksLeased).toBe(1n);
    await expect(client.leaseBlock({ nodeId: "n-x", subnetId: "extra" })).rejects.toMatchObject({
      code: "POOL_EXHAUSTED",
    });
    expect((await client.removeSubnet({ subnetId: "extra", force: true })).removed).toBe(true);
    expect((await client.removeSubnet({ subnetId: "extra" })).removed).toBe(false);
    const leases = await client.getNodeLeases({ nodeId: "n-x" });
    expect(leases.blocks.map((b) => b.subnetId)).not.toContain("extra");

    await expect(client.deregisterNode({ nodeId: "n-y" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("force"),
    });
    const gone = await client.deregisterNode({ nodeId: "n-y", force: true });
    expect(gone.releasedAddresses).toBe(4);
    const unknown = await client.deregisterNode({ nodeId: "n-y" });
    expect(unknown).toMatchObject({ releasedBlocks: 0, releasedAddresses: 0 });
    expect((await client.getNodeLeases({ nodeId: "n-y" })).direct).toEqual([]);
  });
});
