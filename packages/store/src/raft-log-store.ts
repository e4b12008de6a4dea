import { createHash } from "node:crypto";
import type Database from "better-sqlite3";
import { toStoreError } from "./map-sqlite-error.js";
import { StoreError } from "./store-error.js";

/** A Raft log entry as stored: no Raft types, just numbers and bytes. */
export interface RaftLogEntry {
  /** Log index, an integer ≥ 1. */
  readonly index: number;
  /** Term, an integer ≥ 0. */
  readonly term: number;
  /** Opaque payload. */
  readonly data: Uint8Array;
  /** Entry kind as the Raft package numbers it (e.g. normal, config change); 0 when omitted. */
  readonly type?: number;
}

/** An entry read back: `type` is always present and `data` is a fresh buffer the caller owns. */
export interface StoredRaftEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
  readonly type: number;
}

/** The Raft hard state: current term, vote in that term (a node id or null) and commit index. */
export interface RaftHardState {
  readonly term: number;
  readonly vote: string | null;
  readonly commit: number;
}

/** Snapshot metadata: the last index and term it covers and the encoded membership. */
export interface RaftSnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly config: Uint8Array;
}

/** A snapshot read back. */
export interface RaftSnapshot {
  readonly meta: RaftSnapshotMeta;
  readonly data: Uint8Array;
}

/** Size of one stored snapshot chunk, bytes. Large states are split so no row is huge. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

interface StartRow {
  compacted_index: number;
  compacted_term: number;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkIndex(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new StoreError(
      "INVALID_ARGUMENT",
      `${name}: ${String(value)} is not an integer ≥ ${min}`,
      { details: { field: name } },
    );
  }
  return value;
}

function checkBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new StoreError("INVALID_ARGUMENT", `${name}: expected a Uint8Array`, {
      details: { field: name },
    });
  }
  return value;
}

/**
 * Durable storage for one Raft group's log, hard state and latest snapshot, on the store's
 * SQLite connection. Obtain it with `store.raftLog(groupId)`.
 *
 * Every mutating method runs ONE transaction and is durable (fsynced, `synchronous=FULL`)
 * when it returns; a method that throws has changed nothing. The methods are synchronous so
 * a Raft driver can persist a ready batch before it sends the messages that depend on it.
 *
 * Log shape: the entries kept are the contiguous range [firstIndex(), lastIndex()]. Entries
 * up to the compaction point (the last `compactPrefix` or snapshot index) are gone; the term
 * of the compaction point itself is remembered so `term(firstIndex() - 1)` still answers,
 * as Raft's log-matching check needs.
 */
export class RaftLogStore {
  readonly groupId: string;
  readonly #assertOpen: () => void;
  readonly #transaction: <T>(what: string, fn: () => T) => T;
  readonly #stmts: ReturnType<typeof prepare>;

  /**
   * @internal Use `Store.raftLog()`. `transaction(what, fn)` runs `fn` in one immediate,
   * durable transaction on `db` (the store's, which also takes the store's write lock).
   */
  constructor(
    db: Database.Database,
    groupId: string,
    assertOpen: () => void,
    transaction: <T>(what: string, fn: () => T) => T = (_what, fn) =>
      db.transaction(fn).immediate(),
  ) {
    this.groupId = groupId;
    this.#assertOpen = assertOpen;
    this.#transaction = transaction;
    this.#stmts = prepare(db);
  }

