import type Database from "better-sqlite3";
import { toStoreError } from "./map-sqlite-error.js";
import { StoreError } from "./store-error.js";

/** `PRAGMA application_id` of an ipamd store ("IPMD"); tells our files from other SQLite files. */
export const APPLICATION_ID = 0x49504d44;

/** One schema step. `sql` runs inside the migration transaction; never edit a released step. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/**
 * Every schema version, in order. Version N is reached by applying steps 1..N. A released
 * step is never edited: a change is a new step. Tests build files at every earlier version
 * from this list (`migrateTo`) and check that opening them upgrades them.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "allocation records, leased blocks, Raft log, hard state and snapshots",
    sql: `
      CREATE TABLE allocations (
        network       TEXT    NOT NULL,
        container_id  TEXT    NOT NULL,
        ifname        TEXT    NOT NULL,
        addresses     TEXT    NOT NULL, -- JSON array of canonical addresses, caller's order
        subnets       TEXT,             -- JSON array index-aligned with addresses, or NULL
        node          TEXT    NOT NULL,
        purpose       TEXT    NOT NULL,
        subnet        TEXT,
        pod_namespace TEXT,
        pod_name      TEXT,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (network, container_id, ifname)
      ) WITHOUT ROWID;
      -- One row per held address: the primary key is the uniqueness guarantee.
      CREATE TABLE allocation_addresses (
        network      TEXT NOT NULL,
        address      TEXT NOT NULL,
        container_id TEXT NOT NULL,
        ifname       TEXT NOT NULL,
        PRIMARY KEY (network, address)
      ) WITHOUT ROWID;
      -- The address rows follow the record row inside the same statement, so a record whose
      -- address is taken fails as a whole (statement atomicity) and never half exists.
      CREATE TRIGGER allocation_addresses_insert AFTER INSERT ON allocations BEGIN
        INSERT INTO allocation_addresses (network, address, container_id, ifname)
          SELECT NEW.network, j.value, NEW.container_id, NEW.ifname
          FROM json_each(NEW.addresses) AS j;
      END;
      CREATE TRIGGER allocation_addresses_delete AFTER DELETE ON allocations BEGIN
        DELETE FROM allocation_addresses
          WHERE network = OLD.network
            AND address IN (SELECT j.value FROM json_each(OLD.addresses) AS j)
            AND container_id = OLD.container_id AND ifname = OLD.ifname;
      END;
      CREATE TABLE leased_blocks (
        cidr      TEXT    PRIMARY KEY,
        subnet    TEXT    NOT NULL,
        leased_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE raft_log (
        group_id TEXT    NOT NULL,
        idx      INTEGER NOT NULL,
        term     INTEGER NOT NULL,
        type     INTEGER NOT NULL,
        data     BLOB    NOT NULL,
        PRIMARY KEY (group_id, idx)
      ) WITHOUT ROWID;
      CREATE TABLE raft_log_start (
        group_id        TEXT    PRIMARY KEY,
        compacted_index INTEGER NOT NULL,
        compacted_term  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE raft_hard_state (
        group_id     TEXT    PRIMARY KEY,
        term         INTEGER NOT NULL,
        vote         TEXT,
        commit_index INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE raft_snapshot (
        group_id TEXT    PRIMARY KEY,
        idx      INTEGER NOT NULL,
        term     INTEGER NOT NULL,
        config   BLOB    NOT NULL,
        size     INTEGER NOT NULL,
        chunks   INTEGER NOT NULL,
        sha256   BLOB    NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE raft_snapshot_chunks (
        group_id TEXT    NOT NULL,
        seq      INTEGER NOT NULL,
        data     BLOB    NOT NULL,
        PRIMARY KEY (group_id, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: "key/value meta table (node id, cluster id)",
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: "released addresses cooling down, so that a restart keeps the cool-down",
    sql: `
      -- Keyed by address (at most one row per address the node has), no index on until:
      -- it is read and pruned only at start-up, and every Release writes a row.
      CREATE TABLE cooling (
        address TEXT    PRIMARY KEY, -- canonical text
        until   INTEGER NOT NULL     -- ms since the epoch
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    description:
      "address history: the node's journal of allocations and releases, the servers' archive",
    sql: `
      ALTER TABLE allocations ADD COLUMN pod_uid TEXT;
      -- The node's journal: one row per address allocated or released, written by the triggers
      -- below inside the statement that inserts or deletes the record, so it is durable with the
      -- record (same transaction, same fsync). seq is the rowid (max + 1): pruning never deletes
      -- the newest row, so a seq is never reused (servers store each (node, journal, seq) once);
      -- no AUTOINCREMENT, whose sqlite_sequence update would be one more page per commit.
      CREATE TABLE address_events (
        seq           INTEGER PRIMARY KEY,
        at            INTEGER NOT NULL, -- ms since the epoch
        event         TEXT    NOT NULL, -- 'allocate' | 'release'
        address       TEXT    NOT NULL, -- canonical text
        network       TEXT    NOT NULL,
        container_id  TEXT    NOT NULL,
        ifname        TEXT    NOT NULL,
        purpose       TEXT    NOT NULL,
        subnet        TEXT,
        node          TEXT    NOT NULL,
        pod_namespace TEXT,
        pod_name      TEXT,
        pod_uid       TEXT
      );
      -- An allocation's time is the record's created_at (the caller's clock); a release's is the
      -- time of the DELETE (SQLite's clock).
      CREATE TRIGGER address_events_allocate AFTER INSERT ON allocations BEGIN
        INSERT INTO address_events (at, event, address, network, container_id, ifname, purpose,
                                    subnet, node, pod_namespace, pod_name, pod_uid)
          SELECT NEW.created_at, 'allocate', j.value, NEW.network, NEW.container_id, NEW.ifname,
                 NEW.purpose, coalesce(json_extract(NEW.subnets, '$[' || j.key || ']'), NEW.subnet),
                 NEW.node, NEW.pod_namespace, NEW.pod_name, NEW.pod_uid
          FROM json_each(NEW.addresses) AS j ORDER BY j.key;
      END;
      CREATE TRIGGER address_events_release AFTER DELETE ON allocations BEGIN
        INSERT INTO address_events (at, event, address, network, container_id, ifname, purpose,
                                    subnet, node, pod_namespace, pod_name, pod_uid)
          SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER), 'release', j.value, OLD.network,
                 OLD.container_id, OLD.ifname, OLD.purpose,
                 coalesce(json_extract(OLD.subnets, '$[' || j.key || ']'), OLD.subnet),
                 OLD.node, OLD.pod_namespace, OLD.pod_name, OLD.pod_uid
          FROM json_each(OLD.addresses) AS j ORDER BY j.key;
      END;
      -- The journal's id: a node re-created under the same name starts a new sequence.
      INSERT INTO meta (key, value) VALUES ('history.journal-id', lower(hex(randomblob(16))))
        ON CONFLICT (key) DO NOTHING;
      -- A server's archive of every node's journal (shipped by the agents), for queries that
      -- must answer when the node that held an address is down or gone.
      CREATE TABLE address_history (
        node          TEXT    NOT NULL,
        journal       TEXT    NOT NULL,
        seq           INTEGER NOT NULL,
        at            INTEGER NOT NULL,
        event         TEXT    NOT NULL,
        address       TEXT    NOT NULL,
        network       TEXT    NOT NULL,
        container_id  TEXT    NOT NULL,
        ifname        TEXT    NOT NULL,
        purpose       TEXT    NOT NULL,
        subnet        TEXT,
        pod_namespace TEXT,
        pod_name      TEXT,
        pod_uid       TEXT,
        PRIMARY KEY (node, journal, seq)
      ) WITHOUT ROWID;
      CREATE INDEX address_history_address ON address_history (address, at);
      CREATE INDEX address_history_at ON address_history (at);
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

const MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL
  )`;

/**
 * Reads the schema version of an open database: 0 for an empty file.
 * @throws StoreError `NOT_A_STORE` when the file holds tables but is not an ipamd store.
 */
