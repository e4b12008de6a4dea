import { exampleTopology, type TopologyConfig, toCanonicalConfig } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import { ClusterState } from "./cluster-state.js";
import { decodeCommand, encodeCommand } from "./command-codec.js";
import type { ClusterCommand, CommandResult } from "./commands.js";
import { isPoolError } from "./pool-error.js";
import { SNAPSHOT_VERSION } from "./snapshot-codec.js";

const config = toCanonicalConfig(exampleTopology());
const key = (containerId: string, ifname = "eth0") => ({ network: "k8s", containerId, ifname });

function fresh(): ClusterState {
  const state = new ClusterState();
  expect(state.apply({ type: "apply-topology", at: 0, config }).ok).toBe(true);
  return state;
}

function value<T>(result: CommandResult<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

function errorCode(result: CommandResult): string | undefined {
  return result.ok ? undefined : result.error.code;
}

/** A copy of the config with one TOR subnet list edited. */
function editConfig(
  fn: (c: { zones: { pods: { tors: { id: string; subnets: unknown[] }[] }[] }[] }) => void,
): TopologyConfig {
  const copy = structuredClone(config) as unknown as Parameters<typeof fn>[0];
  fn(copy);
  return copy as unknown as TopologyConfig;
}

describe("ClusterState: topology and nodes", () => {
  it("applies a topology and reports the diff", () => {
    const state = new ClusterState();
    const r = value(state.apply({ type: "apply-topology", at: 0, config }));
    expect(r.diff.subnets.added).toHaveLength(52);
    expect(state.nodes()).toHaveLength(16);
    const again = value(state.apply({ type: "apply-topology", at: 1, config }));
    expect(again.diff.empty).toBe(true);
  });

  it("rejects an invalid topology naming the field, changing nothing", () => {
    const state = fresh();
    const before = state.snapshot();
    const bad = editConfig((c) => {
      (c.zones[0]?.pods[0]?.tors[0]?.subnets[0] as { cidr: string }).cidr = "10.0.0.0/33";
    });
    const r = state.apply({ type: "apply-topology", at: 1, config: bad });
    expect(errorCode(r)).toBe("INVALID_ARGUMENT");
    expect(r.ok ? "" : JSON.stringify(r.error)).toContain("10.0.0.0/33");
    expect(state.snapshot()).toEqual(before);
  });

  it("registers and deregisters nodes; deregistering frees blocks and direct addresses", () => {
    const state = fresh();
    const node = value(
      state.apply({
        type: "register-node",
        at: 1,
        node: "n-new",
        tor: "tor-a1-1",
        labels: { rack: "r1" },
      }),
    );
    expect(node).toMatchObject({ id: "n-new", tor: "tor-a1-1", labels: { rack: "r1" } });
    expect(
      errorCode(state.apply({ type: "register-node", at: 1, node: "n-new", tor: "tor-a1-2" })),
    ).toBe("CONFLICT");
    expect(errorCode(state.apply({ type: "register-node", at: 1, node: "x", tor: "nope" }))).toBe(
      "NOT_FOUND",
    );
    const lease = value(
      state.apply({ type: "lease-block", at: 2, node: "n-new", purpose: "default", family: 4 }),
    );
    const direct = value(
      state.apply({
        type: "allocate-direct",
        at: 2,
        node: "n-new",
        purpose: "management",
        family: 4,
        key: key("c1"),
      }),
    );
    const gone = value(state.apply({ type: "deregister-node", at: 3, node: "n-new" }));
    expect(gone).toEqual({ node: "n-new", blocks: [lease.cidr], addresses: [direct.address] });
    expect(state.node("n-new")).toBeUndefined();
    expect(state.directAllocations()).toEqual([]);
    expect(errorCode(state.apply({ type: "deregister-node", at: 3, node: "n-new" }))).toBe(
      "NOT_FOUND",
    );
  });

  it("node view has the full path and counts", () => {
    const state = fresh();
    state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 6 });
    expect(state.node("node-a1")).toMatchObject({
      path: "zone-a/pod-a1/tor-a1-1/node-a1",
      blocks: 1,
      directAddresses: 0,
    });
  });
});

