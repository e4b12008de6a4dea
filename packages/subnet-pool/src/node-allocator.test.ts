import { exampleTopology, type Subnet } from "@ipam/topology";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BlockLease } from "./block-lease.js";
import { NodeAllocator } from "./node-allocator.js";
import { isPoolError } from "./pool-error.js";

const topology = exampleTopology();
function subnet(id: string, patch: Partial<Subnet> = {}): Subnet {
  const s = topology.subnets.get(id);
  if (s === undefined) throw new Error(`no subnet ${id}`);
  return { ...s, ...patch };
}
const V4 = subnet("tor-a1-1-default-v4"); // 10.99.0.0/21, /26 blocks, gw .1, cooldown 30 s
const V6 = subnet("tor-a1-1-default-v6"); // fd99::/64, /120 blocks
function lease(s: Subnet, cidr: string, leasedAt = 0, node = "node-a1"): BlockLease {
  return { node, cidr, leasedAt, subnet: s };
}
const key = (containerId: string, ifname = "eth0") => ({ network: "k8s", containerId, ifname });

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isPoolError(error) ? error.code : "OTHER";
  }
  return undefined;
}

describe("NodeAllocator.allocate", () => {
  it("hands out subnet-level addresses skipping the subnet's network and gateway", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    const r = a.allocate({ key: key("c1"), now: 0 });
    expect(r.existing).toBe(false);
    expect(r.addresses).toEqual([
      {
        address: "10.99.0.2",
        family: 4,
        prefixLength: 21,
        gateway: "10.99.0.1",
        subnet: "tor-a1-1-default-v4",
        block: "10.99.0.0/26",
      },
    ]);
    // .63 is not the subnet's broadcast: a block-internal address is usable.
    a.addBlock(lease(V4, "10.99.7.192/26"));
    const seen = new Set<string>();
    for (let i = 0; i < 61 + 63; i++)
      seen.add(a.allocate({ key: key(`x${i}`), now: 0 }).addresses[0]?.address ?? "");
    expect(seen.has("10.99.0.63")).toBe(true);
    expect(seen.has("10.99.7.255")).toBe(false);
    expect(seen.size).toBe(124);
    expect(code(() => a.allocate({ key: key("full"), now: 0 }))).toBe("POOL_EXHAUSTED");
  });

  it("is idempotent per key and refuses the key under another purpose", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    const first = a.allocate({ key: key("c1"), now: 0 });
    const again = a.allocate({ key: key("c1"), now: 5 });
    expect(again.existing).toBe(true);
    expect(again.addresses).toEqual(first.addresses);
    expect(code(() => a.allocate({ key: key("c1"), purpose: "storage", now: 0 }))).toBe("CONFLICT");
    expect(a.allocate({ key: key("c1", "net1"), now: 0 }).addresses[0]?.address).toBe("10.99.0.3");
  });

  it("reports POOL_EXHAUSTED (never another purpose or family) and asks for a block", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    expect(code(() => a.allocate({ key: key("c1"), families: [6], now: 0 }))).toBe(
      "POOL_EXHAUSTED",
    );
    expect(code(() => a.allocate({ key: key("c1"), purpose: "storage", now: 0 }))).toBe(
      "POOL_EXHAUSTED",
    );
    expect(a.needs(0).map((n) => [n.requestKey, n.reason])).toEqual([
      ["default/6", "exhausted"],
      ["storage/4", "exhausted"],
    ]);
    a.markRequested("default/6");
    expect(a.needs(0).map((n) => n.requestKey)).toEqual(["storage/4"]);
    a.addBlock(lease(V6, "fd99::/120"));
    expect(a.allocate({ key: key("c1"), families: [6], now: 0 }).addresses[0]?.address).toBe(
      "fd99::2",
    );
  });

  it("rolls back the first family when the second fails", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    expect(code(() => a.allocate({ key: key("c1"), families: [4, 6], now: 0 }))).toBe(
      "POOL_EXHAUSTED",
    );
    expect(a.get(key("c1"))).toBeUndefined();
    expect(a.usage(0)[0]?.allocated).toBe(0);
    a.addBlock(lease(V6, "fd99::100/120"));
    const r = a.allocate({ key: key("c1"), families: [4, 6], now: 0 });
    expect(r.addresses.map((x) => x.address)).toEqual(["10.99.0.2", "fd99::100"]);
  });

  it("does not reuse a released address before the cool-down ends", () => {
    const s = subnet("tor-a1-1-storage-v4"); // /28 blocks, 30 s cool-down
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(s, "10.99.8.16/28"));
    const got: string[] = [];
    for (let i = 0; i < 16; i++)
      got.push(
        a.allocate({ key: key(`c${i}`), purpose: "storage", now: 0 }).addresses[0]?.address ?? "",
      );
    expect(code(() => a.allocate({ key: key("late"), purpose: "storage", now: 0 }))).toBe(
      "POOL_EXHAUSTED",
    );
    a.release(key("c3"), 1000);
    expect(code(() => a.allocate({ key: key("late"), purpose: "storage", now: 30_999 }))).toBe(
      "POOL_EXHAUSTED",
    );
    expect(a.usage(30_999)[0]).toMatchObject({ cooling: 1, free: 0, allocated: 15 });
    // Per block: the block's own capacity (not the subnet's), held and cooling.
    a.addBlock(lease(s, "10.99.8.32/28"));
    expect(a.blockUsage(30_999).map((b) => [b.lease.cidr, b.capacity, b.held, b.cooling])).toEqual([
      ["10.99.8.16/28", 16, 15, 1],
      ["10.99.8.32/28", 16, 0, 0],
    ]);
    expect(a.blockUsage(31_000)[0]).toMatchObject({ held: 15, cooling: 0 });
    expect(
      a.allocate({ key: key("late"), purpose: "storage", now: 31_000 }).addresses[0]?.address,
    ).toBe(got[3]);
  });

  it("uses next-fit: a just-released address is not handed out again at once", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(subnet("tor-a1-1-default-v4", { cooldownSeconds: 0 }), "10.99.0.64/26"));
    const x = a.allocate({ key: key("a"), now: 0 }).addresses[0]?.address;
    a.release(key("a"), 0);
    expect(a.allocate({ key: key("b"), now: 0 }).addresses[0]?.address).not.toBe(x);
  });

  it("release of an unknown key succeeds", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    expect(a.release(key("nope"), 0)).toBeUndefined();
  });

  it("gc releases the records of a network that are not valid attachments", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    a.allocate({ key: key("keep"), now: 0 });
    a.allocate({ key: key("drop"), now: 0 });
    a.allocate({ key: { network: "other", containerId: "drop", ifname: "eth0" }, now: 0 });
    const gone = a.gc("k8s", [{ containerId: "keep", ifname: "eth0" }], 0);
    expect(gone.map((r) => r.key.containerId)).toEqual(["drop"]);
    expect(a.listKeys().map((k) => `${k.network}/${k.containerId}`)).toEqual([
      "k8s/keep",
      "other/drop",
    ]);
  });
});