export function readSchemaVersion(db: Database.Database): number {
  const appId = db.pragma("application_id", { simple: true }) as number;
  const hasTable =
    db
      .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'")
      .get() !== undefined;
  if (!hasTable) {
    const anyTable = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' LIMIT 1")
      .get();
    if (anyTable !== undefined || (appId !== 0 && appId !== APPLICATION_ID)) {
      throw new StoreError("NOT_A_STORE", "the file is a SQLite database but not an ipamd store", {
        details: {
          applicationId: appId,
        },
      });
    }
    return 0;
  }
  if (appId !== APPLICATION_ID) {
    throw new StoreError("NOT_A_STORE", "the file is a SQLite database but not an ipamd store", {
      details: {
        applicationId: appId,
      },
    });
  }
  const row = db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as {
    v: number | null;
  };
  return row.v ?? 0;
}

/**
 * Brings the database to `target` (default: the newest version), applying every missing
 * step in ONE immediate transaction: on any failure nothing is applied.
 * Returns the version the file is at afterwards.
 * @throws StoreError `SCHEMA_TOO_NEW` when the file is newer than `target` (the file is not
 *   touched), `READ_ONLY` when a step is needed but the connection is read-only.
 */
export function migrate(
  db: Database.Database,
  options: { readonly readonly?: boolean; readonly target?: number } = {},
): number {
  const target = options.target ?? SCHEMA_VERSION;
  const current = readSchemaVersion(db);
  if (current > target) {
    throw new StoreError(
      "SCHEMA_TOO_NEW",
      `the store was written by schema version ${current}; this build knows up to ${target}`,
      { details: { fileVersion: current, supportedVersion: target } },
    );
  }
  if (current === target) return current;
  if (options.readonly === true) {
    throw new StoreError(
      "READ_ONLY",
      `the store is at schema version ${current} and needs migration to ${target}, but it was opened read-only`,
      { details: { fileVersion: current, supportedVersion: target } },
    );
  }
  const pending = MIGRATIONS.filter((m) => m.version > current && m.version <= target);
  const record = () => {
    db.exec(MIGRATIONS_TABLE);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    const insert = db.prepare(
      "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
    );
    for (const m of pending) {
      db.exec(m.sql);
      insert.run(m.version, m.description, Date.now());
    }
    db.pragma(`user_version = ${target}`);
  };
  try {
    db.transaction(record).immediate();
  } catch (err) {
    throw toStoreError(err, `migration from schema ${current} to ${target}`);
  }
  return target;
}
