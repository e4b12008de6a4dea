import { exampleTopology, type Subnet } from "@ipam/topology";
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
});