describe("NodeAllocator blocks", () => {
  it("refuses another node's lease, a misaligned block and removing a used block", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    expect(code(() => a.addBlock(lease(V4, "10.99.0.0/26", 0, "node-a2")))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(code(() => a.addBlock(lease(V4, "10.99.0.0/25")))).toBe("INVALID_ARGUMENT");
    expect(code(() => a.addBlock(lease(V4, "10.98.0.0/26")))).toBe("INVALID_ARGUMENT");
    a.addBlock(lease(V4, "10.99.0.0/26"));
    expect(a.addBlock(lease(V4, "10.99.0.0/26"))).toBe(false);
    a.allocate({ key: key("c1"), now: 0 });
    expect(code(() => a.removeBlock("10.99.0.0/26"))).toBe("CONFLICT");
    expect(code(() => a.removeBlock("10.99.1.0/26"))).toBe("NOT_FOUND");
    a.release(key("c1"), 0);
    a.removeBlock("10.99.0.0/26"); // cooling addresses go with the block
    expect(a.blocks()).toEqual([]);
  });

  it("asks for a block below the threshold, once, and respects the spare cap", () => {
    const a = new NodeAllocator({ node: "node-a1", preallocate: { thresholdRatio: 0.5 } });
    a.addBlock(lease(V4, "10.99.0.0/26")); // 62 usable
    for (let i = 0; i < 31; i++) a.allocate({ key: key(`c${i}`), now: 0 });
    expect(a.needs(0)).toEqual([]);
    a.allocate({ key: key("c31"), now: 0 });
    expect(a.needs(0)).toEqual([
      { requestKey: V4.id, subnetId: V4.id, purpose: "default", family: 4, reason: "low" },
    ]);
    a.markRequested(V4.id);
    expect(a.needs(0)).toEqual([]);
    a.markFulfilled(V4.id);
    expect(a.needs(0)).toHaveLength(1);
    const b = new NodeAllocator({ node: "node-a1", preallocate: { thresholdRatio: 0.9 } });
    b.addBlock(lease(V4, "10.99.0.0/26"));
    b.addBlock(lease(V4, "10.99.0.64/26"));
    b.allocate({ key: key("c"), now: 0 });
    expect(b.needs(0)).toEqual([]); // one spare (empty) block already
  });

  it("offers blocks empty past the grace period, never the last one", () => {
    const a = new NodeAllocator({
      node: "node-a1",
      preallocate: { idleGraceSeconds: 60 },
    });
    const s = subnet("tor-a1-1-default-v4", { cooldownSeconds: 0 });
    a.addBlock(lease(s, "10.99.0.0/26", 0));
    a.addBlock(lease(s, "10.99.0.64/26", 0));
    a.allocate({ key: key("c1"), now: 0 });
    expect(a.idleBlocks(59_999)).toEqual([]);
    expect(a.idleBlocks(60_000).map((l) => l.cidr)).toEqual(["10.99.0.64/26"]);
    a.release(key("c1"), 100_000);
    expect(a.idleBlocks(159_999).map((l) => l.cidr)).toEqual(["10.99.0.64/26"]);
    expect(a.idleBlocks(160_000)).toHaveLength(1);
  });

  it("hands out nothing from a draining or revoked block and returns it once empty, the last one too", () => {
    const a = new NodeAllocator({ node: "node-a1", preallocate: { idleGraceSeconds: 600 } });
    const s = subnet("tor-a1-1-default-v4", { cooldownSeconds: 10 });
    a.addBlock(lease(s, "10.99.0.0/26", 0));
    const first = a.allocate({ key: key("c1"), now: 0 }).addresses[0]?.address;
    expect(a.setBlockState("10.99.0.0/26", "revoked")).toBe(true);
    expect(a.setBlockState("10.99.9.0/26", "revoked")).toBe(false);
    // No new address, and no lease request for the closed subnet itself: any subnet instead.
    expect(() => a.allocate({ key: key("c2"), now: 1 })).toThrow(
      expect.objectContaining({ code: "POOL_EXHAUSTED" }),
    );
    expect(a.needs(1).map((n) => n.requestKey)).toEqual(["default/4"]);
    // The existing holder keeps its address; the block goes back once nothing is held or cooling.
    expect(a.get(key("c1"))?.addresses[0]?.address).toBe(first);
    expect(a.idleBlocks(2)).toEqual([]);
    a.release(key("c1"), 2);
    expect(a.idleBlocks(10_001)).toEqual([]); // still cooling
    expect(a.idleBlocks(12_000).map((l) => [l.cidr, l.state])).toEqual([
      ["10.99.0.0/26", "revoked"],
    ]);
    // Opened again (the cluster lists it leased), it serves and is kept as the last block.
    a.setBlockState("10.99.0.0/26", "leased");
    expect(a.idleBlocks(12_000)).toEqual([]);
    expect(a.allocate({ key: key("c3"), now: 12_000 }).addresses).toHaveLength(1);
  });

  it("prefers TOR subnets, then lower priority, and spills when full", () => {
    const spill = subnet("pod-a1-default-v4-spill");
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(spill, "10.99.48.0/26"));
    a.addBlock(lease(subnet("tor-a1-1-storage-v4"), "10.99.8.0/28"));
    expect(a.allocate({ key: key("c0"), now: 0 }).addresses[0]?.subnet).toBe(spill.id);
    a.addBlock(lease(V4, "10.99.0.0/26"));
    expect(a.allocate({ key: key("c1"), now: 0 }).addresses[0]?.subnet).toBe(V4.id);
  });
});

