import {
  closeSync,
  copyFileSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openStore, StoreError, storeCodeForSqlite } from "../src/index.js";
import { recordFor } from "./helpers/records.js";
import { useTempDir } from "./helpers/temp-dir.js";

const code = (c: string) => expect.objectContaining({ name: "StoreError", code: c });
const tempDir = useTempDir();

describe("SQLite error mapping", () => {
  it("maps primary and extended result codes", () => {
    expect(storeCodeForSqlite("SQLITE_FULL")).toBe("DISK_FULL");
    expect(storeCodeForSqlite("SQLITE_READONLY")).toBe("READ_ONLY");
    expect(storeCodeForSqlite("SQLITE_READONLY_DBMOVED")).toBe("READ_ONLY");
    expect(storeCodeForSqlite("SQLITE_BUSY")).toBe("LOCKED");
    expect(storeCodeForSqlite("SQLITE_BUSY_SNAPSHOT")).toBe("LOCKED");
    expect(storeCodeForSqlite("SQLITE_LOCKED")).toBe("LOCKED");
    expect(storeCodeForSqlite("SQLITE_CORRUPT")).toBe("CORRUPT");
    expect(storeCodeForSqlite("SQLITE_CORRUPT_INDEX")).toBe("CORRUPT");
    expect(storeCodeForSqlite("SQLITE_NOTADB")).toBe("CORRUPT");
    expect(storeCodeForSqlite("SQLITE_IOERR_FSYNC")).toBe("IO_ERROR");
    expect(storeCodeForSqlite("SQLITE_CANTOPEN")).toBe("IO_ERROR");
    expect(storeCodeForSqlite("SQLITE_CONSTRAINT_UNIQUE")).toBe("CONFLICT");
    expect(storeCodeForSqlite("SQLITE_MISMATCH")).toBe("INTERNAL");
  });
});

describe("a full disk", () => {
  it("rejects the whole batch with DISK_FULL, keeps every acknowledged write, and recovers", async () => {
    const path = join(tempDir(), "full.db");
    const batches: { writes: number; ok: boolean }[] = [];
    const store = openStore({
      path,
      maxSizeBytes: 160 * 1024,
      onCommit: (c) => batches.push({ writes: c.writes, ok: c.ok }),
    });
    const acked: string[] = [];
    let failure: unknown;
    let failedBatch: number[] = [];
    for (let round = 0; round < 200 && failure === undefined; round++) {
      const ids = Array.from({ length: 20 }, (_, k) => round * 20 + k);
      const results = await Promise.allSettled(
        ids.map((i) => store.saveAllocation(recordFor(i, { podName: "p".repeat(400) }))),
      );
      for (const [k, r] of results.entries()) {
        if (r.status === "fulfilled") acked.push(`c${ids[k]}`);
        else failure = r.reason;
      }
      if (failure !== undefined) {
        failedBatch = ids;
        expect(results.every((r) => r.status === "rejected")).toBe(true);
      }
    }
    expect(failure).toBeInstanceOf(StoreError);
    expect(failure).toMatchObject({ code: "DISK_FULL", details: { sqliteCode: "SQLITE_FULL" } });
    for (const i of failedBatch) expect(store.getAllocation(recordFor(i))).toBeUndefined();
    expect(batches.at(-1)).toEqual({ writes: 20, ok: false });
    expect(batches.slice(0, -1).every((b) => b.ok)).toBe(true);
    expect(store.countAllocations()).toBe(acked.length);
    expect(store.integrityCheck().ok).toBe(true);
    // Synchronous writes fail the same way once there is no room.
    expect(() =>
      store.raftLog().append([{ index: 1, term: 1, data: new Uint8Array(400_000) }]),
    ).toThrow(code("DISK_FULL"));
    expect(store.raftLog().lastIndex()).toBe(0);
    store.close();

    const roomy = openStore({ path });
    expect(
      roomy
        .listAll()
        .map((r) => r.containerId)
        .sort(),
    ).toEqual([...acked].sort());
    await expect(roomy.saveAllocation(recordFor(failedBatch[0]!))).resolves.toMatchObject({
      created: true,
    });
    roomy.close();
  });
});

describe("a read-only store", () => {
  it("serves reads and refuses every write with READ_ONLY", async () => {
    const path = join(tempDir(), "ro.db");
    const rw = openStore({ path });
    await rw.saveAllocation(recordFor(1));
    rw.close();
    const ro = openStore({ path, readonly: true });
    expect(ro.readonly).toBe(true);
    expect(ro.countAllocations()).toBe(1);
    await expect(ro.saveAllocation(recordFor(2))).rejects.toThrow(code("READ_ONLY"));
    await expect(ro.deleteAllocation(recordFor(1))).rejects.toThrow(code("READ_ONLY"));
    expect(() => ro.setMeta("k", "v")).toThrow(code("READ_ONLY"));
    expect(() => ro.raftLog().append([{ index: 1, term: 1, data: new Uint8Array(1) }])).toThrow(
      code("READ_ONLY"),
    );
    expect(ro.countAllocations()).toBe(1);
    ro.close();
  });

  it("refuses to open a missing file read-only, and a file that needs migration", () => {
    const dir = tempDir();
    expect(() => openStore({ path: join(dir, "none.db"), readonly: true })).toThrow(
      code("IO_ERROR"),
    );
    const empty = join(dir, "empty.db");
    new Database(empty).close();
    expect(() => openStore({ path: empty, readonly: true })).toThrow(code("READ_ONLY"));
  });
});

