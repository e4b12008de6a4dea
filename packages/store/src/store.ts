import { chmodSync, closeSync, openSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { AddressHistory } from "./address-history.js";
import {
  type AllocationKey,
  type AllocationRecord,
  canonicalAddress,
  normaliseRecord,
  type SaveResult,
  validateKey,
} from "./allocation-record.js";
import { AllocationTable } from "./allocation-table.js";
import { ThreadRunner } from "./commit-thread.js";
import { type BatchRunner, type CommitInfo, GroupCommitter } from "./group-commit.js";
import { type LeasedBlock, normaliseBlock, normaliseCidr } from "./leased-block.js";
import { LocalRunner } from "./local-runner.js";
import { toStoreError } from "./map-sqlite-error.js";
import { migrate } from "./migrations.js";
import { RaftLogStore } from "./raft-log-store.js";
import { StoreError } from "./store-error.js";
import { WriteLock } from "./write-lock.js";
import type { CoolingAddress } from "./write-op.js";

/**
 * Where group commit batches run: `"worker"`, the process's commit thread (a worker thread
 * with its own connection to the file: the SQL, COMMIT and fsync leave the event loop), or
 * `"main"`, the calling thread's connection (the event loop blocks for each commit).
 */
export type CommitThread = "worker" | "main";

/** How much checking `openStore` does before it accepts a file. */
export type OpenCheck = "quick" | "full" | "none";

export interface StoreOptions {
  /** Database file (`ipamd.db` in the data folder), or `":memory:"` for tests. */
  readonly path: string;
  /**
   * Group commit window, milliseconds. 0 (default): writes issued in the same event-loop
   * turn share a transaction. > 0: wait this long after the first queued write.
   */
  readonly groupCommitWindowMs?: number;
  /** Most writes in one group commit transaction (default 1024). */
  readonly maxBatchSize?: number;
  /** How long a write waits for a lock held by another connection, ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /**
   * Permission bits of the database file and its `-wal`/`-shm` files (default 0o600: allocation
   * records and pod names are readable by the owner only). Existing files are set to it too.
   */
  readonly fileMode?: number;
  /** Open read-only: reads work, every write fails with `READ_ONLY`. The file must exist. */
  readonly readonly?: boolean;
  /**
   * Integrity check run at open (default `"quick"`: `PRAGMA quick_check`). A damaged file
   * is refused with `CORRUPT`, never repaired or recreated.
   */
  readonly checkOnOpen?: OpenCheck;
  /**
   * Upper bound on the file size, bytes (rounded down to whole pages). Writes that would grow
   * the file past it fail with `DISK_FULL`, exactly as on a full disk.
   */
  readonly maxSizeBytes?: number;
  /** Called after every group commit batch (for a store transaction latency histogram). */
  readonly onCommit?: (info: CommitInfo) => void;
  /**
   * Where group commit batches run (default `"worker"` for a file, `"main"` for `":memory:"`,
   * which another connection cannot share; `"worker"` with `":memory:"` is refused). A
   * read-only store writes nothing and starts no thread.
   */
  readonly commitThread?: CommitThread;
}

/** Result of `integrityCheck()`: ok, or the problems SQLite reported. */
export interface IntegrityReport {
  readonly ok: boolean;
  readonly problems: readonly string[];
}

/** A key inside one network, as CNI GC's `valid-attachments` lists them. */
export interface AttachmentKey {
  readonly containerId: string;
  readonly ifname: string;
}

function nonEmpty(field: string, value: unknown): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new StoreError("INVALID_ARGUMENT", `${field}: expected a non-empty string`, {
      details: { field },
    });
  }
}

function nonNegativeInt(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StoreError("INVALID_ARGUMENT", `${field}: ${value} is not a non-negative integer`, {
      details: {
        field,
      },
    });
  }
  return value;
}

/**
 * Creates the database file with `mode` when it is missing, and sets `mode` on it and on its
 * `-wal`/`-shm` files when they exist (a store written by an older version was 0644). SQLite
 * creates the WAL and shared-memory files with the database file's permissions, so they follow.
 */