describe("ClusterState: block leases", () => {
  it("leases the lowest free block, then adjacent ones, from the TOR subnet first", () => {
    const state = fresh();
    const a = value(
      state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 4 }),
    );
    expect(a).toMatchObject({ node: "node-a1", cidr: "10.99.0.0/26", leasedAt: 1 });
    expect(a.subnet.id).toBe("tor-a1-1-default-v4");
    const b = value(
      state.apply({ type: "lease-block", at: 2, node: "node-a2", purpose: "default", family: 4 }),
    );
    expect(b.cidr).toBe("10.99.0.64/26");
    const c = value(
      state.apply({ type: "lease-block", at: 3, node: "node-a1", purpose: "default", family: 4 }),
    );
    expect(c.cidr).toBe("10.99.0.128/26");
    value(state.apply({ type: "release-block", at: 4, node: "node-a2", cidr: "10.99.0.64/26" }));
    // Adjacent to node-a1's blocks (0 and 2): block 1 is the lowest neighbour.
    expect(
      value(
        state.apply({ type: "lease-block", at: 5, node: "node-a1", purpose: "default", family: 4 }),
      ).cidr,
    ).toBe("10.99.0.64/26");
    expect(state.nodeLeases("node-a1").map((l) => l.cidr)).toEqual([
      "10.99.0.0/26",
      "10.99.0.64/26",
      "10.99.0.128/26",
    ]);
  });

  it("spills to the pod subnet when the TOR subnet is full, and never to another purpose", () => {
    const state = fresh();
    for (let i = 0; i < 32; i++)
      value(
        state.apply({ type: "lease-block", at: i, node: "node-a1", purpose: "default", family: 4 }),
      );
    const spill = value(
      state.apply({ type: "lease-block", at: 99, node: "node-a1", purpose: "default", family: 4 }),
    );
    expect(spill.subnet.id).toBe("pod-a1-default-v4-spill");
    const strict = state.apply({
      type: "lease-block",
      at: 99,
      node: "node-a1",
      purpose: "default",
      family: 4,
      strategy: "tor",
    });
    expect(errorCode(strict)).toBe("POOL_EXHAUSTED");
    // A purpose no subnet of the topology has is a typo: INVALID_ARGUMENT naming the known ones.
    const typo = state.apply({
      type: "lease-block",
      at: 1,
      node: "node-a1",
      purpose: "gpu",
      family: 4,
    });
    expect(errorCode(typo)).toBe("INVALID_ARGUMENT");
    expect(typo.ok ? undefined : typo.error.message).toBe(
      "unknown purpose gpu: no subnet of the topology has it (purposes: default, management, storage)",
    );
    expect(typo.ok ? undefined : typo.error.details).toMatchObject({
      field: "purpose",
      purposes: ["default", "management", "storage"],
    });
    // A purpose that exists, but not on this node's path: NO_SUBNET.
    value(
      state.apply({
        type: "add-subnet",
        at: 2,
        subnet: {
          id: "gpu-b",
          cidr: "10.99.160.0/24",
          purpose: "gpu",
          scope: { kind: "tor", id: "tor-b1-1" },
          blockPrefix: 28,
        },
      }),
    );
    expect(
      errorCode(
        state.apply({ type: "lease-block", at: 3, node: "node-a1", purpose: "gpu", family: 4 }),
      ),
    ).toBe("NO_SUBNET");
    expect(
      value(state.apply({ type: "lease-block", at: 3, node: "node-b1", purpose: "gpu", family: 4 }))
        .subnet.id,
    ).toBe("gpu-b");
  });

  it("refuses leasing from a direct-mode subnet with NO_SUBNET naming the mode", () => {
    const state = fresh();
    const r = state.apply({
      type: "lease-block",
      at: 1,
      node: "node-a1",
      purpose: "management",
      family: 4,
    });
    expect(errorCode(r)).toBe("NO_SUBNET");
    expect(r.ok ? undefined : r.error.details.mode).toBe("direct");
  });

  it("leases from a named subnet only when reachable, and honours draining", () => {
    const state = fresh();
    expect(
      errorCode(
        state.apply({ type: "lease-block", at: 1, node: "node-a1", subnet: "tor-a1-2-default-v4" }),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      errorCode(state.apply({ type: "lease-block", at: 1, node: "node-a1", subnet: "nope" })),
    ).toBe("NOT_FOUND");
    value(state.apply({ type: "drain-subnet", at: 1, subnet: "tor-a1-1-default-v6" }));
    expect(
      errorCode(
        state.apply({ type: "lease-block", at: 1, node: "node-a1", subnet: "tor-a1-1-default-v6" }),
      ),
    ).toBe("DRAINING");
    expect(
      errorCode(
        state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 6 }),
      ),
    ).toBe("DRAINING");
    value(
      state.apply({ type: "drain-subnet", at: 1, subnet: "tor-a1-1-default-v6", draining: false }),
    );
    expect(
      state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 6 })
        .ok,
    ).toBe(true);
  });

  it("lease-block with a requestId is idempotent per node, across snapshot and restore", () => {
    const state = fresh();
    const ask = (at: number, node: string, requestId: string) =>
      state.apply({ type: "lease-block", at, node, purpose: "default", family: 4, requestId });
    const first = value(ask(1, "node-a1", "r-1"));
    // A retry (lost answer, new leader) gets the same block, with its first lease time.
    expect(value(ask(2, "node-a1", "r-1"))).toEqual(first);
    expect(state.nodeLeases("node-a1")).toHaveLength(1);
    // Another id, or the same id from another node, leases another block.
    const second = value(ask(3, "node-a1", "r-2"));
    const other = value(ask(4, "node-a2", "r-1"));
    expect(new Set([first.cidr, second.cidr, other.cidr]).size).toBe(3);
    // The ids survive a snapshot: a replica restored from it answers the retry the same way.
    const restored = ClusterState.restore(state.snapshot());
    expect(
      value(
        restored.apply({
          type: "lease-block",
          at: 5,
          node: "node-a1",
          purpose: "default",
          family: 4,
          requestId: "r-1",
        }),
      ),
    ).toEqual(first);
    expect(restored.snapshot()).toEqual(state.snapshot());
    // Once the block is released, the id leases anew.
    value(state.apply({ type: "release-block", at: 6, node: "node-a1", cidr: first.cidr }));
    expect(value(ask(7, "node-a1", "r-1")).leasedAt).toBe(7);
    const bad = ask(8, "node-a1", "x".repeat(129));
    expect(errorCode(bad)).toBe("INVALID_ARGUMENT");
    expect(bad.ok ? "" : bad.error.message).toContain("lease-block.requestId");
  });

  it("release-block refuses another node's block and an unknown one", () => {
    const state = fresh();
    const a = value(
      state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 4 }),
    );
    expect(
      errorCode(state.apply({ type: "release-block", at: 2, node: "node-a2", cidr: a.cidr })),
    ).toBe("CONFLICT");
    expect(
      errorCode(
        state.apply({ type: "release-block", at: 2, node: "node-a1", cidr: "10.99.1.0/26" }),
      ),
    ).toBe("NOT_FOUND");
    expect(
      errorCode(
        state.apply({ type: "release-block", at: 2, node: "node-a1", cidr: "10.99.1.0/99" }),
      ),
    ).toBe("INVALID_ARGUMENT");
  });

  it("skips blocks entirely inside reservations and passes reservations to the lease", () => {
    const state = fresh();
    value(
      state.apply({
        type: "reserve",
        at: 1,
        subnet: "tor-a1-1-default-v4",
        range: "10.99.0.0-10.99.0.200",
        reason: "legacy",
      }),
    );
    const a = value(
      state.apply({ type: "lease-block", at: 2, node: "node-a1", purpose: "default", family: 4 }),
    );
    expect(a.cidr).toBe("10.99.0.192/26");
    expect(a.subnet.reserved).toContain("10.99.0.0-10.99.0.200");
    expect(
      state.subnets().find((s) => s.subnet.id === "tor-a1-1-default-v4")?.reservations,
    ).toEqual([
      { subnet: "tor-a1-1-default-v4", range: "10.99.0.0-10.99.0.200", reason: "legacy", at: 1 },
    ]);
    value(
      state.apply({
        type: "unreserve",
        at: 3,
        subnet: "tor-a1-1-default-v4",
        range: "10.99.0.0-10.99.0.200",
      }),
    );
    expect(
      value(
        state.apply({ type: "lease-block", at: 4, node: "node-a2", purpose: "default", family: 4 }),
      ).cidr,
    ).toBe("10.99.0.0/26");
    expect(
      errorCode(
        state.apply({
          type: "unreserve",
          at: 3,
          subnet: "tor-a1-1-default-v4",
          range: "10.99.0.7",
        }),
      ),
    ).toBe("NOT_FOUND");
    expect(
      errorCode(
        state.apply({
          type: "reserve",
          at: 3,
          subnet: "tor-a1-1-default-v4",
          range: "10.98.0.7",
          reason: "",
        }),
      ),
    ).toBe("INVALID_ARGUMENT");
  });

  it("leases /120 blocks of a /64 (2^56 blocks) sparsely", () => {
    const state = fresh();
    const cidrs = new Set<string>();
    for (let i = 0; i < 50; i++) {
      cidrs.add(
        value(
          state.apply({
            type: "lease-block",
            at: i,
            node: `node-a${1 + (i % 2)}`,
            purpose: "default",
            family: 6,
          }),
        ).cidr,
      );
    }
    expect(cidrs.size).toBe(50);
    const usage = state.subnetUsage().find((u) => u.subnet === "tor-a1-1-default-v6");
    // Exact counts: 2^64 addresses minus the reserved ones (network and gateway, both in the
    // first block), never rounded through a JS number (18446744073709552000).
    expect(usage).toMatchObject({
      leasedBlocks: 50,
      totalBlocks: 2n ** 56n,
      reserved: 2n,
      capacity: 18446744073709551614n,
      leased: 50n * 256n - 2n,
      free: 18446744073709551614n - (50n * 256n - 2n),
      held: undefined,
      cooling: undefined,
    });
  });
});