describe("a locked store", () => {
  it("fails writes with LOCKED after the busy timeout while another connection holds the lock", async () => {
    const path = join(tempDir(), "locked.db");
    const store = openStore({ path, busyTimeoutMs: 30 });
    const other = new Database(path);
    other.exec("BEGIN EXCLUSIVE");
    other.exec("INSERT INTO meta (key, value) VALUES ('holder', 'other')");
    await expect(store.saveAllocation(recordFor(1))).rejects.toThrow(code("LOCKED"));
    expect(() => store.setMeta("k", "v")).toThrow(code("LOCKED"));
    expect(() => store.raftLog().saveHardState({ term: 1, vote: null, commit: 0 })).toThrow(
      code("LOCKED"),
    );
    other.exec("ROLLBACK");
    await expect(store.saveAllocation(recordFor(1))).resolves.toMatchObject({ created: true });
    other.close();
    store.close();
  });

  it("fails to open with LOCKED when a new file cannot be initialised", () => {
    const path = join(tempDir(), "new.db");
    const other = new Database(path);
    other.pragma("journal_mode = WAL");
    other.exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS x (a); ");
    expect(() => openStore({ path, busyTimeoutMs: 30 })).toThrow(code("LOCKED"));
    other.exec("ROLLBACK");
    other.close();
    openStore({ path }).close();
  });
});

describe("a corrupt or foreign file", () => {
  it("refuses a file of garbage with CORRUPT and leaves it untouched", () => {
    const path = join(tempDir(), "garbage.db");
    const garbage = Buffer.alloc(16384, 0x5a);
    writeFileSync(path, garbage);
    expect(() => openStore({ path })).toThrow(code("CORRUPT"));
    expect(readFileSync(path).equals(garbage)).toBe(true);
  });

  it("refuses a file with a damaged page with CORRUPT", async () => {
    const path = join(tempDir(), "damaged.db");
    const store = openStore({ path });
    for (let r = 0; r < 10; r++) {
      await Promise.all(
        Array.from({ length: 200 }, (_, k) => store.saveAllocation(recordFor(r * 200 + k))),
      );
    }
    store.close();
    const backup = `${path}.bak`;
    copyFileSync(path, backup);
    const size = statSync(path).size;
    const fd = openSync(path, "r+");
    const pageSize = 4096;
    for (let page = 4; page * pageSize < size - pageSize; page += 3) {
      writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, page * pageSize + 8);
    }
    closeSync(fd);
    expect(() => openStore({ path })).toThrow(code("CORRUPT"));
    // The damage is reported, not repaired: the file still fails a second open.
    expect(() => openStore({ path })).toThrow(code("CORRUPT"));
    const intact = openStore({ path: backup });
    expect(intact.countAllocations()).toBe(2000);
    intact.close();
  });

  it("refuses some other program's SQLite database with NOT_A_STORE", () => {
    const path = join(tempDir(), "foreign.db");
    const db = new Database(path);
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY)");
    db.close();
    expect(() => openStore({ path })).toThrow(code("NOT_A_STORE"));
  });

  it("refuses a file written by a newer schema with SCHEMA_TOO_NEW and does not touch it", () => {
    const path = join(tempDir(), "newer.db");
    openStore({ path }).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)").run();
    db.close();
    const before = readFileSync(path);
    expect(() => openStore({ path })).toThrow(code("SCHEMA_TOO_NEW"));
    expect(() => openStore({ path })).toThrow(/schema version 99/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});

describe("integrityCheck", () => {
  it("reports records and address rows that disagree", async () => {
    const path = join(tempDir(), "drift.db");
    const store = openStore({ path });
    await store.saveAllocation(recordFor(1, { addresses: ["10.0.0.1", "fd00::1"] }));
    await store.saveAllocation(recordFor(2));
    expect(store.integrityCheck().ok).toBe(true);
    const other = new Database(path);
    other.prepare("DELETE FROM allocation_addresses WHERE address = 'fd00::1'").run();
    other
      .prepare(`UPDATE allocations SET addresses = '["10.9.9.9"]' WHERE container_id = 'c2'`)
      .run();
    other.close();
    const report = store.integrityCheck();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      "address row default/10.0.0.2 belongs to no record listing it",
      "record default/c1/eth0 lists fd00::1 without holding its address row",
      "record default/c2/eth0 lists 10.9.9.9 without holding its address row",
    ]);
    store.close();
  });
});
