import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { recordFor } from "../test/helpers/records.js";
import { useTempDir } from "../test/helpers/temp-dir.js";
import type { CommitInfo } from "./group-commit.js";
import { type CommitThread, openStore, type StoreOptions } from "./store.js";

const tempDir = useTempDir();
const code = (c: string) => expect.objectContaining({ name: "StoreError", code: c });

/**
 * A fresh store whose group commits run on `thread`: `"main"` on `:memory:` (the fake other
 * packages use), `"worker"` on a file in a temporary folder (what the daemon runs).
 */
function openOn(thread: CommitThread, options: Omit<StoreOptions, "path"> = {}) {
  const path = thread === "main" ? ":memory:" : join(tempDir(), "ipamd.db");
  const store = openStore({ ...options, path, commitThread: thread });
  expect(store.commitThread).toBe(thread);
  return store;
}

describe.each(["main", "worker"] as const)(
  "Store: allocation records (commit thread %s)",
  (thread) => {
    it("saves a record once and never overwrites it", async () => {
      const store = openOn(thread);
      const first = await store.saveAllocation(
        recordFor(1, { podNamespace: "ns", podName: "p", subnet: "s1" }),
      );
      expect(first.created).toBe(true);
      const again = await store.saveAllocation(recordFor(1, { addresses: ["10.9.9.9"] }));
      expect(again.created).toBe(false);
      expect(again.record.addresses).toEqual(["10.0.0.1"]);
      expect(again.record.podName).toBe("p");
      expect(
        store.getAllocation({ network: "default", containerId: "c1", ifname: "eth0" }),
      ).toEqual(first.record);
      expect(store.getByAddress("default", "10.9.9.9")).toBeUndefined();
      store.close();
    });

    it("stores dual-stack addresses canonically, in order, with per-address subnets", async () => {
      const store = openOn(thread);
      const { record } = await store.saveAllocation(
        recordFor(1, {
          addresses: ["10.0.0.1", "FD00:0:0:0::0001"],
          subnets: ["10.0.0.0/24", "fd00::/64"],
        }),
      );
      expect(record.addresses).toEqual(["10.0.0.1", "fd00::1"]);
      const got = store.getByAddress("default", "fd00:0000::1");
      expect(got?.addresses).toEqual(["10.0.0.1", "fd00::1"]);
      expect(got?.subnets).toEqual(["10.0.0.0/24", "fd00::/64"]);
      expect(got?.podName).toBeUndefined();
      expect(store.getByAddress("other", "10.0.0.1")).toBeUndefined();
      store.close();
    });

    it("refuses an address held by another key, naming both, and writes nothing of the record", async () => {
      const store = openOn(thread);
      await store.saveAllocation(recordFor(1));
      const clash = store.saveAllocation(recordFor(2, { addresses: ["10.5.5.5", "10.0.0.1"] }));
      await expect(clash).rejects.toThrow(code("CONFLICT"));
      await expect(clash).rejects.toThrow(/10\.0\.0\.1.*c1.*eth0/);
      await expect(clash).rejects.toMatchObject({
        details: { address: "10.0.0.1", holder: { containerId: "c1", ifname: "eth0" } },
      });
      expect(store.getByAddress("default", "10.5.5.5")).toBeUndefined();
      expect(store.getAllocation(recordFor(2))).toBeUndefined();
      // The same address on another network is a different address.
      await expect(
        store.saveAllocation(recordFor(2, { network: "storage", addresses: ["10.0.0.1"] })),
      ).resolves.toMatchObject({ created: true });
      store.close();
    });

    it("a conflict inside a batch rejects only that write; the others commit", async () => {
      const commits: CommitInfo[] = [];
      const store = openOn(thread, { onCommit: (c) => commits.push(c) });
      const results = await Promise.allSettled([
        store.saveAllocation(recordFor(1)),
        store.saveAllocation(recordFor(2, { addresses: ["10.0.0.1"] })),
        store.saveAllocation(recordFor(3)),
        store.saveAllocation(recordFor(1)),
      ]);
      expect(results.map((r) => r.status)).toEqual([
        "fulfilled",
        "rejected",
        "fulfilled",
        "fulfilled",
      ]);
      expect(results[3]).toMatchObject({ value: { created: false } });
      expect(commits).toEqual([expect.objectContaining({ writes: 4, ok: true })]);
      expect(store.countAllocations()).toBe(2);
      store.close();
    });

    it("rejects bad records with the field named", async () => {
      const store = openOn(thread);
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ network: "" }, /record\.network/],
        [{ containerId: 3 }, /record\.containerId/],
        [{ addresses: [] }, /record\.addresses/],
        [{ addresses: ["10.0.0.1", "10.0.0.256"] }, /record\.addresses\[1\]: 10\.0\.0\.256/],
        [{ addresses: ["fd00::1", "FD00::1"] }, /record\.addresses\[1\].*twice/],
        [{ addresses: ["fe80::1%eth0"] }, /record\.addresses\[0\]/],
        [{ subnets: ["a", "b"] }, /record\.subnets/],
        [{ createdAt: 1.5 }, /record\.createdAt/],
        [{ podName: "" }, /record\.podName/],
      ];
      for (const [patch, message] of cases) {
        const bad = { ...recordFor(1), ...patch } as Parameters<typeof store.saveAllocation>[0];
        await expect(store.saveAllocation(bad)).rejects.toThrow(message);
        await expect(store.saveAllocation(bad)).rejects.toThrow(code("INVALID_ARGUMENT"));
      }
      expect(store.countAllocations()).toBe(0);
      expect(() => store.getByAddress("default", "nope")).toThrow(/address: nope/);
      store.close();
    });

    it("lists by node, by network and all, in key order", async () => {
      const store = openOn(thread);
      await Promise.all([
        store.saveAllocation(recordFor(3, { node: "n2" })),
        store.saveAllocation(recordFor(1, { node: "n1" })),
        store.saveAllocation(recordFor(2, { node: "n1", network: "storage" })),
        store.saveAllocation(recordFor(4, { node: "n1", ifname: "net1" })),
      ]);
      const ids = (rs: { network: string; containerId: string; ifname: string }[]) =>
        rs.map((r) => `${r.network}/${r.containerId}/${r.ifname}`);
      expect(ids(store.listByNode("n1"))).toEqual([
        "default/c1/eth0",
        "default/c4/net1",
        "storage/c2/eth0",
      ]);
      expect(ids(store.listByNetwork("default"))).toEqual([
        "default/c1/eth0",
        "default/c3/eth0",
        "default/c4/net1",
      ]);
      expect(ids(store.listAll())).toEqual([
        "default/c1/eth0",
        "default/c3/eth0",
        "default/c4/net1",
        "storage/c2/eth0",
      ]);
      expect(store.countAllocations()).toBe(4);
      expect(() => store.listByNode("")).toThrow(/node: expected a non-empty string/);
      expect(() => store.listByNetwork(undefined as unknown as string)).toThrow(/network/);
      store.close();
    });

    it("deletes idempotently and frees the addresses", async () => {
      const store = openOn(thread);
      await store.saveAllocation(recordFor(1));
      const key = { network: "default", containerId: "c1", ifname: "eth0" };
      expect((await store.deleteAllocation(key))?.addresses).toEqual(["10.0.0.1"]);
      expect(await store.deleteAllocation(key)).toBeUndefined();
      expect(store.getAllocation(key)).toBeUndefined();
      await expect(
        store.saveAllocation(recordFor(2, { addresses: ["10.0.0.1"] })),
      ).resolves.toMatchObject({
        created: true,
      });
      await expect(store.deleteAllocation({ ...key, ifname: "" })).rejects.toThrow(/key\.ifname/);
      store.close();
    });

    it("retainOnly removes every record of the network not listed, and returns them", async () => {
      const store = openOn(thread);
      await Promise.all(
        [1, 2, 3]
          .map((i) => store.saveAllocation(recordFor(i)))
          .concat(store.saveAllocation(recordFor(4, { network: "storage" }))),
      );
      const removed = await store.retainOnly("default", [
        { containerId: "c2", ifname: "eth0" },
        { containerId: "c3", ifname: "net9" },
      ]);
      expect(removed.map((r) => r.containerId)).toEqual(["c1", "c3"]);
      expect(store.listAll().map((r) => r.containerId)).toEqual(["c2", "c4"]);
      expect(await store.retainOnly("default", [{ containerId: "c2", ifname: "eth0" }])).toEqual(
        [],
      );
      await expect(
        store.retainOnly("default", [{ containerId: "", ifname: "eth0" }]),
      ).rejects.toThrow(/validKeys\[0\]\.containerId/);
      store.close();
    });
  },
);