function restrictFiles(path: string, mode: number): void {
  closeSync(openSync(path, "a", mode));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o777) !== mode) chmodSync(file, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

/**
 * Opens (creating if needed, unless read-only) an ipamd store: WAL journal,
 * `synchronous=FULL`, foreign keys on, busy timeout, integrity check, then every pending
 * schema migration in one transaction. The database file and its `-wal`/`-shm` files are
 * created (or set) with `fileMode`, 0600 unless given.
 * @throws StoreError `CORRUPT` (damaged or not a database), `NOT_A_STORE`, `SCHEMA_TOO_NEW`,
 *   `LOCKED`, `READ_ONLY` (read-only and a migration is needed), `IO_ERROR` (cannot open),
 *   `INVALID_ARGUMENT` (bad option). The file is never recreated or repaired.
 */
export function openStore(options: StoreOptions): Store {
  if (typeof options.path !== "string" || options.path.length === 0) {
    throw new StoreError("INVALID_ARGUMENT", "path: expected a non-empty string", {
      details: {
        field: "path",
      },
    });
  }
  const windowMs = nonNegativeInt("groupCommitWindowMs", options.groupCommitWindowMs, 0);
  const maxBatch = nonNegativeInt("maxBatchSize", options.maxBatchSize, 1024);
  if (maxBatch === 0) {
    throw new StoreError("INVALID_ARGUMENT", "maxBatchSize: must be at least 1", {
      details: {
        field: "maxBatchSize",
      },
    });
  }
  const busyTimeoutMs = nonNegativeInt("busyTimeoutMs", options.busyTimeoutMs, 5000);
  const maxSizeBytes =
    options.maxSizeBytes === undefined
      ? undefined
      : nonNegativeInt("maxSizeBytes", options.maxSizeBytes, 0);
  const check = options.checkOnOpen ?? "quick";
  if (check !== "quick" && check !== "full" && check !== "none") {
    throw new StoreError(
      "INVALID_ARGUMENT",
      `checkOnOpen: ${String(check)} is not quick, full or none`,
      {
        details: {
          field: "checkOnOpen",
        },
      },
    );
  }
  const readonly = options.readonly === true;
  const memory = options.path === ":memory:";
  const commitThread = options.commitThread ?? (memory ? "main" : "worker");
  if (commitThread !== "worker" && commitThread !== "main") {
    throw new StoreError(
      "INVALID_ARGUMENT",
      `commitThread: ${String(commitThread)} is not worker or main`,
      { details: { field: "commitThread" } },
    );
  }
  if (commitThread === "worker" && memory) {
    throw new StoreError(
      "INVALID_ARGUMENT",
      'commitThread: "worker" needs a file; an in-memory database cannot be opened by the commit thread (use "main")',
      { details: { field: "commitThread" } },
    );
  }
  const context = `open ${options.path}`;
  const fileMode = options.fileMode ?? 0o600;
  if (!Number.isInteger(fileMode) || fileMode < 0 || fileMode > 0o777) {
    throw new StoreError(
      "INVALID_ARGUMENT",
      `fileMode: ${String(fileMode)} is not a permission mode 0..0o777`,
      {
        details: {
          field: "fileMode",
        },
      },
    );
  }
  if (!memory && !readonly) {
    try {
      restrictFiles(options.path, fileMode);
    } catch (err) {
      throw new StoreError("IO_ERROR", `${context}: ${(err as Error).message}`, { cause: err });
    }
  }
  let db: Database.Database;
  try {
    db = new Database(options.path, {
      readonly,
      fileMustExist: readonly,
      timeout: busyTimeoutMs,
    });
  } catch (err) {
    throw toStoreError(err, context);
  }
  try {
    if (!readonly) db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    let maxPageCount: number | undefined;
    if (maxSizeBytes !== undefined) {
      const pageSize = db.pragma("page_size", { simple: true }) as number;
      maxPageCount = Math.max(1, Math.floor(maxSizeBytes / pageSize));
      db.pragma(`max_page_count = ${maxPageCount}`);
    }
    if (check !== "none") {
      const problems = runCheck(db, check === "quick" ? "quick_check" : "integrity_check");
      if (problems.length > 0) {
        throw new StoreError("CORRUPT", `${context}: integrity check failed: ${problems[0]}`, {
          details: {
            problems,
          },
        });
      }
    }
    const version = migrate(db, { readonly });
    // The commit thread opens the file once a batch needs it (a store that never saves an
    // allocation, such as a Raft server's, starts no thread).
    const thread =
      commitThread === "worker" && !readonly
        ? new ThreadRunner({
            path: options.path,
            busyTimeoutMs,
            maxBatch,
            ...(maxPageCount === undefined ? {} : { maxPageCount }),
          })
        : undefined;
    const lock = thread?.lock ?? WriteLock.create();
    return new Store(db, options.path, readonly, version, {
      runner: thread ?? new LocalRunner(db, lock, busyTimeoutMs),
      lock,
      lockTimeoutMs: busyTimeoutMs,
      windowMs,
      maxBatch,
      ...(options.onCommit === undefined ? {} : { onCommit: options.onCommit }),
    });
  } catch (err) {
    db.close();
    throw toStoreError(err, context);
  }
}

function runCheck(db: Database.Database, pragma: "quick_check" | "integrity_check"): string[] {
  const rows = db.pragma(pragma) as Record<string, string>[];
  const problems = rows.map((r) => Object.values(r)[0] ?? "").filter((m) => m !== "ok");
  if (pragma === "integrity_check") {
    for (const fk of db.pragma("foreign_key_check") as { table: string; rowid: number }[]) {
      problems.push(`foreign key violation in ${fk.table} row ${fk.rowid}`);
    }
  }
  return problems;
}

/**
 * The ipamd store: node allocation records (group-committed), this node's leased blocks,
 * a small key/value meta table and Raft storage, in one SQLite file.
 *
 * - Reads are synchronous, on this thread's connection, and see every acknowledged write.
 * - Allocation writes (`saveAllocation`, `deleteAllocation`, `retainOnly`) are asynchronous
 *   and resolve only once durable (see `GroupCommitter`); with `commitThread: "worker"` their
 *   transaction and fsync run on the commit thread and the event loop keeps running.
 * - The other writes (blocks, meta, cooling prune, Raft) are synchronous transactions on this
 *   thread, durable when they return; one that meets a commit thread's transaction in progress
 *   waits for its COMMIT (the store's `WriteLock`).
 *
 * One `Store` per file per process; it is not safe to open the same file twice for writing.
 */
export class Store {
  readonly path: string;
  readonly readonly: boolean;
  /** Schema version of the open file (always the newest this build knows). */
  readonly schemaVersion: number;
  /** Where group commit batches run (`"main"` for `:memory:` and read-only stores). */
  readonly commitThread: CommitThread;
  readonly #db: Database.Database;
  readonly #allocations: AllocationTable;
  readonly #runner: BatchRunner;
  readonly #gc: GroupCommitter;
  readonly #lock: WriteLock;
  readonly #lockTimeoutMs: number;
  readonly #raft = new Map<string, RaftLogStore>();
  #history: AddressHistory | undefined;
  readonly #s: ReturnType<typeof prepare>;
  #closed = false;

  /** @internal Use `openStore`. */
  constructor(
    db: Database.Database,
    path: string,
    readonly: boolean,
    schemaVersion: number,
    commit: {
      runner: BatchRunner;
      lock: WriteLock;
      lockTimeoutMs: number;
      windowMs: number;
      maxBatch: number;
      onCommit?: (info: CommitInfo) => void;
    },
  ) {
    this.#db = db;
    this.path = path;
    this.readonly = readonly;
    this.schemaVersion = schemaVersion;
    this.commitThread = commit.runner instanceof LocalRunner ? "main" : "worker";
    this.#allocations = new AllocationTable(db);
    this.#runner = commit.runner;
    this.#gc = new GroupCommitter(commit.runner, commit);
    this.#lock = commit.lock;
    this.#lockTimeoutMs = commit.lockTimeoutMs;
    this.#s = prepare(db);
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  readonly #assertOpen = (): void => {
    if (this.#closed) throw new StoreError("CLOSED", `the store ${this.path} is closed`);
  };

  #read<T>(what: string, fn: () => T): T {
    this.#assertOpen();
    try {
      return fn();
    } catch (err) {
      throw toStoreError(err, what);
    }
  }

  #write<T>(what: string, fn: () => T): T {
    this.#assertOpen();
    try {
      return this.#transaction(what, fn);
    } catch (err) {
      throw toStoreError(err, what);
    }
  }

  /** One immediate transaction on this thread's connection, holding the store's write lock. */
  readonly #transaction = <T>(what: string, fn: () => T): T =>
    this.#lock.hold(this.#lockTimeoutMs, what, () => this.#db.transaction(fn).immediate());

  // ---- allocation records (L2) ----

  /**
   * Saves a new allocation record, durably (group commit). When a record with the same key
   * exists it is returned unchanged with `created: false`; a record is never overwritten.
   * Rejects with `CONFLICT` (naming the address and the key holding it) when one of the
   * addresses is held by another key on the same network — nothing of the record is written
   * — with `INVALID_ARGUMENT` for a bad record, or with the batch's error (`DISK_FULL`, ...).
   */
  async saveAllocation(record: AllocationRecord): Promise<SaveResult> {
    this.#assertOpen();
    const normal = normaliseRecord(record);
    return this.#gc.submit<SaveResult>({ kind: "save", record: normal });
  }

  /** The record with `key`, or undefined. */
  getAllocation(key: AllocationKey): AllocationRecord | undefined {
    validateKey(key);
    return this.#read("getAllocation", () => this.#allocations.get(key));
  }

  /** The record holding `address` (any textual form) on `network`, or undefined. */
  getByAddress(network: string, address: string): AllocationRecord | undefined {
    if (typeof network !== "string" || network.length === 0) {
      throw new StoreError("INVALID_ARGUMENT", "network: expected a non-empty string", {
        details: {
          field: "network",
        },
      });
    }
    const canon = typeof address === "string" ? canonicalAddress(address) : undefined;
    if (canon === undefined) {
      throw new StoreError("INVALID_ARGUMENT", `address: ${String(address)} is not an IP address`, {
        details: {
          field: "address",
        },
      });
    }
    return this.#read("getByAddress", () => this.#allocations.getByAddress(network, canon));
  }

  /** Records made by `node`, ordered by (network, containerId, ifname). Caller owns the array. */
  listByNode(node: string): AllocationRecord[] {
    nonEmpty("node", node);
    return this.#read("listByNode", () => this.#allocations.listByNode(node));
  }

  /** Records on `network`, ordered by (containerId, ifname). Caller owns the array. */
  listByNetwork(network: string): AllocationRecord[] {
    nonEmpty("network", network);
    return this.#read("listByNetwork", () => this.#allocations.listByNetwork(network));
  }

  /** Every record, ordered by (network, containerId, ifname): the input of a restart rebuild. */
  listAll(): AllocationRecord[] {
    return this.#read("listAll", () => this.#allocations.listAll());
  }

  /** Number of allocation records. */
  countAllocations(): number {
    return this.#read("countAllocations", () => this.#allocations.count());
  }

  /**
   * Deletes the record with `key`, durably (group commit). Idempotent: resolves with the
   * deleted record, or undefined when there was none. `cooling` (the released addresses and
   * when each may be handed out again) is written in the same transaction when a record was
   * deleted, so that a node restarting right after a release keeps the cool-down.
   */
  async deleteAllocation(
    key: AllocationKey,
    cooling: readonly CoolingAddress[] = [],
  ): Promise<AllocationRecord | undefined> {
    this.#assertOpen();
    validateKey(key);
    const k = { network: key.network, containerId: key.containerId, ifname: key.ifname };
    const entries = normaliseCooling(cooling);
    return this.#gc.submit<AllocationRecord | undefined>({
      kind: "delete",
      key: k,
      cooling: entries,
    });
  }

  /** Addresses still cooling down at `now` (ms), oldest release first. Caller owns the array. */
  listCooling(now: number): CoolingAddress[] {
    finiteTime("now", now);
    return this.#read("listCooling", () =>
      (this.#s.listCooling.all(now) as { address: string; until: number }[]).map((r) => ({
        address: r.address,
        until: r.until,
      })),
    );
  }

  /** Forgets cooling entries whose time is at or before `now`; returns how many. Durable. */
  pruneCooling(now: number): number {
    finiteTime("now", now);
    return this.#write("pruneCooling", () => this.#s.pruneCooling.run(now).changes);
  }

  /**
   * CNI GC: deletes, in one durable write, every record on `network` whose
   * (containerId, ifname) is not in `validKeys`; resolves with the removed records.
   */
  async retainOnly(
    network: string,
    validKeys: Iterable<AttachmentKey>,
  ): Promise<AllocationRecord[]> {
    this.#assertOpen();
    if (typeof network !== "string" || network.length === 0) {
      throw new StoreError("INVALID_ARGUMENT", "network: expected a non-empty string", {
        details: {
          field: "network",
        },
      });
    }
    const keep: string[] = [];
    let i = 0;
    for (const k of validKeys) {
      validateKey({ network, containerId: k?.containerId, ifname: k?.ifname }, `validKeys[${i}]`);
      keep.push(`${k.containerId}\u0000${k.ifname}`);
      i++;
    }
    return this.#gc.submit<AllocationRecord[]>({ kind: "retain", network, keep });
  }

  // ---- leased blocks ----

  /** Records (or updates) a block leased to this node. Durable on return. */
  putLeasedBlock(block: LeasedBlock): void {
    const b = normaliseBlock(block);
    this.#write("putLeasedBlock", () => {
      this.#s.putBlock.run(b.cidr, b.subnet, b.leasedAt);
    });
  }

  /** Replaces the whole set of leased blocks atomically (reconciliation with the cluster). */
  replaceLeasedBlocks(blocks: readonly LeasedBlock[]): void {
    const list = blocks.map((b, i) => normaliseBlock(b, `blocks[${i}]`));
    this.#write("replaceLeasedBlocks", () => {
      this.#s.clearBlocks.run();
      for (const b of list) this.#s.putBlock.run(b.cidr, b.subnet, b.leasedAt);
    });
  }

  /** Forgets a leased block; returns whether it was there. Durable on return. */
  deleteLeasedBlock(cidr: string): boolean {
    const c = normaliseCidr("cidr", cidr);
    return this.#write("deleteLeasedBlock", () => this.#s.deleteBlock.run(c).changes > 0);
  }

  /** Every leased block, ordered by subnet then CIDR text. Caller owns the array. */
  listLeasedBlocks(): LeasedBlock[] {
    return this.#read("listLeasedBlocks", () =>
      (this.#s.listBlocks.all() as { cidr: string; subnet: string; leased_at: number }[]).map(
        (r) => ({ subnet: r.subnet, cidr: r.cidr, leasedAt: r.leased_at }),
      ),
    );
  }

  // ---- meta ----

  /** Value stored under `key`, or undefined. */
  getMeta(key: string): string | undefined {
    nonEmpty("key", key);
    return this.#read(
      "getMeta",
      () => (this.#s.getMeta.get(key) as { value: string } | undefined)?.value,
    );
  }

  /** Stores `value` under `key` (replacing any previous value). Durable on return. */
  setMeta(key: string, value: string): void {
    if (typeof key !== "string" || key.length === 0) {
      throw new StoreError("INVALID_ARGUMENT", "key: expected a non-empty string", {
        details: {
          field: "key",
        },
      });
    }
    if (typeof value !== "string") {
      throw new StoreError("INVALID_ARGUMENT", "value: expected a string", {
        details: { field: "value" },
      });
    }
    this.#write("setMeta", () => {
      this.#s.setMeta.run(key, value);
    });
  }

  /** Removes `key`; returns whether it was there. Durable on return. */
  deleteMeta(key: string): boolean {
    nonEmpty("key", key);
    return this.#write("deleteMeta", () => this.#s.deleteMeta.run(key).changes > 0);
  }

  // ---- address history ----

  /**
   * The address history of this store: the node's journal (written with every allocation and
   * release, in the same transaction) and the servers' archive. See {@link AddressHistory}.
   */
  addressHistory(): AddressHistory {
    this.#assertOpen();
    this.#history ??= new AddressHistory(
      this.#db,
      (what, fn) => this.#read(what, fn),
      (what, fn) => this.#write(what, fn),
    );
    return this.#history;
  }

  // ---- Raft ----

  /** Raft storage for `groupId` (one instance per group per store). */
  raftLog(groupId = "default"): RaftLogStore {
    this.#assertOpen();
    if (typeof groupId !== "string" || groupId.length === 0) {
      throw new StoreError("INVALID_ARGUMENT", "groupId: expected a non-empty string", {
        details: {
          field: "groupId",
        },
      });
    }
    let log = this.#raft.get(groupId);
    if (log === undefined) {
      log = new RaftLogStore(this.#db, groupId, this.#assertOpen, this.#transaction);
      this.#raft.set(groupId, log);
    }
    return log;
  }

  // ---- maintenance ----

  /**
   * Full `PRAGMA integrity_check` and `foreign_key_check`, then (when the file is sound) a
   * cross-check that records and their address rows agree. O(size of the database).
   */
  integrityCheck(): IntegrityReport {
    return this.#read("integrityCheck", () => {
      const problems = runCheck(this.#db, "integrity_check");
      if (problems.length === 0) problems.push(...this.#allocations.consistencyProblems());
      return { ok: problems.length === 0, problems };
    });
  }

  /**
   * Commits every queued write and waits for the batch in flight on the commit thread (their
   * promises settle), closes the commit thread's connection, then the file. Blocks meanwhile.
   * Idempotent. Later calls fail with `CLOSED`.
   */
  close(): void {
    if (this.#closed) return;
    try {
      this.#gc.flushAll();
      this.#runner.close();
    } finally {
      this.#closed = true;
      this.#db.close();
    }
  }
}

function prepare(db: Database.Database) {
  return {
    putBlock: db.prepare(
      `INSERT INTO leased_blocks (cidr, subnet, leased_at) VALUES (?, ?, ?)
       ON CONFLICT (cidr) DO UPDATE SET subnet = excluded.subnet, leased_at = excluded.leased_at`,
    ),
    clearBlocks: db.prepare("DELETE FROM leased_blocks"),
    deleteBlock: db.prepare("DELETE FROM leased_blocks WHERE cidr = ?"),
    listBlocks: db.prepare(
      "SELECT cidr, subnet, leased_at FROM leased_blocks ORDER BY subnet, cidr",
    ),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    deleteMeta: db.prepare("DELETE FROM meta WHERE key = ?"),
    listCooling: db.prepare(
      "SELECT address, until FROM cooling WHERE until > ? ORDER BY until, address",
    ),
    pruneCooling: db.prepare("DELETE FROM cooling WHERE until <= ?"),
  };
}

function finiteTime(field: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StoreError("INVALID_ARGUMENT", `${field}: expected ms since the epoch`, {
      details: { field },
    });
  }
}

/** Canonical addresses and checked times, before anything is queued. */
function normaliseCooling(cooling: readonly CoolingAddress[]): CoolingAddress[] {
  if (!Array.isArray(cooling)) {
    throw new StoreError("INVALID_ARGUMENT", "cooling: expected an array", {
      details: { field: "cooling" },
    });
  }
  return cooling.map((c, i) => {
    const address = typeof c?.address === "string" ? canonicalAddress(c.address) : undefined;
    if (address === undefined) {
      throw new StoreError(
        "INVALID_ARGUMENT",
        `cooling[${i}].address: ${String(c?.address)} is not an IP address`,
        { details: { field: `cooling[${i}].address` } },
      );
    }
    finiteTime(`cooling[${i}].until`, c.until);
    return { address, until: c.until };
  });
}