describe("ClusterState: direct allocations", () => {
  it("allocates per address, idempotently per key and family", () => {
    const state = fresh();
    const a = value(
      state.apply({
        type: "allocate-direct",
        at: 1,
        node: "node-a1",
        purpose: "management",
        family: 4,
        key: key("c1"),
      }),
    );
    expect(a).toMatchObject({
      address: "10.99.9.2",
      prefixLength: 26,
      gateway: "10.99.9.1",
      subnet: "tor-a1-1-management-v4",
      existing: false,
    });
    const again = value(
      state.apply({
        type: "allocate-direct",
        at: 2,
        node: "node-a1",
        purpose: "management",
        family: 4,
        key: key("c1"),
      }),
    );
    expect(again).toMatchObject({ address: "10.99.9.2", existing: true, allocatedAt: 1 });
    const v6 = value(
      state.apply({
        type: "allocate-direct",
        at: 2,
        node: "node-a1",
        purpose: "management",
        family: 6,
        key: key("c1"),
      }),
    );
    expect(v6.address).toBe("fd99:0:0:2::2");
    expect(
      errorCode(
        state.apply({
          type: "allocate-direct",
          at: 2,
          node: "node-a2",
          purpose: "management",
          family: 4,
          key: key("c1"),
        }),
      ),
    ).toBe("CONFLICT");
    expect(state.directAllocations("node-a1").map((d) => d.family)).toEqual([4, 6]);
  });

  it("honours a requested address, refusing reserved, taken and foreign ones", () => {
    const state = fresh();
    const base = {
      type: "allocate-direct",
      at: 1,
      node: "node-a1",
      purpose: "management",
      family: 4,
    } as const;
    expect(value(state.apply({ ...base, key: key("a"), address: "10.99.9.40" })).address).toBe(
      "10.99.9.40",
    );
    expect(errorCode(state.apply({ ...base, key: key("b"), address: "10.99.9.40" }))).toBe(
      "CONFLICT",
    );
    // The gateway is reserved: never handed out, an argument error (not a conflict to wait out).
    const gateway = state.apply({ ...base, key: key("b"), address: "10.99.9.1" });
    expect(errorCode(gateway)).toBe("INVALID_ARGUMENT");
    expect(gateway.ok ? "" : gateway.error.message).toBe(
      "10.99.9.1 is the gateway of tor-a1-1-management-v4: it is never handed out",
    );
    expect(errorCode(state.apply({ ...base, key: key("b"), address: "10.99.25.5" }))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(errorCode(state.apply({ ...base, key: key("b"), address: "fd99::5" }))).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("exhausts, then reuses an address only after the cool-down", () => {
    const state = fresh();
    const base = {
      type: "allocate-direct",
      node: "node-a1",
      purpose: "management",
      family: 4,
    } as const;
    const got: string[] = [];
    for (let i = 0; i < 61; i++)
      got.push(value(state.apply({ ...base, at: 1, key: key(`c${i}`) })).address);
    expect(new Set(got).size).toBe(61); // /26 minus network, broadcast, gateway
    expect(errorCode(state.apply({ ...base, at: 1, key: key("x") }))).toBe("POOL_EXHAUSTED");
    const released = value(state.apply({ type: "release-direct", at: 1000, key: key("c5") }));
    expect(released.map((r) => r.address)).toEqual([got[5]]);
    expect(state.subnetUsage().find((u) => u.subnet === "tor-a1-1-management-v4")).toMatchObject({
      cooling: 1n,
      leased: 60n,
      held: 60n,
      free: 0n,
    });
    expect(errorCode(state.apply({ ...base, at: 30_999, key: key("x") }))).toBe("POOL_EXHAUSTED");
    expect(value(state.apply({ ...base, at: 31_000, key: key("x") })).address).toBe(got[5]);
    expect(value(state.apply({ type: "release-direct", at: 1, key: key("unknown") }))).toEqual([]);
  });

  it("refuses a reservation over an allocated address", () => {
    const state = fresh();
    const a = value(
      state.apply({
        type: "allocate-direct",
        at: 1,
        node: "node-a1",
        purpose: "management",
        family: 4,
        key: key("c1"),
      }),
    );
    expect(
      errorCode(
        state.apply({
          type: "reserve",
          at: 2,
          subnet: "tor-a1-1-management-v4",
          range: a.address,
          reason: "x",
        }),
      ),
    ).toBe("CONFLICT");
    value(
      state.apply({
        type: "reserve",
        at: 2,
        subnet: "tor-a1-1-management-v4",
        range: "10.99.9.3/32",
        reason: "printer",
      }),
    );
    const b = value(
      state.apply({
        type: "allocate-direct",
        at: 3,
        node: "node-a1",
        purpose: "management",
        family: 4,
        key: key("c2"),
      }),
    );
    expect(b.address).toBe("10.99.9.4");
  });
});

describe("ClusterState: subnets", () => {
  const subnet = {
    cidr: "10.99.10.0/24",
    purpose: "storage",
    blockPrefix: 28,
    scope: { kind: "tor", id: "tor-a1-1" },
  } as const;

  it("adds a subnet at run time and refuses removing it while leased", () => {
    const state = fresh();
    const s = value(
      state.apply({ type: "add-subnet", at: 1, subnet: { ...subnet, id: "extra", priority: -1 } }),
    );
    expect(s).toMatchObject({ id: "extra", cidr: "10.99.10.0/24", gateway: "10.99.10.1" });
    expect(
      errorCode(
        state.apply({ type: "add-subnet", at: 1, subnet: { ...subnet, cidr: "10.99.8.0/25" } }),
      ),
    ).toBe("CONFLICT");
    const lease = value(
      state.apply({ type: "lease-block", at: 2, node: "node-a1", purpose: "storage", family: 4 }),
    );
    expect(lease.subnet.id).toBe("extra");
    expect(errorCode(state.apply({ type: "remove-subnet", at: 3, subnet: "extra" }))).toBe(
      "CONFLICT",
    );
    value(state.apply({ type: "release-block", at: 3, node: "node-a1", cidr: lease.cidr }));
    expect(value(state.apply({ type: "remove-subnet", at: 3, subnet: "extra" })).id).toBe("extra");
    expect(state.topology().subnets.has("extra")).toBe(false);
  });

  it("rejects a direct-mode subnet above 2^24 addresses", () => {
    const state = fresh();
    const r = state.apply({
      type: "add-subnet",
      at: 1,
      subnet: { cidr: "fd98::/64", blockPrefix: 128, scope: { kind: "tor", id: "tor-a1-1" } },
    });
    expect(errorCode(r)).toBe("INVALID_ARGUMENT");
    expect(state.topology().subnets.has("fd98::/64")).toBe(false);
  });

  it("apply-topology refuses dropping a leased subnet unless it is draining", () => {
    const state = fresh();
    value(
      state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "storage", family: 4 }),
    );
    const without = editConfig((c) => {
      const tor = c.zones[0]?.pods[0]?.tors[0];
      if (tor)
        tor.subnets = tor.subnets.filter((s) => (s as { id: string }).id !== "tor-a1-1-storage-v4");
    });
    expect(errorCode(state.apply({ type: "apply-topology", at: 2, config: without }))).toBe(
      "CONFLICT",
    );
    value(state.apply({ type: "drain-subnet", at: 2, subnet: "tor-a1-1-storage-v4" }));
    const r = value(state.apply({ type: "apply-topology", at: 3, config: without }));
    expect(r.freedBlocks).toBe(1);
    expect(state.nodeLeases("node-a1")).toEqual([]);
  });

  it("apply-topology refuses changing the CIDR of a subnet in use, allows other changes", () => {
    const state = fresh();
    value(
      state.apply({
        type: "allocate-direct",
        at: 1,
        node: "node-a1",
        purpose: "management",
        family: 4,
        key: key("m"),
      }),
    );
    const moved = editConfig((c) => {
      const s = c.zones[0]?.pods[0]?.tors[0]?.subnets.find(
        (x) => (x as { id: string }).id === "tor-a1-1-management-v4",
      ) as {
        cidr: string;
        gateway: string;
        priority: number;
      };
      s.cidr = "10.99.10.0/26";
      s.gateway = "10.99.10.1";
    });
    expect(errorCode(state.apply({ type: "apply-topology", at: 2, config: moved }))).toBe(
      "CONFLICT",
    );
    const reprioritised = editConfig((c) => {
      const s = c.zones[0]?.pods[0]?.tors[0]?.subnets.find(
        (x) => (x as { id: string }).id === "tor-a1-1-management-v4",
      ) as {
        priority: number;
      };
      s.priority = 7;
    });
    const r = value(state.apply({ type: "apply-topology", at: 3, config: reprioritised }));
    expect(r.diff.subnets.changed.map((x) => x.id)).toEqual(["tor-a1-1-management-v4"]);
    expect(state.directAllocations()).toHaveLength(1);
  });

  it("apply-topology deregisters run-time nodes whose TOR is gone", () => {
    const state = fresh();
    value(
      state.apply({
        type: "add-subnet",
        at: 0,
        subnet: { id: "x", cidr: "10.99.10.0/24", scope: { kind: "tor", id: "tor-a1-1" } },
      }),
    );
    value(state.apply({ type: "register-node", at: 1, node: "late", tor: "tor-a1-1" }));
    value(state.apply({ type: "lease-block", at: 1, node: "late", purpose: "default", family: 6 }));
    const withoutTor = editConfig((c) => {
      const pod = c.zones[0]?.pods[0];
      if (pod) pod.tors = pod.tors.filter((t) => t.id !== "tor-a1-1");
    });
    // The TOR's subnets are in use by "late": refused until they are drained.
    expect(errorCode(state.apply({ type: "apply-topology", at: 2, config: withoutTor }))).toBe(
      "CONFLICT",
    );
    value(state.apply({ type: "drain-subnet", at: 2, subnet: "tor-a1-1-default-v6" }));
    const r = value(state.apply({ type: "apply-topology", at: 3, config: withoutTor }));
    expect(r.removedNodes).toEqual(["late", "node-a1", "node-a2"]); // the config nodes under it too
    expect(r.freedBlocks).toBe(1);
    expect(state.node("late")).toBeUndefined();
    expect(state.topology().subnets.has("x")).toBe(false);
  });

  it("apply-topology keeps run-time nodes", () => {
    const state = fresh();
    value(state.apply({ type: "register-node", at: 1, node: "late", tor: "tor-b1-1" }));
    value(state.apply({ type: "apply-topology", at: 2, config }));
    expect(state.node("late")?.path).toBe("zone-b/pod-b1/tor-b1-1/late");
  });
});

describe("ClusterState: batches, errors, encoding", () => {
  it("a plain batch applies each command on its own", () => {
    const state = fresh();
    const r = value(
      state.apply({
        type: "batch",
        at: 1,
        commands: [
          {
            type: "allocate-direct",
            at: 1,
            node: "node-a1",
            purpose: "management",
            family: 4,
            key: key("a"),
          },
          {
            type: "allocate-direct",
            at: 1,
            node: "nope",
            purpose: "management",
            family: 4,
            key: key("b"),
          },
          {
            type: "allocate-direct",
            at: 1,
            node: "node-a1",
            purpose: "management",
            family: 4,
            key: key("c"),
          },
        ],
      }),
    );
    expect(r.map((x) => x.ok)).toEqual([true, false, true]);
    expect(state.directAllocations()).toHaveLength(2);
  });

  it("an atomic batch undoes everything on the first failure", () => {
    const state = fresh();
    const before = state.snapshot();
    const r = state.apply({
      type: "batch",
      at: 1,
      atomic: true,
      commands: [
        { type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 4 },
        {
          type: "allocate-direct",
          at: 1,
          node: "node-a1",
          purpose: "management",
          family: 4,
          key: key("a"),
        },
        { type: "register-node", at: 1, node: "n9", tor: "tor-a1-1" },
        { type: "lease-block", at: 1, node: "node-a1", purpose: "gpu", family: 4 },
      ],
    });
    expect(errorCode(r)).toBe("INVALID_ARGUMENT");
    expect(r.ok ? undefined : r.error.details.index).toBe(3);
    expect(state.snapshot()).toEqual(before);
    const nested = value(
      state.apply({ type: "batch", at: 1, commands: [{ type: "batch", at: 1, commands: [] }] }),
    );
    expect(errorCode(nested[0] as CommandResult)).toBe("INVALID_ARGUMENT");
  });

  it("bad fields are INVALID_ARGUMENT naming the field, never a throw", () => {
    const state = fresh();
    const r = state.apply({
      type: "lease-block",
      at: 1,
      node: "node-a1",
      purpose: "default",
      family: 5,
    } as unknown as ClusterCommand);
    expect(r.ok ? "" : r.error.message).toContain("lease-block.family");
    const k = state.apply({
      type: "allocate-direct",
      at: 1,
      node: "node-a1",
      purpose: "management",
      family: 4,
      key: { network: "k8s" },
    } as unknown as ClusterCommand);
    expect(k.ok ? "" : k.error.message).toContain("allocate-direct.key.containerId");
    expect(errorCode(state.apply({ type: "nope", at: 1 } as unknown as ClusterCommand))).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("encodes commands with a version byte and rejects unknown versions", () => {
    const cmd: ClusterCommand = {
      type: "lease-block",
      at: 5,
      node: "n",
      purpose: "default",
      family: 4,
    };
    const bytes = encodeCommand(cmd);
    expect(bytes[0]).toBe(1);
    expect(decodeCommand(bytes)).toEqual(cmd);
    const other = bytes.slice();
    other[0] = 2;
    expect(() => decodeCommand(other)).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED_VERSION" }),
    );
    expect(() => decodeCommand(new Uint8Array([1, 123]))).toThrow(
      expect.objectContaining({ code: "INVALID_ENCODING" }),
    );
    const bad = encodeCommand({
      type: "batch",
      at: 1,
      commands: [{ type: "zap", at: 1 } as unknown as ClusterCommand],
    });
    try {
      decodeCommand(bad);
      expect.unreachable();
    } catch (error) {
      expect(isPoolError(error, "INVALID_ENCODING")).toBe(true);
      expect((error as Error).message).toContain("command.commands[0].type");
    }
  });
});

describe("ClusterState: snapshot and stats", () => {
  it("restores an identical state and rejects other versions", () => {
    const state = fresh();
    state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 6 });
    state.apply({
      type: "allocate-direct",
      at: 1,
      node: "node-b1",
      purpose: "management",
      family: 6,
      key: key("z"),
    });
    state.apply({ type: "release-direct", at: 2, key: key("z") });
    state.apply({
      type: "reserve",
      at: 3,
      subnet: "tor-b1-1-management-v4",
      range: "10.99.137.10-10.99.137.12",
      reason: "x",
    });
    const bytes = state.snapshot();
    const copy = ClusterState.restore(bytes);
    expect(copy.snapshot()).toEqual(bytes);
    expect(copy.nodeLeases("node-a1")).toEqual(state.nodeLeases("node-a1"));
    // A version this build does not know (a later one, or 0) is refused, naming the versions.
    for (const version of [SNAPSHOT_VERSION + 1, 0]) {
      const other = bytes.slice();
      other[4] = version;
      expect(() => ClusterState.restore(other)).toThrow(
        expect.objectContaining({ code: "UNSUPPORTED_VERSION" }),
      );
    }
    expect(() => ClusterState.restore(new Uint8Array([1, 2, 3, 4, 5, 6]))).toThrow(
      expect.objectContaining({ code: "INVALID_ENCODING" }),
    );
    const target = fresh();
    target.restore(bytes);
    expect(target.snapshot()).toEqual(bytes);
  });

  it("aggregates usage per zone, pod, TOR and purpose", () => {
    const state = fresh();
    state.apply({ type: "lease-block", at: 1, node: "node-a1", purpose: "default", family: 4 });
    state.apply({
      type: "allocate-direct",
      at: 1,
      node: "node-a3",
      purpose: "management",
      family: 4,
      key: key("m"),
    });
    const tor = state.stats("tor").find((r) => r.id === "tor-a1-1");
    expect(tor).toMatchObject({ subnets: 6, leasedBlocks: 1 });
    const pod = state.stats("pod").find((r) => r.id === "pod-a1");
    // The first /26 block holds the network address and the gateway: 62 leased addresses; the
    // direct allocation counts as leased and held.
    expect(pod).toMatchObject({ leased: 62n + 1n, held: 1n });
    const zones = state.stats("zone");
    expect(zones.map((r) => r.id)).toEqual(["zone-a", "zone-b"]);
    expect(zones[1]?.leased).toBe(0n);
    // One family per row when filtered; every row's counts add up.
    for (const family of [4, 6] as const) {
      for (const r of state.stats("subnet", { family })) {
        const u = state.subnetUsage().find((x) => x.subnet === r.id);
        expect(u?.family).toBe(family);
        expect(r.capacity).toBe(r.leased + r.cooling + r.free);
      }
    }
    expect(state.stats("purpose").map((r) => r.id)).toEqual(["default", "management", "storage"]);
  });
});