describe("Store: cooling addresses", () => {
  it("writes the cooling entries with the delete, keeps them across a reopen, prunes them", async () => {
    const path = join(tempDir(), "ipamd.db");
    let store = openStore({ path });
    const key = { network: "k8s", containerId: "c1", ifname: "eth0" };
    await store.saveAllocation({
      ...key,
      addresses: ["10.0.0.7", "fd00::7"],
      node: "n1",
      purpose: "default",
      createdAt: 1,
    });
    const cooling = [
      { address: "10.0.0.7", until: 31_000 },
      { address: "FD00:0:0::7", until: 32_000 },
    ];
    expect((await store.deleteAllocation(key, cooling))?.addresses).toEqual([
      "10.0.0.7",
      "fd00::7",
    ]);
    // Deleting a key that holds nothing writes no cooling entry.
    await store.deleteAllocation({ ...key, containerId: "none" }, [
      { address: "10.0.0.9", until: 99_000 },
    ]);
    store.close();
    store = openStore({ path });
    expect(store.listCooling(1_000)).toEqual([
      { address: "10.0.0.7", until: 31_000 },
      { address: "fd00::7", until: 32_000 },
    ]);
    expect(store.listCooling(31_000)).toEqual([{ address: "fd00::7", until: 32_000 }]);
    expect(store.pruneCooling(31_000)).toBe(1);
    expect(store.listCooling(0)).toEqual([{ address: "fd00::7", until: 32_000 }]);
    store.close();
  });

  it("rejects a bad cooling entry with the field named, and deletes nothing", async () => {
    const store = openStore({ path: ":memory:" });
    const key = { network: "k8s", containerId: "c1", ifname: "eth0" };
    await store.saveAllocation({
      ...key,
      addresses: ["10.0.0.7"],
      node: "n1",
      purpose: "default",
      createdAt: 1,
    });
    await expect(
      store.deleteAllocation(key, [{ address: "10.0.0.300", until: 5 }]),
    ).rejects.toThrow(/cooling\[0\]\.address/);
    await expect(store.deleteAllocation(key, [{ address: "10.0.0.7", until: -1 }])).rejects.toThrow(
      /cooling\[0\]\.until/,
    );
    expect(store.getAllocation(key)?.addresses).toEqual(["10.0.0.7"]);
    expect(() => store.listCooling(Number.NaN)).toThrow(/now/);
    store.close();
  });
});