describe("NodeAllocator.rebuild", () => {
  it("reproduces the same allocations from records and leases", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 30 })), { maxLength: 80 }),
        (ops) => {
          const leases = [lease(V4, "10.99.0.0/26"), lease(V6, "fd99::/120")];
          const a = new NodeAllocator({ node: "node-a1" });
          for (const l of leases) a.addBlock(l);
          let t = 0;
          for (const [add, id] of ops) {
            t += 1000;
            if (add) a.allocate({ key: key(`c${id}`), families: [4, 6], now: t });
            else a.release(key(`c${id}`), t);
          }
          const b = new NodeAllocator({ node: "node-a1" });
          const report = b.rebuild(a.records(), a.blocks());
          expect(report.orphaned).toEqual([]);
          expect(b.records()).toEqual(a.records());
          // A fresh key never receives an address a restored key holds.
          const held = new Set(b.records().flatMap((r) => r.addresses.map((x) => x.address)));
          const fresh = b.allocate({ key: key("fresh"), families: [4, 6], now: t + 10 ** 6 });
          for (const x of fresh.addresses) expect(held.has(x.address)).toBe(false);
        },
      ),
    );
  });

  it("reports records outside the leases or colliding as orphaned", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    const record = (id: string, address: string) => ({
      key: key(id),
      purpose: "default",
      createdAt: 1,
      addresses: [
        {
          address,
          family: 4 as const,
          prefixLength: 21,
          gateway: "10.99.0.1",
          subnet: V4.id,
          block: "10.99.0.0/26",
        },
      ],
    });
    const report = a.rebuild(
      [
        record("a", "10.99.0.5"),
        record("b", "10.99.0.5"),
        record("c", "10.99.3.3"),
        record("d", "10.99.0.1"),
      ],
      [lease(V4, "10.99.0.0/26")],
    );
    expect(report.restored).toBe(1);
    expect(report.orphaned.map((r) => r.key.containerId)).toEqual(["b", "c", "d"]);
  });
});

