import type { RaftLogStore, StoredRaftEntry } from "@ipam/store";
import { RaftError, type RaftErrorCode } from "../core/raft-error.js";
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  InitialState,
  Snapshot,
  Storage,
} from "../types.js";
import { MemoryStorage } from "./memory-storage.js";

/** Options of {@link createSqliteStorage}. */
export interface SqliteStorageOptions {
  /**
   * When the commit index is written to disk.
   * - `"lazy"` (default): term and vote are durable when `setHardState` returns; a change of the
   *   commit index alone is kept in memory and written with the next term/vote change or by
   *   `flush()`. Safe: the commit index is re-learned from the leader after a restart (Raft
   *   never needs it durable), and it halves the fsyncs of a follower.
   * - `"sync"`: every hard state is written before `setHardState` returns (etcd's behaviour).
   */
  readonly commitDurability?: "lazy" | "sync";
}

const TYPE_CODE: Readonly<Record<EntryType, number>> = { normal: 0, config: 1, noop: 2 };
const TYPE_NAME: readonly EntryType[] = ["normal", "config", "noop"];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeConf(conf: ConfState): Uint8Array {
  return encoder.encode(JSON.stringify(conf));
}

function decodeConf(bytes: Uint8Array): ConfState {
  try {
    const conf = JSON.parse(decoder.decode(bytes)) as ConfState;
    if (!Array.isArray(conf.voters) || !Array.isArray(conf.learners)) throw new TypeError("shape");
    return conf;
  } catch (cause) {
    throw new RaftError("CORRUPT", "stored snapshot: membership is malformed", { cause });
  }
}

function toEntry(e: StoredRaftEntry): Entry {
  const type = TYPE_NAME[e.type];
  if (type === undefined) {
    throw new RaftError("CORRUPT", `stored entry ${e.index}: unknown type ${e.type}`, {
      details: {
        index: e.index,
      },
    });
  }
  return { index: e.index, term: e.term, type, data: e.data };
}

/** Map a store failure to a RaftError that keeps it as `cause`. */
function wrap(what: string, err: unknown): RaftError {
  if (err instanceof RaftError) return err;
  const storeCode = (err as { code?: unknown } | null)?.code;
  const code: RaftErrorCode =
    storeCode === "INVALID_ARGUMENT"
      ? "INVALID_ARGUMENT"
      : storeCode === "CORRUPT"
        ? "CORRUPT"
        : "UNAVAILABLE";
  const message = err instanceof Error ? err.message : String(err);
  return new RaftError(code, `sqlite storage: ${what} failed: ${message}`, {
    details: { storeCode },
    cause: err,
  });
}

/**
 * {@link Storage} over @ipam/store's `RaftLogStore` (SQLite, WAL, `synchronous=FULL`). Every
 * write is one durable transaction and is fsynced when it returns, so the driver's
 * "persist before send" guarantee holds across SIGKILL and power loss.
 *
 * Reads never touch SQLite: the adapter keeps the log since the last snapshot, the hard state
 * and the latest snapshot in memory (write-through; loaded once by {@link createSqliteStorage}).
 * Memory use is therefore bounded by the snapshot interval. A failed write throws `RaftError`
 * (`UNAVAILABLE`, `INVALID_ARGUMENT` or `CORRUPT`, with the StoreError as `cause`) and leaves
 * both disk and memory unchanged.
 *
 * Differences from {@link MemoryStorage}: saving a snapshot also compacts the log up to the
 * snapshot's index (one transaction), so no trailing entries are kept behind a snapshot.
 */
export class SqliteStorage implements Storage {
  private durableHard: HardState;

  /** @internal Use {@link createSqliteStorage}. */
  constructor(
    private readonly log: RaftLogStore,
    private readonly cache: MemoryStorage,
    private readonly lazyCommit: boolean,
  ) {
    this.durableHard = cache.hardState();
  }

  initialState(): InitialState {
    return this.cache.initialState();
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.cache.entries(lo, hi, maxBytes);
  }

  term(index: number): number | undefined {
    return this.cache.term(index);
  }

  firstIndex(): number {
    return this.cache.firstIndex();
  }

  lastIndex(): number {
    return this.cache.lastIndex();
  }

