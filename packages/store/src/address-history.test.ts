import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { recordFor } from "../test/helpers/records.js";
import { useTempDir } from "../test/helpers/temp-dir.js";
import type { AddressEvent } from "./address-history.js";
import { type CommitThread, openStore } from "./store.js";

const tempDir = useTempDir();

function openOn(thread: CommitThread) {
  const path = thread === "main" ? ":memory:" : join(tempDir(), "ipamd.db");
  return openStore({ path, commitThread: thread });
}

const key = { network: "default", containerId: "c1", ifname: "eth0" };

describe.each(["main", "worker"] as const)("address history (commit thread %s)", (thread) => {
  it("journals every allocation and release with the record, one event per address", async () => {
    const store = openOn(thread);
    const before = Date.now();
    await store.saveAllocation(
      recordFor(1, {
        addresses: ["10.0.0.1", "fd00::1"],
        subnets: ["s4", "s6"],
        podNamespace: "ns",
        podName: "p",
        podUid: "0b7d-11",
      }),
    );
    await store.deleteAllocation(key, []);
    const events = store.addressHistory().journalAfter(0, 100);
    expect(events.map((e) => [e.seq, e.event, e.address, e.subnet])).toEqual([
      [1, "allocate", "10.0.0.1", "s4"],
      [2, "allocate", "fd00::1", "s6"],
      [3, "release", "10.0.0.1", "s4"],
      [4, "release", "fd00::1", "s6"],
    ]);
    expect(events[0]).toMatchObject({
      node: "node-a",
      network: "default",
      containerId: "c1",
      ifname: "eth0",
      purpose: "default",
      podNamespace: "ns",
      podName: "p",
      podUid: "0b7d-11",
      at: 1_700_000_000_001,
      journal: store.addressHistory().journalId(),
    });
    expect(events[2]?.at).toBeGreaterThanOrEqual(before);
    expect(store.getAllocation(key)).toBeUndefined();
    store.close();
  });

  it("writes no event for a refused save or an existing key, and one per GC release", async () => {
    const store = openOn(thread);
    await store.saveAllocation(recordFor(1));
    await expect(
      store.saveAllocation(recordFor(2, { addresses: ["10.0.0.1"] })),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await store.saveAllocation(recordFor(1));
    await store.retainOnly("default", []);
    const events = store.addressHistory().journalAfter(0, 100);
    expect(events.map((e) => `${e.event} ${e.containerId}`)).toEqual(["allocate c1", "release c1"]);
    store.close();
  });
});

describe("address history: journal pruning and the archive", () => {
  it("prunes the journal in bounded batches and never reuses a seq", async () => {
    const store = openOn("main");
    const h = store.addressHistory();
    for (let i = 1; i <= 5; i++) await store.saveAllocation(recordFor(i, { createdAt: i }));
    expect(h.pruneJournal(4, 2)).toBe(2);
    expect(h.journalAfter(0, 10).map((e) => e.seq)).toEqual([3, 4, 5]);
    // Everything is past the cut-off, but the newest event stays: the next seq is 6, not 1.
    expect(h.pruneJournal(1_000, 10)).toBe(2);
    expect(h.journalHead()).toBe(5);
    await store.saveAllocation(recordFor(6, { createdAt: 6 }));
    expect(h.pruneJournal(1_000, 10)).toBe(1);
    expect(h.journalAfter(0, 10).map((e) => e.seq)).toEqual([6]);
    store.close();
  });

  it("archives each (node, journal, seq) once and answers by address in time order", () => {
    const store = openOn("main");
    const h = store.addressHistory();
    const event = (seq: number, at: number, extra: Partial<AddressEvent> = {}): AddressEvent => ({
      node: "x",
      journal: "j1",
      seq,
      at,
      event: "allocate",
      address: "10.0.0.7",
      network: "default",
      containerId: `c${seq}`,
      ifname: "eth0",
      purpose: "default",
      subnet: "s1",
      ...extra,
    });
    expect(h.archivedThrough("x", "j1")).toBe(0);
    expect(h.archive("x", "j1", [event(1, 100), event(2, 200, { event: "release" })])).toBe(2);
    expect(h.archive("x", "j1", [event(1, 100), event(2, 200, { event: "release" })])).toBe(2);
    expect(h.archive("y", "j2", [event(1, 150, { address: "10.0.0.8" }), event(2, 300)])).toBe(2);
    expect(h.archivedOf("10.0.0.7", 0, 1_000).map((e) => `${e.node}/${e.seq}@${e.at}`)).toEqual([
      "x/1@100",
      "x/2@200",
      "y/2@300",
    ]);
    expect(h.archivedOf("10.0.0.7", 150, 250).map((e) => e.at)).toEqual([200]);
    expect(h.oldestArchived()).toBe(100);
    expect(h.growth(100, 100)).toEqual([
      { subnet: "s1", bucket: 0, allocated: 2, released: 0 },
      { subnet: "s1", bucket: 1, allocated: 0, released: 1 },
      { subnet: "s1", bucket: 2, allocated: 1, released: 0 },
    ]);
    expect(h.pruneArchive(200, 1)).toBe(1);
    expect(h.pruneArchive(200, 10)).toBe(1);
    expect(h.oldestArchived()).toBe(200);
    store.close();
  });

  it("refuses a bad limit naming the field", () => {
    const store = openOn("main");
    expect(() => store.addressHistory().pruneJournal(1, 0)).toThrowError(/limit: 0/);
    store.close();
  });
});