describe("NodeAllocator cool-down across a restart", () => {
  it("keeps a released address cooling after rebuild until its time, then hands it out", () => {
    // One /28 block of the storage subnet (16 addresses, 30 s cool-down), filled.
    const s = subnet("tor-a1-1-storage-v4");
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(s, "10.99.8.16/28"));
    const ids = Array.from({ length: 16 }, (_, i) => `c${i}`);
    const held = ids.map(
      (id) => a.allocate({ key: key(id), purpose: "storage", now: 0 }).addresses[0]?.address,
    );
    expect(new Set(held).size).toBe(16); // every address of the block, all distinct
    // Release one at t = 1 s: it may come back at t = 31 s. Persist what coolingFor says.
    const released = a.get(key("c3"));
    if (released === undefined) throw new Error("c3 holds nothing");
    const cooling = a.coolingFor(released, 1000);
    expect(cooling).toEqual([{ address: released.addresses[0]?.address, until: 31_000 }]);
    a.release(key("c3"), 1000);
    // Restart: records and leases from the store, and the persisted cooling entries.
    const b = new NodeAllocator({ node: "node-a1" });
    const report = b.rebuild(a.records(), a.blocks(), cooling);
    expect(report.cooling).toBe(1);
    expect(code(() => b.allocate({ key: key("new"), purpose: "storage", now: 30_999 }))).toBe(
      "POOL_EXHAUSTED",
    );
    expect(
      b.allocate({ key: key("new"), purpose: "storage", now: 31_000 }).addresses[0]?.address,
    ).toBe(released.addresses[0]?.address);
    // Without the entries (the old behaviour) the address was free at once.
    const c = new NodeAllocator({ node: "node-a1" });
    c.rebuild(a.records(), a.blocks());
    expect(
      c.allocate({ key: key("new"), purpose: "storage", now: 2000 }).addresses[0]?.address,
    ).toBe(released.addresses[0]?.address);
  });

  it("ignores cooling entries on held addresses or outside the blocks", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    const x = a.allocate({ key: key("c1"), now: 0 }).addresses[0]?.address ?? "";
    const b = new NodeAllocator({ node: "node-a1" });
    const report = b.rebuild(a.records(), a.blocks(), [
      { address: x, until: 10 ** 9 },
      { address: "10.99.5.5", until: 10 ** 9 },
    ]);
    expect(report.cooling).toBe(0);
    expect(b.get(key("c1"))?.addresses[0]?.address).toBe(x);
  });
});

