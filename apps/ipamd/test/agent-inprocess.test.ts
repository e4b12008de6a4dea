import { FamilySelection, type IpamHandlers } from "@ipam/grpc-server";
import { openStore, type Store } from "@ipam/store";
import type { ClusterCommand } from "@ipam/subnet-pool";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Agent } from "../src/agent/agent.js";
import { ipamHandlers } from "../src/agent/ipam-handlers.js";
import type { ClusterApi } from "../src/cluster/cluster-api.js";
import { LocalCluster } from "../src/cluster/local-cluster.js";
import { waitFor } from "./helpers/processes.js";

// The Agent in-process over a real single-voter Raft group and SQLite store, with the
// commands it sends counted, and a clock the test moves.

const silent = pino({ level: "silent" });
const ctx = {} as never;

describe("Agent (in process, real LocalCluster)", () => {
  let store: Store;
  let cluster: LocalCluster;
  let sent: ClusterCommand[];
  let counting: ClusterApi;
  let clock: number;
  let agent: Agent;

  beforeEach(async () => {
    store = openStore({ path: ":memory:" });
    cluster = new LocalCluster({ nodeId: "srv", store, electionMs: 500, logger: silent });
    await cluster.start();
    await cluster.execute({
      type: "apply-topology",
      at: 1,
      config: toCanonicalConfig(exampleTopology()),
    });
    sent = [];
    counting = {
      execute: (c) => {
        sent.push(c);
        return cluster.execute(c);
      },
      nodeLeases: (n) => cluster.nodeLeases(n),
      available: () => cluster.available(),
      nodeSubnets: (n) => cluster.nodeSubnets(n),
      nodeDirect: (n) => cluster.nodeDirect(n),
      checkCapacity: (n, p, f) => cluster.checkCapacity(n, p, f),
      reportNode: (r) => cluster.reportNode(r),
    };
    clock = 1_800_000_000_000;
    agent = new Agent({
      nodeId: "n1",
      store,
      cluster: counting,
      logger: silent,
      preallocateThreshold: 0.2,
      now: () => clock,
      register: { tor: "tor-a1-1", labels: {} },
    });
    await agent.start();
  });

  afterEach(async () => {
    agent.stop();
    await cluster.stop();
    store.close();
  });

  it("sends direct-mode requests that arrive together as one batch command", async () => {
    const allocate = ipamHandlers(agent).allocate as NonNullable<IpamHandlers["allocate"]>;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        allocate(
          {
            network: "mgmt",
            containerId: `c${i}`,
            ifname: "eth1",
            purpose: "management",
            families: FamilySelection.IPV4,
          } as never,
          ctx,
        ),
      ),
    );
    const addresses = answers.map((a) => a.addresses?.[0]?.address);
    expect(new Set(addresses).size).toBe(20);
    const batches = sent.filter((c) => c.type === "batch");
    expect(batches).toHaveLength(1);
    expect(batches[0]?.type === "batch" && batches[0].commands).toHaveLength(20);
    // Each record is in the store before the answer.
    expect(store.listByNode("n1").filter((r) => r.purpose === "management")).toHaveLength(20);
    expect(cluster.state.directAllocations("n1")).toHaveLength(20);
  });

  // A node boot or a rollout: many pods at once on a node that holds no block yet. Every
  // request waits for the one lease in flight instead of failing with POOL_EXHAUSTED.
  it("answers 40 simultaneous dual-stack requests on a node without blocks, all distinct", async () => {
    const allocate = ipamHandlers(agent).allocate as NonNullable<IpamHandlers["allocate"]>;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        allocate(
          {
            network: "pods",
            containerId: `boot-${i}`,
            ifname: "eth0",
            purpose: "default",
            families: FamilySelection.DUAL_STACK,
          } as never,
          ctx,
        ),
      ),
    );
    const addresses = answers.flatMap((a) => a.addresses?.map((x) => x.address) ?? []);
    expect(addresses).toHaveLength(80);
    expect(new Set(addresses).size).toBe(80);
    // One block per family served the burst: no lease storm.
    const leases = sent.filter((c) => c.type === "lease-block");
    expect(
      leases.filter((c) => c.type === "lease-block" && c.family === 4).length,
    ).toBeLessThanOrEqual(2);
    expect(
      leases.filter((c) => c.type === "lease-block" && c.family === 6).length,
    ).toBeLessThanOrEqual(2);
    expect(store.listByNode("n1")).toHaveLength(40);
  });

  it("adopts a block the cluster leased to the node whose answer never arrived", async () => {
    const lost = await cluster.execute({
      type: "lease-block",
      at: clock,
      node: "n1",
      purpose: "storage",
      family: 4,
    });
    expect(agent.allocator.blocks().map((b) => b.cidr)).not.toContain(lost.value.cidr);
    clock += 60_000;
    agent.startMaintenance(20);
    await waitFor("the agent to adopt the block", () =>
      agent.allocator.blocks().some((b) => b.cidr === lost.value.cidr) ? true : undefined,
    );
    expect(store.listLeasedBlocks().map((b) => b.cidr)).toContain(lost.value.cidr);
  });
});
