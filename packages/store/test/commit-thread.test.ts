import { renameSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { CommitInfo } from "../src/index.js";
import { openStore } from "../src/index.js";
import { recordFor } from "./helpers/records.js";
import { useTempDir } from "./helpers/temp-dir.js";

const tempDir = useTempDir();
const code = (c: string) => expect.objectContaining({ name: "StoreError", code: c });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("group commit on the commit thread", () => {
  it("keeps the event loop running while a commit waits for the file, and acknowledges after it", async () => {
    const path = join(tempDir(), "ipamd.db");
    const store = openStore({ path, busyTimeoutMs: 60_000 });
    // Another connection holds the file's write lock: the commit must wait for it.
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    let settled = false;
    const save = store.saveAllocation(recordFor(1)).finally(() => {
      settled = true;
    });
    // The event loop turns while the commit waits: reads answer, the save is not acknowledged.
    for (let i = 0; i < 20; i++) {
      await nextTurn();
      expect(store.getAllocation(recordFor(1))).toBeUndefined();
      expect(store.countAllocations()).toBe(0);
    }
    expect(settled).toBe(false);
    // Released from this same event loop; on a blocked loop this line would run only after
    // the commit had given up with LOCKED.
    other.exec("ROLLBACK");
    await expect(save).resolves.toMatchObject({ created: true });
    expect(store.getAllocation(recordFor(1))).toEqual(recordFor(1));
    other.close();
    store.close();
  });

  it("takes turns with the main thread's synchronous writes: every write lands, none LOCKED", async () => {
    const path = join(tempDir(), "ipamd.db");
    const store = openStore({ path, busyTimeoutMs: 60_000 });
    const log = store.raftLog();
    const saves: Promise<unknown>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 25; i++) saves.push(store.saveAllocation(recordFor(round * 25 + i)));
      // A batch is on its way to (or in) the commit thread while these run here.
      await nextTurn();
      store.setMeta(`round-${round}`, String(round));
      log.append([{ index: round + 1, term: 1, data: new Uint8Array([round]) }]);
      store.putLeasedBlock({ subnet: "s", cidr: `10.200.${round}.0/26`, leasedAt: round });
      if (round % 2 === 1) saves.push(store.deleteAllocation(recordFor(round * 25)));
    }
    await Promise.all(saves);
    store.close();

    const again = openStore({ path, checkOnOpen: "full" });
    expect(again.countAllocations()).toBe(500 - 10);
    expect(again.getMeta("round-19")).toBe("19");
    expect(again.raftLog().lastIndex()).toBe(20);
    expect(again.listLeasedBlocks()).toHaveLength(20);
    expect(again.integrityCheck()).toEqual({ ok: true, problems: [] });
    again.close();
  });

  it("close() waits for the batch in flight on the commit thread, and it is durable", async () => {
    const path = join(tempDir(), "ipamd.db");
    const commits: CommitInfo[] = [];
    const store = openStore({ path, onCommit: (c) => commits.push(c) });
    const inFlight = Array.from({ length: 10 }, (_, i) => store.saveAllocation(recordFor(i)));
    await nextTurn(); // the batch has left for the commit thread
    const queued = store.saveAllocation(recordFor(10));
    store.close();
    await expect(Promise.all([...inFlight, queued])).resolves.toHaveLength(11);
    // One or two transactions (the commit thread merges batches waiting for it), all committed.
    expect(commits.reduce((n, c) => n + c.writes, 0)).toBe(11);
    expect(commits.every((c) => c.ok)).toBe(true);
    const again = openStore({ path });
    expect(again.countAllocations()).toBe(11);
    again.close();
  });

  it("refuses the writes with IO_ERROR, acknowledging none, when the commit thread cannot open the file", async () => {
    const dir = tempDir();
    const path = join(dir, "ipamd.db");
    const store = openStore({ path });
    // The main connection has the file open; a new open of the path (the commit thread's,
    // on the first batch) finds nothing there.
    renameSync(path, join(dir, "moved.db"));
    const save = store.saveAllocation(recordFor(1));
    await expect(save).rejects.toThrow(code("IO_ERROR"));
    await expect(save).rejects.toThrow(/on the commit thread/);
    await expect(store.deleteAllocation(recordFor(1))).rejects.toThrow(code("IO_ERROR"));
    expect(store.countAllocations()).toBe(0);
    store.close();
  });
  it("merges the batches that wait for it into one transaction, answering each caller", async () => {
    const path = join(tempDir(), "ipamd.db");
    const commits: CommitInfo[] = [];
    const store = openStore({ path, busyTimeoutMs: 60_000, onCommit: (c) => commits.push(c) });
    await store.saveAllocation(recordFor(0)); // the commit thread is up
    commits.length = 0;
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE"); // the next transaction waits for this lock
    const saves: Promise<unknown>[] = [];
    for (let turn = 0; turn < 5; turn++) {
      saves.push(store.saveAllocation(recordFor(turn + 1)));
      // Each turn's save leaves as its own batch while the first one waits for the lock.
      await nextTurn();
    }
    const clash = store.saveAllocation(recordFor(6, { addresses: ["10.0.0.1"] }));
    await nextTurn();
    other.exec("ROLLBACK");
    await expect(Promise.all(saves)).resolves.toHaveLength(5);
    await expect(clash).rejects.toThrow(code("CONFLICT"));
    // Batches waiting while a transaction ran were merged into the next one.
    expect(commits.reduce((n, c) => n + c.writes, 0)).toBe(6);
    expect(commits.length).toBeLessThan(6);
    expect(store.countAllocations()).toBe(6);
    other.close();
    store.close();
  });
});
