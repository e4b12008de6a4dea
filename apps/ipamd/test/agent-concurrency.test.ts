import { FamilySelection } from "@ipam/grpc-server";
import { openStore, type Store } from "@ipam/store";
import type { ClusterCommand } from "@ipam/subnet-pool";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Agent } from "../src/agent.js";
import { LocalCluster } from "../src/cluster-node.js";

// A node that holds no block yet and gets many pods at once (a node boot, a rollout): every
// request must wait for the one lease in flight instead of failing with POOL_EXHAUSTED.

const silent = pino({ level: "silent" });

describe("Agent with concurrent first allocations", () => {
  let store: Store;
  let cluster: LocalCluster;
  let agent: Agent;
  let leases: ClusterCommand[];

  beforeEach(async () => {
    store = openStore({ path: ":memory:" });
    cluster = new LocalCluster({ nodeId: "srv", store, electionMs: 500, logger: silent });
    await cluster.start();
    await cluster.execute({
      type: "apply-topology",
      at: 1,
      config: toCanonicalConfig(exampleTopology()),
    });
    leases = [];
    agent = new Agent({
      nodeId: "n1",
      store,
      cluster: {
        execute: (c) => {
          if (c.type === "lease-block") leases.push(c);
          return cluster.execute(c);
        },
        nodeLeases: (n) => cluster.nodeLeases(n),
        available: () => cluster.available(),
        nodeSubnets: (n) => cluster.nodeSubnets(n),
        nodeDirect: (n) => cluster.nodeDirect(n),
      },
      logger: silent,
      preallocateThreshold: 0.2,
      register: { tor: "tor-a1-1", labels: {} },
    });
    await agent.start();
  }, 30_000);

  afterEach(async () => {
    agent.stop();
    await cluster.stop();
    store.close();
  });

  it("answers 40 simultaneous dual-stack requests on a node without blocks, all distinct", async () => {
    const allocate = agent.handlers.allocate as NonNullable<typeof agent.handlers.allocate>;
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
          {} as never,
        ),
      ),
    );
    const addresses = answers.flatMap((a) => a.addresses?.map((x) => x.address) ?? []);
    expect(addresses).toHaveLength(80);
    expect(new Set(addresses).size).toBe(80);
    // One block per family served the burst: no lease storm.
    const families = leases.map((c) => (c as { family: number }).family).sort();
    expect(families.filter((f) => f === 4).length).toBeLessThanOrEqual(2);
    expect(families.filter((f) => f === 6).length).toBeLessThanOrEqual(2);
    expect(store.listByNode("n1")).toHaveLength(40);
  }, 30_000);
});
