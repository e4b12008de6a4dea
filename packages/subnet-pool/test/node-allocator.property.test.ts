import { Cidr, parseIp } from "@ipam/bitmap";
import { exampleTopology, reservedIntervals, type Subnet } from "@ipam/topology";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AllocationRecord, isPoolError, NodeAllocator } from "../src/index.js";

const topology = exampleTopology();
const subnet = (id: string): Subnet => topology.subnets.get(id) as Subnet;
// Small blocks so that sequences reach exhaustion: /28 storage blocks (v4 and v6 /124).
const LEASES = [
  { node: "node-a1", cidr: "10.99.8.0/28", leasedAt: 0, subnet: subnet("tor-a1-1-storage-v4") },
  { node: "node-a1", cidr: "fd99:0:0:1::/124", leasedAt: 0, subnet: subnet("tor-a1-1-storage-v6") },
  { node: "node-a1", cidr: "10.99.0.0/26", leasedAt: 0, subnet: subnet("tor-a1-1-default-v4") },
];

type Op =
  | { kind: "alloc"; id: number; purpose: string; families: (4 | 6)[] }
  | { kind: "release"; id: number }
  | { kind: "gc"; keep: number[] };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("alloc" as const),
      id: fc.integer({ min: 0, max: 40 }),
      purpose: fc.constantFrom("default", "storage", "management"),
      families: fc.constantFrom<(4 | 6)[]>([4], [6], [4, 6], [6, 4]),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("release" as const),
      id: fc.integer({ min: 0, max: 40 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("gc" as const),
      keep: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 20 }),
    }),
  },
);

const key = (id: number) => ({ network: "k8s", containerId: `c${id}`, ifname: "eth0" });