  #start(): StartRow {
    return (
      (this.#stmts.getStart.get(this.groupId) as StartRow | undefined) ?? {
        compacted_index: 0,
        compacted_term: 0,
      }
    );
  }

  #maxIndex(): number | null {
    return (this.#stmts.maxIndex.get(this.groupId) as { v: number | null }).v;
  }

  #run<T>(what: string, fn: () => T): T {
    this.#assertOpen();
    try {
      return this.#transaction(`raft log ${this.groupId}: ${what}`, fn);
    } catch (err) {
      throw toStoreError(err, `raft log ${this.groupId}: ${what}`);
    }
  }

  #read<T>(what: string, fn: () => T): T {
    this.#assertOpen();
    try {
      return fn();
    } catch (err) {
      throw toStoreError(err, `raft log ${this.groupId}: ${what}`);
    }
  }

  /** First index held in the log: compaction point + 1 (1 for a fresh log). */
  firstIndex(): number {
    return this.#read("firstIndex", () => this.#start().compacted_index + 1);
  }

  /** Last index: the newest entry, else the compaction point (0 for a fresh log). */
  lastIndex(): number {
    return this.#read("lastIndex", () => this.#maxIndex() ?? this.#start().compacted_index);
  }

  /**
   * Term of the entry at `index`; also answers for the compaction point (the snapshot's index)
   * and 0 for index 0. `undefined` when the index is compacted away or beyond the last entry.
   */
  term(index: number): number | undefined {
    checkIndex("index", index, 0);
    return this.#read("term", () => {
      if (index === 0) return 0;
      const start = this.#start();
      if (index === start.compacted_index) return start.compacted_term;
      if (index < start.compacted_index) return undefined;
      const row = this.#stmts.term.get(this.groupId, index) as { term: number } | undefined;
      return row?.term;
    });
  }

  /**
   * Appends `entries` (consecutive indexes, non-decreasing terms) in one durable transaction.
   * Every stored entry at an index ≥ `entries[0].index` is replaced (the conflicting suffix is
   * truncated first). An empty array is a no-op.
   * @throws StoreError `INVALID_ARGUMENT` when indexes are not consecutive, the first index is
   *   compacted or leaves a gap after `lastIndex()`, or a term goes backwards.
   */
  append(entries: ReadonlyArray<RaftLogEntry>): void {
    if (entries.length === 0) return;
    const first = entries[0]!;
    let prevTerm = -1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      checkIndex(`entries[${i}].index`, e.index, 1);
      checkIndex(`entries[${i}].term`, e.term, 0);
      checkBytes(`entries[${i}].data`, e.data);
      if (e.type !== undefined) checkIndex(`entries[${i}].type`, e.type, 0);
      if (e.index !== first.index + i) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `entries[${i}].index: ${e.index} does not follow ${first.index + i - 1}`,
          { details: { field: `entries[${i}].index` } },
        );
      }
      if (e.term < prevTerm) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `entries[${i}].term: ${e.term} is lower than the previous entry's term ${prevTerm}`,
          { details: { field: `entries[${i}].term` } },
        );
      }
      prevTerm = e.term;
    }
    this.#run("append", () => {
      const start = this.#start();
      const last = this.#maxIndex() ?? start.compacted_index;
      if (first.index <= start.compacted_index) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `entries[0].index: ${first.index} is at or before the compaction point ${start.compacted_index}`,
          { details: { field: "entries[0].index", compactedIndex: start.compacted_index } },
        );
      }
      if (first.index > last + 1) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `entries[0].index: ${first.index} leaves a gap after the last index ${last}`,
          { details: { field: "entries[0].index", lastIndex: last } },
        );
      }
      const before =
        first.index - 1 === start.compacted_index
          ? start.compacted_term
          : (this.#stmts.term.get(this.groupId, first.index - 1) as { term: number } | undefined)
              ?.term;
      if (before !== undefined && first.term < before) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `entries[0].term: ${first.term} is lower than the term ${before} of index ${first.index - 1}`,
          { details: { field: "entries[0].term" } },
        );
      }
      if (first.index <= last) this.#stmts.truncate.run(this.groupId, first.index);
      const insert = this.#stmts.insert;
      for (const e of entries) {
        insert.run(this.groupId, e.index, e.term, e.type ?? 0, asBuffer(e.data));
      }
    });
  }

  /**
   * Entries in [lo, hi), oldest first. With `maxBytes`, stops before the entry that would
   * take the total payload size over it, but always returns at least one entry.
   * @throws StoreError `COMPACTED` when lo < firstIndex(); `INVALID_ARGUMENT` when
   *   hi > lastIndex() + 1 or lo > hi.
   */
  entries(lo: number, hi: number, maxBytes?: number): StoredRaftEntry[] {
    checkIndex("lo", lo, 1);
    checkIndex("hi", hi, 1);
    if (maxBytes !== undefined) checkIndex("maxBytes", maxBytes, 0);
    if (lo > hi) {
      throw new StoreError("INVALID_ARGUMENT", `lo: ${lo} is greater than hi ${hi}`, {
        details: {
          field: "lo",
        },
      });
    }
    return this.#read("entries", () => {
      const start = this.#start();
      if (lo <= start.compacted_index) {
        throw new StoreError(
          "COMPACTED",
          `entries from ${lo} are compacted; the log starts at ${start.compacted_index + 1}`,
          { details: { firstIndex: start.compacted_index + 1 } },
        );
      }
      const last = this.#maxIndex() ?? start.compacted_index;
      if (hi > last + 1) {
        throw new StoreError("INVALID_ARGUMENT", `hi: ${hi} is beyond the last index ${last} + 1`, {
          details: {
            field: "hi",
            lastIndex: last,
          },
        });
      }
      const out: StoredRaftEntry[] = [];
      let bytes = 0;
      for (const row of this.#stmts.range.iterate(this.groupId, lo, hi) as Iterable<{
        idx: number;
        term: number;
        type: number;
        data: Buffer;
      }>) {
        bytes += row.data.byteLength;
        if (maxBytes !== undefined && out.length > 0 && bytes > maxBytes) break;
        out.push({ index: row.idx, term: row.term, data: row.data, type: row.type });
      }
      return out;
    });
  }

  /**
   * Deletes every entry with index ≥ `fromIndex` (durable on return). Indexes beyond the
   * last entry are a no-op.
   * @throws StoreError `INVALID_ARGUMENT` when `fromIndex` is at or before the compaction point.
   */
  truncateSuffix(fromIndex: number): void {
    checkIndex("fromIndex", fromIndex, 1);
    this.#run("truncateSuffix", () => {
      const start = this.#start();
      if (fromIndex <= start.compacted_index) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `fromIndex: ${fromIndex} is at or before the compaction point ${start.compacted_index}`,
          { details: { field: "fromIndex", compactedIndex: start.compacted_index } },
        );
      }
      this.#stmts.truncate.run(this.groupId, fromIndex);
    });
  }

  /**
   * Deletes every entry with index ≤ `upToIndex`, remembering that entry's term as the new
   * compaction point. An index at or before the current compaction point is a no-op.
   * @throws StoreError `INVALID_ARGUMENT` when `upToIndex` is beyond the last entry.
   */
  compactPrefix(upToIndex: number): void {
    checkIndex("upToIndex", upToIndex, 0);
    this.#run("compactPrefix", () => {
      const start = this.#start();
      if (upToIndex <= start.compacted_index) return;
      const row = this.#stmts.term.get(this.groupId, upToIndex) as { term: number } | undefined;
      if (row === undefined) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `upToIndex: ${upToIndex} is beyond the last index ${this.#maxIndex() ?? start.compacted_index}`,
          { details: { field: "upToIndex" } },
        );
      }
      this.#stmts.compact.run(this.groupId, upToIndex);
      this.#stmts.setStart.run(this.groupId, upToIndex, row.term);
    });
  }

  /** Replaces the hard state (durable on return). */
  saveHardState(state: RaftHardState): void {
    checkIndex("state.term", state.term, 0);
    checkIndex("state.commit", state.commit, 0);
    if (state.vote !== null && typeof state.vote !== "string") {
      throw new StoreError("INVALID_ARGUMENT", "state.vote: expected a string or null", {
        details: {
          field: "state.vote",
        },
      });
    }
    this.#run("saveHardState", () => {
      this.#stmts.setHardState.run(this.groupId, state.term, state.vote, state.commit);
    });
  }

  /** The last saved hard state, or `undefined` when none was ever saved. */
  loadHardState(): RaftHardState | undefined {
    return this.#read("loadHardState", () => {
      const row = this.#stmts.getHardState.get(this.groupId) as
        | { term: number; vote: string | null; commit_index: number }
        | undefined;
      return row === undefined
        ? undefined
        : { term: row.term, vote: row.vote, commit: row.commit_index };
    });
  }

  /**
   * Atomically replaces the stored snapshot with this one (data split into chunks of
   * `SNAPSHOT_CHUNK_BYTES`, with a SHA-256 checked on load) and, in the same transaction,
   * compacts the log up to `meta.index` (entries after it are kept; the Raft layer truncates
   * them if they conflict). Durable on return.
   * @throws StoreError `INVALID_ARGUMENT` when `meta.index` is older than the stored snapshot
   *   or before the compaction point (the entries in between would be lost).
   */
  saveSnapshot(meta: RaftSnapshotMeta, data: Uint8Array): void {
    checkIndex("meta.index", meta.index, 0);
    checkIndex("meta.term", meta.term, 0);
    checkBytes("meta.config", meta.config);
    checkBytes("data", data);
    const buf = asBuffer(data);
    const sha = createHash("sha256").update(buf).digest();
    this.#run("saveSnapshot", () => {
      const current = this.#stmts.getSnapshotMeta.get(this.groupId) as { idx: number } | undefined;
      if (current !== undefined && meta.index < current.idx) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `meta.index: ${meta.index} is older than the stored snapshot at ${current.idx}`,
          { details: { field: "meta.index", snapshotIndex: current.idx } },
        );
      }
      const start = this.#start();
      if (meta.index < start.compacted_index) {
        throw new StoreError(
          "INVALID_ARGUMENT",
          `meta.index: ${meta.index} is before the compaction point ${start.compacted_index}; entries in between would be lost`,
          { details: { field: "meta.index", compactedIndex: start.compacted_index } },
        );
      }
      this.#stmts.deleteChunks.run(this.groupId);
      let seq = 0;
      for (let off = 0; off < buf.byteLength || seq === 0; off += SNAPSHOT_CHUNK_BYTES) {
        this.#stmts.insertChunk.run(
          this.groupId,
          seq++,
          buf.subarray(off, Math.min(off + SNAPSHOT_CHUNK_BYTES, buf.byteLength)),
        );
      }
      this.#stmts.setSnapshotMeta.run(
        this.groupId,
        meta.index,
        meta.term,
        asBuffer(meta.config),
        buf.byteLength,
        seq,
        sha,
      );
      if (meta.index > start.compacted_index) {
        this.#stmts.compact.run(this.groupId, meta.index);
        this.#stmts.setStart.run(this.groupId, meta.index, meta.term);
      }
    });
  }

  /**
   * The stored snapshot, or `undefined` when none was saved. The returned buffers are fresh.
   * @throws StoreError `CORRUPT` when the chunks do not add up to the recorded size or hash.
   */
  loadSnapshot(): RaftSnapshot | undefined {
    return this.#read("loadSnapshot", () => {
      const row = this.#stmts.getSnapshotMeta.get(this.groupId) as
        | {
            idx: number;
            term: number;
            config: Buffer;
            size: number;
            chunks: number;
            sha256: Buffer;
          }
        | undefined;
      if (row === undefined) return undefined;
      const parts = (
        this.#stmts.getChunks.all(this.groupId) as { seq: number; data: Buffer }[]
      ).map((c) => c.data);
      const data = Buffer.concat(parts);
      const sha = createHash("sha256").update(data).digest();
      if (parts.length !== row.chunks || data.byteLength !== row.size || !sha.equals(row.sha256)) {
        throw new StoreError(
          "CORRUPT",
          `the snapshot at index ${row.idx} does not match its recorded size or SHA-256`,
          { details: { index: row.idx, expectedSize: row.size, actualSize: data.byteLength } },
        );
      }
      return { meta: { index: row.idx, term: row.term, config: row.config }, data };
    });
  }
}