describe("NodeAllocator.updateSubnet", () => {
  it("applies new reservations to held blocks, refusing to reserve an allocated address", () => {
    const s = subnet("tor-a1-1-default-v4", { cooldownSeconds: 0 });
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(s, "10.99.0.0/26"));
    const first = a.allocate({ key: key("c1"), now: 0 }).addresses[0]?.address; // 10.99.0.2
    expect(code(() => a.updateSubnet({ ...s, reserved: ["10.99.0.2"] }))).toBe("CONFLICT");
    expect(a.updateSubnet({ ...s, reserved: ["10.99.0.3-10.99.0.9"] })).toBe(1);
    expect(a.allocate({ key: key("c2"), now: 0 }).addresses[0]?.address).toBe("10.99.0.10");
    expect(a.get(key("c1"))?.addresses[0]?.address).toBe(first);
    expect(a.blocks()[0]?.subnet.reserved).toEqual(["10.99.0.3-10.99.0.9"]);
    expect(code(() => a.updateSubnet({ ...s, purpose: "storage" }))).toBe("INVALID_ARGUMENT");
    expect(a.updateSubnet(subnet("tor-a1-2-default-v4"))).toBe(0);
  });

  it("keeps a cooling address that becomes reserved out of circulation", () => {
    const s = subnet("tor-a1-1-storage-v4"); // /28 blocks, 30 s cool-down
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(s, "10.99.8.16/28"));
    const x =
      a.allocate({ key: key("c1"), purpose: "storage", now: 0 }).addresses[0]?.address ?? "";
    a.release(key("c1"), 0);
    a.updateSubnet({ ...s, reserved: [x] });
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++)
      seen.add(
        a.allocate({ key: key(`k${i}`), purpose: "storage", now: 60_000 }).addresses[0]?.address ??
          "",
      );
    expect(seen.has(x)).toBe(false);
    expect(code(() => a.allocate({ key: key("full"), purpose: "storage", now: 60_000 }))).toBe(
      "POOL_EXHAUSTED",
    );
  });
});