describe("NodeAllocator properties", () => {
  it("matches a model: one owner per address, idempotent keys, all-or-nothing families", () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 120 }),
        fc.integer({ min: 0, max: 5000 }),
        (ops, step) => {
          const a = new NodeAllocator({ node: "node-a1" });
          for (const l of LEASES) a.addBlock(l);
          const model = new Map<number, AllocationRecord>();
          let now = 0;
          for (const o of ops) {
            now += step;
            if (o.kind === "alloc") {
              const before = model.get(o.id);
              try {
                const r = a.allocate({
                  key: key(o.id),
                  purpose: o.purpose,
                  families: o.families,
                  now,
                });
                if (before !== undefined) {
                  expect(r.existing).toBe(true);
                  expect(r.addresses).toEqual(before.addresses);
                } else {
                  expect(r.existing).toBe(false);
                  expect(r.addresses.map((x) => x.family)).toEqual(o.families);
                  for (const x of r.addresses)
                    expect(topology.subnets.get(x.subnet)?.purpose).toBe(o.purpose);
                  model.set(o.id, r.record);
                }
              } catch (error) {
                expect(isPoolError(error)).toBe(true);
                const code = (error as { code: string }).code;
                if (before !== undefined) expect(code).toBe("CONFLICT");
                else expect(code).toBe("POOL_EXHAUSTED");
              }
            } else if (o.kind === "release") {
              const released = a.release(key(o.id), now);
              expect(released).toEqual(model.get(o.id));
              model.delete(o.id);
            } else {
              const gone = a.gc(
                "k8s",
                o.keep.map((id) => key(id)),
                now,
              );
              const expected = [...model.keys()].filter((id) => !o.keep.includes(id));
              expect(gone.map((r) => r.key.containerId).sort()).toEqual(
                expected.map((id) => `c${id}`).sort(),
              );
              for (const id of expected) model.delete(id);
            }
            const held = [...model.values()].flatMap((r) => r.addresses.map((x) => x.address));
            expect(new Set(held).size).toBe(held.length);
            expect(a.records().length).toBe(model.size);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  // Static addresses (a container asking for one address): the "claim this address for this
  // key" operation against a model that knows, per address, the holder, the end of its
  // cool-down and whether the subnet reserves it (from @ipam/topology's reservedIntervals, not
  // from the allocator's own tables).
  it("claims static addresses as a model says: held, cooling, reserved, foreign, not held", () => {
    const v4: Subnet = { ...subnet("tor-a1-1-default-v4"), reserved: ["10.99.0.10-10.99.0.12"] };
    const storage4 = subnet("tor-a1-1-storage-v4");
    const leases = [
      { node: "node-a1", cidr: "10.99.0.0/26", leasedAt: 0, subnet: v4 },
      { node: "node-a1", cidr: "10.99.8.0/28", leasedAt: 0, subnet: storage4 },
      {
        node: "node-a1",
        cidr: "fd99:0:0:1::/124",
        leasedAt: 0,
        subnet: subnet("tor-a1-1-storage-v6"),
      },
    ];
    // Candidates: the whole default block and past it (not held), and the storage block.
    const candidates = [
      ...Array.from({ length: 70 }, (_, i) => `10.99.0.${i}`),
      ...Array.from({ length: 18 }, (_, i) => `10.99.8.${i}`),
    ];
    const reserved = (address: string): boolean => {
      const ip = parseIp(address);
      const s = leases.map((l) => l.subnet).find((x) => Cidr.parse(x.cidr).contains(ip)) as Subnet;
      const value = BigInt(ip.value);
      return reservedIntervals(s).some((r) => value >= r.start && value <= r.end);
    };
    const held = (address: string): boolean =>
      leases.some((l) => Cidr.parse(l.cidr).contains(parseIp(address)));
    const purposeOf = (address: string) => (address.startsWith("10.99.8.") ? "storage" : "default");

    type StaticOp =
      | { kind: "claim"; id: number; at: number; purpose: "default" | "storage"; dual: boolean }
      | { kind: "alloc"; id: number; purpose: "default" | "storage" }
      | { kind: "release"; id: number };
    const staticOp: fc.Arbitrary<StaticOp> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant("claim" as const),
          id: fc.integer({ min: 0, max: 15 }),
          at: fc.integer({ min: 0, max: candidates.length - 1 }),
          purpose: fc.constantFrom("default" as const, "storage" as const),
          dual: fc.boolean(),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant("alloc" as const),
          id: fc.integer({ min: 0, max: 15 }),
          purpose: fc.constantFrom("default" as const, "storage" as const),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant("release" as const),
          id: fc.integer({ min: 0, max: 15 }),
        }),
      },
    );

    fc.assert(
      fc.property(
        fc.array(staticOp, { maxLength: 100 }),
        fc.integer({ min: 0, max: 20_000 }),
        (ops, step) => {
          const a = new NodeAllocator({ node: "node-a1" });
          for (const l of leases) a.addBlock(l);
          const records = new Map<number, AllocationRecord>();
          const holder = new Map<string, number>();
          const coolingUntil = new Map<string, number>();
          let now = 0;
          const take = (id: number, record: AllocationRecord) => {
            records.set(id, record);
            for (const x of record.addresses) {
              expect(holder.has(x.address)).toBe(false);
              expect(now >= (coolingUntil.get(x.address) ?? 0)).toBe(true);
              expect(reserved(x.address)).toBe(false);
              holder.set(x.address, id);
            }
          };
          for (const o of ops) {
            now += step;
            if (o.kind === "release") {
              const r = a.release(key(o.id), now);
              expect(r).toEqual(records.get(o.id));
              for (const x of r?.addresses ?? []) {
                holder.delete(x.address);
                coolingUntil.set(x.address, now + 30_000);
              }
              records.delete(o.id);
              continue;
            }
            const families: (4 | 6)[] =
              o.kind === "claim" && o.dual ? [4, 6] : o.kind === "alloc" ? [4] : [4];
            const address = o.kind === "claim" ? (candidates[o.at] as string) : undefined;
            const before = records.get(o.id);
            let expected: string | undefined; // an error code, or undefined for success
            if (before !== undefined) {
              expected =
                before.purpose !== o.purpose ||
                (address !== undefined && !before.addresses.some((x) => x.address === address))
                  ? "CONFLICT"
                  : undefined;
            } else if (address !== undefined) {
              if (!held(address)) expected = "NOT_FOUND";
              else if (purposeOf(address) !== o.purpose || reserved(address))
                expected = "INVALID_ARGUMENT";
              else if (holder.has(address)) expected = "CONFLICT";
              else if (now < (coolingUntil.get(address) ?? 0)) expected = "CONFLICT";
            }
            const snapshot = a.records();
            try {
              const r = a.allocate({
                key: key(o.id),
                purpose: o.purpose,
                families,
                now,
                ...(address === undefined ? {} : { addresses: [address] }),
              });
              expect(expected).toBeUndefined();
              if (before !== undefined) {
                expect(r.existing).toBe(true);
                expect(r.record).toEqual(before);
                continue;
              }
              if (address !== undefined) expect(r.addresses[0]?.address).toBe(address);
              expect(r.addresses.map((x) => x.family)).toEqual(families);
              take(o.id, r.record);
            } catch (error) {
              expect(isPoolError(error)).toBe(true);
              const code = (error as { code: string }).code;
              // A dual-stack request whose static IPv4 is fine fails on IPv6 only for lack of a
              // default IPv6 block: all or nothing.
              if (expected === undefined) {
                expect(code).toBe("POOL_EXHAUSTED");
              } else expect(code).toBe(expected);
              if (code === "CONFLICT" && before === undefined && address !== undefined) {
                const other = holder.get(address);
                expect((error as Error).message).toContain(
                  other === undefined ? "cooling down until" : `k8s/c${other}/eth0`,
                );
              }
              expect(a.records()).toEqual(snapshot);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