function prepare(db: Database.Database) {
  return {
    getStart: db.prepare(
      "SELECT compacted_index, compacted_term FROM raft_log_start WHERE group_id = ?",
    ),
    setStart: db.prepare(
      `INSERT INTO raft_log_start (group_id, compacted_index, compacted_term) VALUES (?, ?, ?)
       ON CONFLICT (group_id) DO UPDATE SET compacted_index = excluded.compacted_index,
         compacted_term = excluded.compacted_term`,
    ),
    maxIndex: db.prepare("SELECT max(idx) AS v FROM raft_log WHERE group_id = ?"),
    term: db.prepare("SELECT term FROM raft_log WHERE group_id = ? AND idx = ?"),
    insert: db.prepare(
      "INSERT INTO raft_log (group_id, idx, term, type, data) VALUES (?, ?, ?, ?, ?)",
    ),
    truncate: db.prepare("DELETE FROM raft_log WHERE group_id = ? AND idx >= ?"),
    compact: db.prepare("DELETE FROM raft_log WHERE group_id = ? AND idx <= ?"),
    range: db.prepare(
      "SELECT idx, term, type, data FROM raft_log WHERE group_id = ? AND idx >= ? AND idx < ? ORDER BY idx",
    ),
    getHardState: db.prepare(
      "SELECT term, vote, commit_index FROM raft_hard_state WHERE group_id = ?",
    ),
    setHardState: db.prepare(
      `INSERT INTO raft_hard_state (group_id, term, vote, commit_index) VALUES (?, ?, ?, ?)
       ON CONFLICT (group_id) DO UPDATE SET term = excluded.term, vote = excluded.vote,
         commit_index = excluded.commit_index`,
    ),
    getSnapshotMeta: db.prepare(
      "SELECT idx, term, config, size, chunks, sha256 FROM raft_snapshot WHERE group_id = ?",
    ),
    setSnapshotMeta: db.prepare(
      `INSERT INTO raft_snapshot (group_id, idx, term, config, size, chunks, sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (group_id) DO UPDATE SET idx = excluded.idx, term = excluded.term,
         config = excluded.config, size = excluded.size, chunks = excluded.chunks,
         sha256 = excluded.sha256`,
    ),
    deleteChunks: db.prepare("DELETE FROM raft_snapshot_chunks WHERE group_id = ?"),
    insertChunk: db.prepare(
      "INSERT INTO raft_snapshot_chunks (group_id, seq, data) VALUES (?, ?, ?)",
    ),
    getChunks: db.prepare(
      "SELECT seq, data FROM raft_snapshot_chunks WHERE group_id = ? ORDER BY seq",
    ),
  };
}
