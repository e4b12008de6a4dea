import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { MIGRATIONS, openStore, SCHEMA_VERSION } from "../src/index.js";
import { migrate } from "../src/migrations.js";
import { useTempDir } from "./helpers/temp-dir.js";

const tempDir = useTempDir();

function schemaOf(path: string): string[] {
  const db = new Database(path, { readonly: true });
  const rows = db
    .prepare(
      "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all() as { type: string; name: string; sql: string }[];
  db.close();
  return rows.map((r) => `${r.type} ${r.name}: ${r.sql.replace(/\s+/g, " ")}`);
}

function versions(path: string): number[] {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as {
    version: number;
  }[];
  db.close();
  return rows.map((r) => r.version);
}

describe("schema migrations", () => {
  it("keeps versions consecutive from 1", () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
  });

  it("initialises an existing empty file to the newest version", () => {
    const path = join(tempDir(), "empty.db");
    writeFileSync(path, "");
    const store = openStore({ path });
    expect(store.schemaVersion).toBe(SCHEMA_VERSION);
    store.close();
    expect(versions(path)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  for (let from = 1; from < SCHEMA_VERSION; from++) {
    it(`upgrades a version ${from} file, keeping its data, to the same schema as a new file`, async () => {
      const dir = tempDir();
      const old = join(dir, `v${from}.db`);
      const db = new Database(old);
      db.pragma("journal_mode = WAL");
      expect(migrate(db, { target: from })).toBe(from);
      // Data written the way version `from` stores it (a trigger adds the address rows).
      db.prepare(
        `INSERT INTO allocations (network, container_id, ifname, addresses, node, purpose, created_at)
         VALUES ('default', 'c1', 'eth0', '["10.0.0.7"]', 'n1', 'default', 42)`,
      ).run();
      db.prepare(
        "INSERT INTO raft_log (group_id, idx, term, type, data) VALUES ('default', 1, 3, 0, x'0102')",
      ).run();
      db.close();

      const store = openStore({ path: old });
      expect(store.schemaVersion).toBe(SCHEMA_VERSION);
      expect(store.getByAddress("default", "10.0.0.7")).toMatchObject({
        containerId: "c1",
        createdAt: 42,
      });
      expect(store.raftLog().term(1)).toBe(3);
      store.setMeta("nodeId", "n1");
      expect(store.getMeta("nodeId")).toBe("n1");
      await expect(
        store.saveAllocation({
          network: "default",
          containerId: "c2",
          ifname: "eth0",
          addresses: ["10.0.0.7"],
          node: "n1",
          purpose: "default",
          createdAt: 1,
        }),
      ).rejects.toMatchObject({ code: "CONFLICT" });
      store.close();

      const fresh = join(dir, "fresh.db");
      openStore({ path: fresh }).close();
      expect(schemaOf(old)).toEqual(schemaOf(fresh));
      expect(versions(old)).toEqual(versions(fresh));
    });
  }

  it("applies pending steps all or nothing", () => {
    const path = join(tempDir(), "half.db");
    const db = new Database(path);
    migrate(db, { target: 1 });
    // A stray table makes step 2 fail half way.
    db.exec("CREATE TABLE meta (x)");
    db.close();
    expect(() => openStore({ path })).toThrow(
      new RegExp(`migration from schema 1 to ${SCHEMA_VERSION}`),
    );
    expect(versions(path)).toEqual([1]);
  });
});