describe.each(["main", "worker"] as const)("Store: group commit (commit thread %s)", (thread) => {
  it("commits writes issued in the same turn in one transaction", async () => {
    const commits: CommitInfo[] = [];
    const store = openOn(thread, { onCommit: (c) => commits.push(c) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.saveAllocation(recordFor(i))));
    await store.saveAllocation(recordFor(100));
    expect(commits.map((c) => c.writes)).toEqual([50, 1]);
    store.close();
  });

  it("splits a long queue at maxBatchSize", async () => {
    const commits: number[] = [];
    const store = openOn(thread, {
      maxBatchSize: 2,
      onCommit: (c) => commits.push(c.writes),
    });
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.saveAllocation(recordFor(i))));
    expect(commits).toEqual([2, 2, 1]);
    expect(store.countAllocations()).toBe(5);
    store.close();
  });

  it("with a window, a queue longer than maxBatchSize does not wait another window", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const commits: number[] = [];
      const store = openOn(thread, {
        groupCommitWindowMs: 1000,
        maxBatchSize: 2,
        onCommit: (c) => commits.push(c.writes),
      });
      const all = Promise.all([1, 2, 3, 4, 5].map((i) => store.saveAllocation(recordFor(i))));
      vi.advanceTimersByTime(1000);
      await all;
      expect(commits).toEqual([2, 2, 1]);
      store.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("with a window, writes from later turns join the batch until the window ends", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const commits: number[] = [];
      const store = openOn(thread, {
        groupCommitWindowMs: 5,
        onCommit: (c) => commits.push(c.writes),
      });
      const a = store.saveAllocation(recordFor(1));
      await new Promise((r) => setImmediate(r));
      const b = store.saveAllocation(recordFor(2));
      expect(commits).toEqual([]);
      vi.advanceTimersByTime(5);
      await Promise.all([a, b]);
      expect(commits).toEqual([2]);
      store.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("close() commits queued writes before closing; later calls fail with CLOSED", async () => {
    const path = join(tempDir(), "s.db");
    const store = openStore({ path });
    const pending = store.saveAllocation(recordFor(1));
    store.close();
    await expect(pending).resolves.toMatchObject({ created: true });
    await expect(store.saveAllocation(recordFor(2))).rejects.toThrow(code("CLOSED"));
    expect(() => store.listAll()).toThrow(code("CLOSED"));
    expect(() => store.raftLog()).toThrow(code("CLOSED"));
    store.close();
    const again = openStore({ path });
    expect(again.countAllocations()).toBe(1);
    again.close();
  });
});

