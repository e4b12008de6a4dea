import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AllocationRecord } from "../src/index.js";
import { openMemoryStore } from "../src/testing.js";

type Op =
  | { kind: "save"; c: number; ifname: number; addrs: number[] }
  | { kind: "delete"; c: number; ifname: number }
  | { kind: "retain"; keep: number[] };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("save" as const),
      c: fc.nat(5),
      ifname: fc.nat(1),
      addrs: fc.uniqueArray(fc.nat(7), { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("delete" as const), c: fc.nat(5), ifname: fc.nat(1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("retain" as const),
      keep: fc.uniqueArray(fc.nat(5), { maxLength: 4 }),
    }),
  },
);

const addr = (n: number) => (n % 2 === 0 ? `10.0.0.${n}` : `fd00::${n}`);
const keyOf = (c: number, ifname: number) => `c${c}/eth${ifname}`;

describe("allocation records against a model", () => {
  it("matches a Map model under random batches of saves, deletes and GC", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { maxLength: 8 }),
        async (batches) => {
          const store = openMemoryStore();
          const model = new Map<string, AllocationRecord>();
          const owner = new Map<string, string>();
          let t = 0;
          for (const batch of batches) {
            // Every op of a batch is issued in the same turn: one group commit, applied in order.
            const expected: unknown[] = [];
            const calls = batch.map((o) => {
              if (o.kind === "save") {
                const record: AllocationRecord = {
                  network: "default",
                  containerId: `c${o.c}`,
                  ifname: `eth${o.ifname}`,
                  addresses: o.addrs.map(addr),
                  node: "n1",
                  purpose: "default",
                  createdAt: t++,
                };
                const key = keyOf(o.c, o.ifname);
                const existing = model.get(key);
                if (existing !== undefined) {
                  expected.push({ created: false, record: existing });
                } else if (record.addresses.some((a) => owner.has(a))) {
                  expected.push("CONFLICT");
                } else {
                  model.set(key, record);
                  for (const a of record.addresses) owner.set(a, key);
                  expected.push({ created: true, record });
                }
                return store.saveAllocation(record);
              }
              if (o.kind === "delete") {
                const key = keyOf(o.c, o.ifname);
                const existing = model.get(key);
                model.delete(key);
                for (const a of existing?.addresses ?? []) owner.delete(a);
                expected.push(existing);
                return store.deleteAllocation({
                  network: "default",
                  containerId: `c${o.c}`,
                  ifname: `eth${o.ifname}`,
                });
              }
              const keep = new Set(o.keep.map((c) => keyOf(c, 0)));
              const removed = [...model.entries()]
                .filter(([k]) => !keep.has(k))
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([k, r]) => {
                  model.delete(k);
                  for (const a of r.addresses) owner.delete(a);
                  return r;
                });
              expected.push(removed);
              return store.retainOnly(
                "default",
                o.keep.map((c) => ({ containerId: `c${c}`, ifname: "eth0" })),
              );
            });
            const settled = await Promise.allSettled(calls);
            const actual = settled.map((s) =>
              s.status === "fulfilled" ? s.value : (s.reason as { code: string }).code,
            );
            expect(actual).toEqual(expected);
          }
          const sorted = [...model.values()].sort((a, b) =>
            `${a.containerId}/${a.ifname}` < `${b.containerId}/${b.ifname}` ? -1 : 1,
          );
          expect(store.listAll()).toEqual(sorted);
          for (const [a, key] of owner) {
            const r = store.getByAddress("default", a);
            expect(`${r?.containerId}/${r?.ifname}`).toBe(key);
          }
          expect(store.integrityCheck().ok).toBe(true);
          store.close();
        },
      ),
      { numRuns: 120 },
    );
  });
});
