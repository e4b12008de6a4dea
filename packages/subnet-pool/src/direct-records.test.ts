import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DirectEntry, DirectRecords } from "./direct-records.js";

const keyOf = (e: DirectEntry) => `${e.network}/${e.containerId}/${e.ifname}/${e.family}`;

function entry(i: number, node: number, family: 4 | 6 = 4): DirectEntry {
  return {
    network: i % 3 === 0 ? "k8s" : "underlay",
    containerId: `c${i % 10}`,
    ifname: i % 2 === 0 ? "eth0" : "net1",
    family,
    node: `node-${node}`,
    purpose: i % 5 === 0 ? "storage" : "default",
    subnet: `s-${family}`,
    offset: i,
    allocatedAt: 1_700_000_000_000 + i,
  };
}

type Op =
  | { kind: "add"; i: number; node: number; family: 4 | 6 }
  | { kind: "remove"; pick: number }
  | { kind: "undo-remove"; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("add" as const),
    i: fc.integer({ min: 0, max: 299 }),
    node: fc.integer({ min: 0, max: 6 }),
    family: fc.constantFrom(4 as const, 6 as const),
  }),
  fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("undo-remove" as const), pick: fc.nat() }),
);

describe("DirectRecords", () => {
  it("finds, lists and counts exactly what a Map model holds, through adds, removes and undone removes", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 400 }), (ops) => {
        const records = new DirectRecords();
        // Half the runs size the store up front, as a snapshot restore does.
        if (ops.length % 2 === 0) records.reserve(ops.length);
        const model = new Map<string, { row: number; e: DirectEntry }>();
        for (const o of ops) {
          if (o.kind === "add") {
            const e = entry(o.i, o.node, o.family);
            if (model.has(keyOf(e))) continue;
            expect(records.find(e.network, e.containerId, e.ifname, e.family)).toBe(-1);
            model.set(keyOf(e), { row: records.add(e), e });
          } else if (model.size > 0) {
            const [key, held] = [...model][o.pick % model.size] as [
              string,
              { row: number; e: DirectEntry },
            ];
            records.remove(held.row);
            model.delete(key);
            // An undone remove (the journal's inverse, run right after) brings back the same row.
            if (o.kind === "undo-remove") {
              records.revive(held.row, held.e);
              model.set(key, held);
            }
          }
          expect(records.size).toBe(model.size);
        }
        for (const { row, e } of model.values()) {
          expect(records.find(e.network, e.containerId, e.ifname, e.family)).toBe(row);
          expect(records.entry(row)).toEqual(e);
        }
        // Keys that were never added (or were removed) are not found.
        for (let i = 0; i < 300; i++) {
          for (const family of [4, 6] as const) {
            const e = entry(i, 0, family);
            if (!model.has(keyOf(e)))
              expect(records.find(e.network, e.containerId, e.ifname, e.family)).toBe(-1);
          }
        }
        expect(records.rows().sort((a, b) => a - b)).toEqual(
          [...model.values()].map((x) => x.row).sort((a, b) => a - b),
        );
        for (let n = 0; n < 7; n++) {
          const mine = [...model.values()].filter((x) => x.e.node === `node-${n}`);
          expect(records.nodeCount(`node-${n}`)).toBe(mine.length);
          expect(records.nodeRows(`node-${n}`).sort((a, b) => a - b)).toEqual(
            mine.map((x) => x.row).sort((a, b) => a - b),
          );
        }
      }),
      { numRuns: 150 },
    );
  });

  it("finds every other allocation after any one of a crowd sharing container ids is removed", () => {
    // Allocations of one container id hash alike and sit side by side in the index: removing one
    // must keep the rest of its run reachable.
    const crowd: DirectEntry[] = [];
    for (const containerId of ["c0", "c1", "c2"])
      for (const network of ["k8s", "underlay"])
        for (const ifname of ["eth0", "net1"])
          for (const family of [4, 6] as const)
            crowd.push({ ...entry(crowd.length, 1, family), containerId, network, ifname });
    for (let gone = 0; gone < crowd.length; gone++) {
      const records = new DirectRecords();
      const rows = crowd.map((e) => records.add(e));
      records.remove(rows[gone] as number);
      crowd.forEach((e, i) => {
        expect(records.find(e.network, e.containerId, e.ifname, e.family)).toBe(
          i === gone ? -1 : rows[i],
        );
      });
    }
  });

  it("orders rows by network, container id, ifname, then family", () => {
    const records = new DirectRecords();
    const entries = [
      { ...entry(1, 0), network: "b", containerId: "a", ifname: "eth0", family: 4 as const },
      { ...entry(2, 0), network: "a", containerId: "z", ifname: "eth0", family: 6 as const },
      { ...entry(3, 0), network: "a", containerId: "z", ifname: "eth0", family: 4 as const },
      { ...entry(4, 0), network: "a", containerId: "b", ifname: "net1", family: 4 as const },
      { ...entry(5, 0), network: "a", containerId: "b", ifname: "eth0", family: 4 as const },
    ];
    const rows = entries.map((e) => records.add(e));
    const sorted = [...rows].sort(records.compare).map((r) => records.entry(r).offset);
    expect(sorted).toEqual([5, 4, 3, 2, 1]);
  });

  it("forgets the strings of removed rows and reuses freed rows", () => {
    const records = new DirectRecords();
    const a = records.add(entry(1, 1));
    records.remove(a);
    expect(records.nodeCount("node-1")).toBe(0);
    expect(records.nodeRows("node-1")).toEqual([]);
    const b = records.add(entry(2, 2));
    expect(b).toBe(a);
    expect(records.entry(b)).toEqual(entry(2, 2));
  });
});