describe("Store: leased blocks and meta", () => {
  it("puts, replaces, deletes and lists leased blocks", () => {
    const store = openStore({ path: ":memory:" });
    store.putLeasedBlock({ subnet: "s1", cidr: "10.0.1.0/26", leasedAt: 5 });
    store.putLeasedBlock({ subnet: "s6", cidr: "FD00:0::/122", leasedAt: 6 });
    store.putLeasedBlock({ subnet: "s1", cidr: "10.0.1.0/26", leasedAt: 7 });
    expect(store.listLeasedBlocks()).toEqual([
      { subnet: "s1", cidr: "10.0.1.0/26", leasedAt: 7 },
      { subnet: "s6", cidr: "fd00::/122", leasedAt: 6 },
    ]);
    expect(store.deleteLeasedBlock("fd00::/122")).toBe(true);
    expect(store.deleteLeasedBlock("fd00::/122")).toBe(false);
    store.replaceLeasedBlocks([{ subnet: "s2", cidr: "10.0.2.0/26", leasedAt: 8 }]);
    expect(store.listLeasedBlocks().map((b) => b.cidr)).toEqual(["10.0.2.0/26"]);
    expect(() => store.putLeasedBlock({ subnet: "s", cidr: "10.0.0.0/33", leasedAt: 1 })).toThrow(
      "block.cidr: 10.0.0.0/33 is not a valid CIDR",
    );
    expect(() =>
      store.replaceLeasedBlocks([
        { subnet: "s", cidr: "10.0.0.0/24", leasedAt: 1 },
        { subnet: "s", cidr: "10.0.0.0", leasedAt: 1 },
      ]),
    ).toThrow(/blocks\[1\]\.cidr/);
    expect(store.listLeasedBlocks().map((b) => b.cidr)).toEqual(["10.0.2.0/26"]);
    store.close();
  });

  it("gets, sets and deletes meta values", () => {
    const store = openStore({ path: ":memory:" });
    expect(store.getMeta("nodeId")).toBeUndefined();
    store.setMeta("nodeId", "n1");
    store.setMeta("nodeId", "n2");
    expect(store.getMeta("nodeId")).toBe("n2");
    expect(store.deleteMeta("nodeId")).toBe(true);
    expect(store.getMeta("nodeId")).toBeUndefined();
    expect(() => store.setMeta("", "x")).toThrow(code("INVALID_ARGUMENT"));
    store.close();
  });
});

describe("Store: opening", () => {
  it("creates a WAL file with synchronous=FULL at the newest schema", () => {
    const path = join(tempDir(), "ipamd.db");
    const store = openStore({ path });
    expect(store.schemaVersion).toBe(4);
    expect(store.integrityCheck()).toEqual({ ok: true, problems: [] });
    store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();
    expect(readFileSync(path).subarray(0, 15).toString()).toBe("SQLite format 3");
  });

  it("rejects bad options with the field named", () => {
    expect(() => openStore({ path: "" })).toThrow(/path/);
    expect(() => openStore({ path: ":memory:", busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
    expect(() => openStore({ path: ":memory:", maxBatchSize: 0 })).toThrow(/maxBatchSize/);
    expect(() => openStore({ path: ":memory:", checkOnOpen: "x" as "quick" })).toThrow(
      /checkOnOpen/,
    );
    expect(() => openStore({ path: ":memory:", commitThread: "x" as "main" })).toThrow(
      /commitThread: x is not worker or main/,
    );
    expect(() => openStore({ path: ":memory:", commitThread: "worker" })).toThrow(
      /commitThread: "worker" needs a file/,
    );
  });

  it("commits on the commit thread for a file, on the calling thread in memory or read-only", () => {
    const path = join(tempDir(), "ipamd.db");
    const file = openStore({ path });
    expect(file.commitThread).toBe("worker");
    file.close();
    const ro = openStore({ path, readonly: true });
    expect(ro.commitThread).toBe("main");
    ro.close();
    const memory = openStore({ path: ":memory:" });
    expect(memory.commitThread).toBe("main");
    memory.close();
    const chosen = openStore({ path, commitThread: "main" });
    expect(chosen.commitThread).toBe("main");
    chosen.close();
  });

  it("keeps the database, WAL and shared-memory files owner-only (0600), also when they were 0644", async () => {
    const path = join(tempDir(), "ipamd.db");
    const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
    const first = openStore({ path });
    await first.saveAllocation(recordFor(1));
    for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(mode(file), file).toBe("600");
    first.close();
    chmodSync(path, 0o644);
    const again = openStore({ path });
    expect(mode(path)).toBe("600");
    again.close();
  });

  it("fails with IO_ERROR when the folder does not exist, and creates nothing", () => {
    const path = join(tempDir(), "missing", "ipamd.db");
    expect(() => openStore({ path })).toThrow(code("IO_ERROR"));
    expect(existsSync(path)).toBe(false);
  });
});