describe("ClusterState: claim-block (re-adopting a block after a restore)", () => {
  it("leases exactly that block iff it is free, idempotently, and never takes another node's", () => {
    const state = fresh();
    const claim = (node: string, cidr: string, at = 5) =>
      state.apply({ type: "claim-block", at, node, cidr });
    // A block in the middle of the subnet: exactly that one, not the lowest free.
    const got = value(claim("node-a1", "10.99.1.0/26"));
    expect(got).toMatchObject({ node: "node-a1", cidr: "10.99.1.0/26", state: "leased" });
    expect(state.nodeLeases("node-a1").map((l) => l.cidr)).toEqual(["10.99.1.0/26"]);
    // Idempotent for its holder (a retry after a lost answer).
    expect(value(claim("node-a1", "10.99.1.0/26", 9))).toEqual(got);
    expect(state.nodeLeases("node-a1")).toHaveLength(1);
    // Another node's block is refused, naming the holder; nothing changes.
    const other = claim("node-a2", "10.99.1.0/26");
    expect(errorCode(other)).toBe("CONFLICT");
    expect(other.ok ? undefined : other.error.details).toMatchObject({ owner: "node-a1" });
    expect(state.nodeLeases("node-a2")).toEqual([]);
    // Not a block of a block-mode subnet; outside the node's path; a draining subnet.
    expect(errorCode(claim("node-a1", "10.99.1.0/27"))).toBe("NOT_FOUND");
    expect(errorCode(claim("node-a1", "10.99.16.0/26"))).toBe("INVALID_ARGUMENT");
    value(state.apply({ type: "drain-subnet", at: 6, subnet: "tor-a1-1-default-v4" }));
    expect(errorCode(claim("node-a1", "10.99.2.0/26"))).toBe("DRAINING");
    // A lease-block after the claim never hands the claimed block to anyone else.
    value(
      state.apply({ type: "drain-subnet", at: 7, subnet: "tor-a1-1-default-v4", draining: false }),
    );
    for (let i = 0; i < 40; i++) {
      const l = value(
        state.apply({ type: "lease-block", at: 8, node: "node-a2", purpose: "default", family: 4 }),
      );
      expect(l.cidr).not.toBe("10.99.1.0/26");
    }
  });
});

