import { exampleTopology } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import { isPoolError } from "./pool-error.js";
import { TopologyAwarePool } from "./topology-aware-pool.js";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isPoolError(error) ? error.code : "OTHER";
  }
  return undefined;
}

describe("TopologyAwarePool", () => {
  it("allocates default addresses from the node's TOR, leasing blocks as needed", () => {
    const pool = new TopologyAwarePool({ topology: exampleTopology() });
    const a = pool.allocateIP("node-a1");
    expect(a).toMatchObject({
      address: "10.99.0.2",
      subnet: "tor-a1-1-default-v4",
      prefixLength: 21,
    });
    const seen = new Set([a.address]);
    for (let i = 0; i < 100; i++) seen.add(pool.allocateIP("node-a1").address);
    expect(seen.size).toBe(101);
    expect(pool.nodeStats("node-a1").blocks).toEqual(["10.99.0.0/26", "10.99.0.64/26"]);
  });

  it("allocates with a purpose and family, per address for direct-mode subnets", () => {
    const pool = new TopologyAwarePool({ topology: exampleTopology() });
    expect(pool.allocateWithPurpose("node-a3", "storage", { family: 6 }).subnet).toBe(
      "tor-a1-2-storage-v6",
    );
    const m = pool.allocateWithPurpose("node-a3", "management");
    expect(m).toMatchObject({
      address: "10.99.25.2",
      subnet: "tor-a1-2-management-v4",
      block: "10.99.25.0/26",
    });
    expect(pool.state.directAllocations("node-a3")).toHaveLength(1);
    expect(code(() => pool.allocateWithPurpose("node-a3", "gpu"))).toBe("INVALID_ARGUMENT");
    expect(code(() => pool.allocateIP("ghost"))).toBe("NOT_FOUND");
  });

  it("reports exhaustion of a direct subnet instead of using another purpose", () => {
    const pool = new TopologyAwarePool({ topology: exampleTopology() });
    for (let i = 0; i < 61; i++) pool.allocateWithPurpose("node-a1", "management");
    expect(code(() => pool.allocateWithPurpose("node-a1", "management"))).toBe("POOL_EXHAUSTED");
  });

  it("releases only an address the node holds, and reuses it after the cool-down", () => {
    let now = 0;
    const pool = new TopologyAwarePool({ topology: exampleTopology(), clock: () => now });
    const a = pool.allocateWithPurpose("node-a1", "management");
    expect(code(() => pool.releaseIP("node-a2", a.address))).toBe("CONFLICT");
    expect(code(() => pool.releaseIP("node-a1", "10.99.9.50"))).toBe("NOT_FOUND");
    pool.releaseIP("node-a1", a.address);
    expect(code(() => pool.releaseIP("node-a1", a.address))).toBe("NOT_FOUND");
    now = 31_000;
    const seen: string[] = [];
    for (let i = 0; i < 61; i++)
      seen.push(pool.allocateWithPurpose("node-a2", "management").address);
    expect(seen).toContain(a.address);
  });

  it("registers nodes, adds TOR subnets at run time, and reports stats", () => {
    const pool = new TopologyAwarePool({ topology: exampleTopology() });
    pool.registerNode("new-1", "tor-b2-2", { rack: "r9" });
    expect(code(() => pool.registerNode("new-1", "tor-b2-1"))).toBe("CONFLICT");
    pool.addSubnetToTor("tor-b2-2", {
      id: "gpu-v4",
      cidr: "10.99.218.0/24",
      purpose: "gpu",
      blockPrefix: 28,
    });
    const gpu = pool.allocateWithPurpose("new-1", "gpu");
    expect(gpu.address).toBe("10.99.218.2");
    expect(pool.nodeStats("new-1")).toMatchObject({
      path: "zone-b/pod-b2/tor-b2-2/new-1",
      zone: "zone-b",
      pod: "pod-b2",
      tor: "tor-b2-2",
      addresses: ["10.99.218.2"],
      byPurpose: { gpu: 1 },
    });
    const purposes = pool.poolStats("purpose");
    expect(purposes.find((r) => r.id === "gpu")).toMatchObject({
      subnets: 1,
      used: 1,
      leasedBlocks: 1,
      // The first /28 block minus the network address and the gateway.
      leased: 14n,
    });
    expect(pool.poolStats("tor").find((r) => r.id === "tor-b2-2")?.used).toBe(1);
    expect(pool.poolStats("zone").find((r) => r.id === "zone-b")?.used).toBe(1);
    expect(pool.poolStats("zone").find((r) => r.id === "zone-a")?.used).toBe(0);
    expect(code(() => pool.addSubnetToTor("tor-b2-2", { cidr: "10.99.218.0/25" }))).toBe(
      "CONFLICT",
    );
  });

  it("refuses an invalid topology", () => {
    expect(
      code(() => new TopologyAwarePool({ topology: { version: 1, zones: [{ id: "" }] } as never })),
    ).toBe("INVALID_ARGUMENT");
  });
});