describe("NodeAllocator static addresses", () => {
  function message(fn: () => unknown): string {
    try {
      fn();
    } catch (error) {
      return `${(error as { code: string }).code}: ${(error as Error).message}`;
    }
    return "no error";
  }

  it("claims exactly the address asked for, idempotently, and refuses another one for the key", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    const r = a.allocate({ key: key("s1"), now: 0, addresses: ["10.99.0.40"] });
    expect(r.addresses[0]).toMatchObject({ address: "10.99.0.40", block: "10.99.0.0/26" });
    // The same key asking again for the same address gets the same answer.
    expect(a.allocate({ key: key("s1"), now: 1, addresses: ["10.99.0.40"] }).existing).toBe(true);
    expect(message(() => a.allocate({ key: key("s1"), now: 1, addresses: ["10.99.0.41"] }))).toBe(
      "CONFLICT: key k8s/s1/eth0 holds 10.99.0.40, not 10.99.0.41: release it first to change its address",
    );
    // A static claim does not move the next-fit cursor: dynamic allocation goes on from .2.
    expect(a.allocate({ key: key("d1"), now: 1 }).addresses[0]?.address).toBe("10.99.0.2");
  });

  it("refuses held, cooling, reserved, foreign-purpose and not-held addresses, clearly", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease({ ...V4, reserved: ["10.99.0.10-10.99.0.12"] }, "10.99.0.0/26"));
    a.addBlock(lease(subnet("tor-a1-1-storage-v4"), "10.99.8.0/28"));
    a.allocate({ key: key("a"), now: 0, addresses: ["10.99.0.20"] });
    expect(message(() => a.allocate({ key: key("b"), now: 0, addresses: ["10.99.0.20"] }))).toBe(
      "CONFLICT: 10.99.0.20 is held by k8s/a/eth0",
    );
    a.release(key("a"), 1_000);
    expect(
      message(() => a.allocate({ key: key("b"), now: 2_000, addresses: ["10.99.0.20"] })),
    ).toBe("CONFLICT: 10.99.0.20 was released and is cooling down until 1970-01-01T00:00:31.000Z");
    expect(a.allocate({ key: key("b"), now: 31_000, addresses: ["10.99.0.20"] }).existing).toBe(
      false,
    );
    expect(message(() => a.allocate({ key: key("c"), now: 0, addresses: ["10.99.0.1"] }))).toBe(
      "INVALID_ARGUMENT: 10.99.0.1 is the gateway of tor-a1-1-default-v4: it is never handed out",
    );
    expect(message(() => a.allocate({ key: key("c"), now: 0, addresses: ["10.99.0.0"] }))).toBe(
      "INVALID_ARGUMENT: 10.99.0.0 is the network address of 10.99.0.0/21: it is never handed out",
    );
    expect(message(() => a.allocate({ key: key("c"), now: 0, addresses: ["10.99.0.11"] }))).toBe(
      "INVALID_ARGUMENT: 10.99.0.11 is in the reserved range 10.99.0.10-10.99.0.12 of tor-a1-1-default-v4: it is never handed out",
    );
    expect(message(() => a.allocate({ key: key("c"), now: 0, addresses: ["10.99.8.5"] }))).toBe(
      "INVALID_ARGUMENT: addresses: 10.99.8.5 is a storage address (subnet tor-a1-1-storage-v4), not default",
    );
    expect(message(() => a.allocate({ key: key("c"), now: 0, addresses: ["10.99.0.70"] }))).toBe(
      "NOT_FOUND: node node-a1 holds no block containing 10.99.0.70: lease the block that contains it",
    );
    expect(message(() => a.allocate({ key: key("c"), now: 0, addresses: ["fd99::5"] }))).toBe(
      "INVALID_ARGUMENT: addresses[0]: fd99::5 is IPv6, a family not requested (families: IPv4)",
    );
    expect(
      message(() => a.allocate({ key: key("c"), now: 0, addresses: ["10.99.0.30", "10.99.0.31"] })),
    ).toBe(
      "INVALID_ARGUMENT: addresses[1]: 10.99.0.31 is a second IPv4 address (already 10.99.0.30); one per family",
    );
    expect(a.get(key("c"))).toBeUndefined();
  });

  it("dual-stack with one static family: the other is dynamic, all or nothing", () => {
    const a = new NodeAllocator({ node: "node-a1" });
    a.addBlock(lease(V4, "10.99.0.0/26"));
    // No IPv6 block yet: the static IPv4 claim is given back, nothing is held.
    expect(
      code(() =>
        a.allocate({ key: key("ds"), families: [4, 6], now: 0, addresses: ["10.99.0.9"] }),
      ),
    ).toBe("POOL_EXHAUSTED");
    expect(a.get(key("ds"))).toBeUndefined();
    a.addBlock(lease(V6, "fd99::/120"));
    const r = a.allocate({ key: key("ds"), families: [4, 6], now: 0, addresses: ["10.99.0.9"] });
    expect(r.addresses.map((x) => x.address)).toEqual(["10.99.0.9", "fd99::2"]);
    // IPv6 static, IPv4 dynamic.
    const s = a.allocate({ key: key("ds6"), families: [4, 6], now: 0, addresses: ["fd99::80"] });
    expect(s.addresses.map((x) => x.address)).toEqual(["10.99.0.2", "fd99::80"]);
  });
});