describe("ClusterState: static addresses and capacity", () => {
  const message = (r: CommandResult): string =>
    r.ok ? "ok" : `${r.error.code}: ${r.error.message}`;

  it("lease-block with an address leases the block containing it, idempotently", () => {
    const state = fresh();
    const ask = (node: string, address: string, requestId?: string) =>
      state.apply({
        type: "lease-block",
        at: 5,
        node,
        purpose: "default",
        address,
        ...(requestId === undefined ? {} : { requestId }),
      });
    const first = value(ask("node-a1", "10.99.3.77", "r1"));
    expect(first.cidr).toBe("10.99.3.64/26");
    // Again (a retry, or another address of the same block): the same block, nothing new.
    expect(value(ask("node-a1", "10.99.3.100")).cidr).toBe("10.99.3.64/26");
    expect(value(ask("node-a1", "10.99.3.77", "r1")).leasedAt).toBe(5);
    expect(state.nodeLeases("node-a1")).toHaveLength(1);
    // Another node's block stays its own.
    expect(message(ask("node-a2", "10.99.3.70"))).toBe(
      "CONFLICT: 10.99.3.70 is in block 10.99.3.64/26, leased to node node-a1: only that node allocates from it",
    );
    // Outside every default subnet of the node, with where it does belong.
    expect(message(ask("node-a1", "10.99.25.9"))).toBe(
      "INVALID_ARGUMENT: lease-block.address: 10.99.25.9 is outside every IPv4 default subnet node node-a1 may use (10.99.0.0/21, 10.99.48.0/20); it belongs to subnet tor-a1-2-management-v4 (purpose management, tor tor-a1-2)",
    );
    expect(message(ask("node-a1", "10.99.0.1"))).toBe(
      "INVALID_ARGUMENT: 10.99.0.1 is the gateway of tor-a1-1-default-v4: it is never handed out",
    );
    expect(
      message(
        state.apply({
          type: "lease-block",
          at: 5,
          node: "node-a1",
          purpose: "management",
          address: "10.99.9.7",
        }),
      ),
    ).toBe(
      "INVALID_ARGUMENT: lease-block.address: subnet tor-a1-1-management-v4 is direct-mode (use allocate-direct)",
    );
    expect(state.nodeLeases("node-a2")).toHaveLength(0);
  });

  it("names the holder key and the end of a cool-down of a direct address", () => {
    const state = fresh();
    const base = {
      type: "allocate-direct",
      node: "node-a1",
      purpose: "management",
      family: 4,
    } as const;
    value(state.apply({ ...base, at: 1, key: key("a"), address: "10.99.9.30" }));
    expect(message(state.apply({ ...base, at: 2, key: key("b"), address: "10.99.9.30" }))).toBe(
      "CONFLICT: 10.99.9.30 is held by k8s/a/eth0 on node node-a1",
    );
    expect(message(state.apply({ ...base, at: 2, key: key("a"), address: "10.99.9.31" }))).toBe(
      "CONFLICT: allocate-direct.key: k8s/a/eth0 already holds 10.99.9.30 (management) on node-a1, not 10.99.9.31",
    );
    value(state.apply({ type: "release-direct", at: 10_000, key: key("a") }));
    expect(
      message(state.apply({ ...base, at: 20_000, key: key("b"), address: "10.99.9.30" })),
    ).toBe("CONFLICT: 10.99.9.30 was released and is cooling down until 1970-01-01T00:00:40.000Z");
    expect(
      value(state.apply({ ...base, at: 40_000, key: key("b"), address: "10.99.9.30" })).address,
    ).toBe("10.99.9.30");
  });

  it("capacity says whether one more address can come from L1, as lease and allocate would", () => {
    const state = fresh();
    expect(value(state.capacity("node-a1", "default", 4, 0))).toEqual({
      mode: "block",
      subnet: "tor-a1-1-default-v4",
    });
    expect(value(state.capacity("node-a1", "management", 4, 0))).toEqual({
      mode: "direct",
      subnet: "tor-a1-1-management-v4",
    });
    const typo = state.capacity("node-a1", "storge", 4, 0);
    expect(errorCode(typo)).toBe("INVALID_ARGUMENT");
    expect(errorCode(state.capacity("ghost", "default", 4, 0))).toBe("NOT_FOUND");
    // Fill the management /26 (61 usable addresses), then free one: cooling until 30 s later.
    for (let i = 0; i < 61; i++) {
      value(
        state.apply({
          type: "allocate-direct",
          at: 1,
          node: "node-a1",
          purpose: "management",
          family: 4,
          key: key(`m${i}`),
        }),
      );
    }
    expect(message(state.capacity("node-a1", "management", 4, 2))).toBe(
      "POOL_EXHAUSTED: no free IPv4 management address for node node-a1 in tor-a1-1-management-v4",
    );
    value(state.apply({ type: "release-direct", at: 1_000, key: key("m0") }));
    expect(errorCode(state.capacity("node-a1", "management", 4, 30_999))).toBe("POOL_EXHAUSTED");
    expect(value(state.capacity("node-a1", "management", 4, 31_000)).subnet).toBe(
      "tor-a1-1-management-v4",
    );
    // Block mode: every block of the TOR and pod subnets leased → exhausted; draining → DRAINING.
    for (let i = 0; i < 32 + 64; i++)
      value(
        state.apply({ type: "lease-block", at: 2, node: "node-a1", purpose: "default", family: 4 }),
      );
    expect(errorCode(state.capacity("node-a1", "default", 4, 3))).toBe("POOL_EXHAUSTED");
    value(state.apply({ type: "drain-subnet", at: 3, subnet: "tor-a1-1-storage-v6" }));
    expect(errorCode(state.capacity("node-a1", "storage", 6, 3))).toBe("DRAINING");
    // A read: asking changes nothing (not even the cool-down queue it looks into).
    const now = state.snapshot();
    expect(state.capacity("node-a1", "storge", 4, 0)).toEqual(typo);
    value(state.capacity("node-a1", "management", 4, 99_000));
    expect(state.snapshot()).toEqual(now);
  });
});