  snapshot(): Snapshot | undefined {
    return this.cache.snapshot();
  }

  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    // Entries at or before the compaction point are covered by the snapshot (as in MemoryStorage).
    const skip = Math.max(0, this.cache.firstIndex() - first.index);
    if (skip >= entries.length) return;
    const list = skip === 0 ? entries : entries.slice(skip);
    const rows = list.map((e) => ({
      index: e.index,
      term: e.term,
      data: e.data,
      type: TYPE_CODE[e.type],
    }));
    try {
      this.log.append(rows);
    } catch (err) {
      throw wrap("append", err);
    }
    this.cache.append(list);
  }

  setHardState(state: HardState): void {
    const d = this.durableHard;
    if (!this.lazyCommit || state.term !== d.term || state.vote !== d.vote) {
      try {
        this.log.saveHardState(state);
      } catch (err) {
        throw wrap("saveHardState", err);
      }
      this.durableHard = state;
    }
    this.cache.setHardState(state);
  }

  /** Write a commit index held back by `commitDurability: "lazy"` (call before closing the store). */
  flush(): void {
    const hs = this.cache.hardState();
    if (hs.commit === this.durableHard.commit) return;
    try {
      this.log.saveHardState(hs);
    } catch (err) {
      throw wrap("saveHardState", err);
    }
    this.durableHard = hs;
  }

  applySnapshot(snapshot: Snapshot): void {
    const { index, term, conf } = snapshot.meta;
    const current = this.cache.snapshot();
    if (current !== undefined && index <= current.meta.index) return;
    try {
      // A snapshot from the leader that contradicts our log replaces it (§7): drop the suffix
      // first, so a crash in between leaves a shorter log, never a log that contradicts it.
      if (this.cache.term(index) !== term && index < this.cache.lastIndex()) {
        this.log.truncateSuffix(index + 1);
      }
      this.log.saveSnapshot({ index, term, config: encodeConf(conf) }, snapshot.data);
    } catch (err) {
      throw wrap("saveSnapshot", err);
    }
    this.cache.applySnapshot(snapshot);
    if (this.cache.firstIndex() <= index) this.cache.compact(index);
  }

  compact(index: number): void {
    const snapIndex = this.cache.snapshot()?.meta.index ?? 0;
    if (index > snapIndex) {
      throw new RaftError(
        "INVALID_ARGUMENT",
        `index: compact(${index}) is beyond the snapshot at ${snapIndex}`,
        { details: { field: "index", snapshotIndex: snapIndex } },
      );
    }
    if (index < this.cache.firstIndex()) return;
    try {
      this.log.compactPrefix(index);
    } catch (err) {
      throw wrap("compactPrefix", err);
    }
    this.cache.compact(index);
  }
}

/**
 * Open Raft storage on a `RaftLogStore` (`store.raftLog(groupId)` of @ipam/store): loads the
 * hard state, the latest snapshot and the log after it into memory. The caller keeps owning the
 * store (close it after stopping the node, calling `flush()` first). Throws `RaftError`
 * `CORRUPT` when the stored state is inconsistent, `UNAVAILABLE` when it cannot be read.
 */
export function createSqliteStorage(
  log: RaftLogStore,
  options: SqliteStorageOptions = {},
): SqliteStorage {
  const mode = options.commitDurability ?? "lazy";
  if (mode !== "lazy" && mode !== "sync") {
    throw new RaftError(
      "INVALID_ARGUMENT",
      `options.commitDurability: expected "lazy" or "sync", got ${String(mode)}`,
      { details: { field: "options.commitDurability" } },
    );
  }
  let cache: MemoryStorage;
  try {
    const hardState = log.loadHardState() ?? { term: 0, vote: null, commit: 0 };
    const stored = log.loadSnapshot();
    const snapshot: Snapshot | undefined =
      stored === undefined
        ? undefined
        : {
            meta: {
              index: stored.meta.index,
              term: stored.meta.term,
              conf: decodeConf(stored.meta.config),
            },
            data: stored.data,
          };
    const firstIndex = log.firstIndex();
    const lastIndex = log.lastIndex();
    const rows = lastIndex >= firstIndex ? log.entries(firstIndex, lastIndex + 1) : [];
    cache = MemoryStorage.fromImage({
      hardState,
      snapshot,
      firstIndex,
      compactedTerm: log.term(firstIndex - 1) ?? 0,
      entries: rows.map(toEntry),
    });
  } catch (err) {
    throw wrap("load", err);
  }
  return new SqliteStorage(log, cache, mode === "lazy");
}
