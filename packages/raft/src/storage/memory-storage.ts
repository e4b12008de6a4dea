import { EMPTY_CONF } from "../core/conf-change.js";
import { RaftError } from "../core/raft-error.js";
import type { Entry, HardState, InitialState, Snapshot, Storage } from "../types.js";

const ZERO_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

/** A complete image of a {@link MemoryStorage}, e.g. loaded from disk by a durable adapter. */
export interface MemoryStorageImage {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
  /** First index held; the compaction point is `firstIndex - 1`. */
  readonly firstIndex: number;
  /** Term of the entry at `firstIndex - 1` (0 when nothing was compacted). */
  readonly compactedTerm: number;
  /** Entries from `firstIndex`, contiguous. */
  readonly entries: readonly Entry[];
}

/**
 * An in-memory {@link Storage}: every write is "durable" for the life of the object (nothing
 * survives the process). For tests, benchmarks, and single-process demos; also the read cache
 * behind `SqliteStorage`.
 *
 * Writes validate the contract and throw `RaftError` `INVALID_ARGUMENT` (naming the field) on a
 * gap, a non-contiguous batch or a compaction beyond the snapshot, leaving the state unchanged.
 * Entries are stored by reference (they are immutable); returned arrays are owned by the caller.
 */
export class MemoryStorage implements Storage {
  private hard: HardState = ZERO_HARD_STATE;
  private snap: Snapshot | undefined = undefined;
  /** Index of `ents[0]`; the entry before it is the compaction point. */
  private offset = 1;
  /** Term of the entry at `offset - 1` (0 for a never-compacted log). */
  private prevTerm = 0;
  private ents: Entry[] = [];

  /** A storage holding exactly `image` (entries are adopted, not copied). */
  static fromImage(image: MemoryStorageImage): MemoryStorage {
    const s = new MemoryStorage();
    s.hard = image.hardState;
    s.snap = image.snapshot;
    s.offset = image.firstIndex;
    s.prevTerm = image.compactedTerm;
    image.entries.forEach((e, i) => {
      if (e.index !== image.firstIndex + i) {
        throw new RaftError(
          "CORRUPT",
          `entries[${i}].index: ${e.index} where ${image.firstIndex + i} was expected`,
          { details: { field: `entries[${i}].index` } },
        );
      }
    });
    s.ents = [...image.entries];
    return s;
  }

  initialState(): InitialState {
    return { hardState: this.hard, confState: this.snap?.meta.conf ?? EMPTY_CONF };
  }

  hardState(): HardState {
    return this.hard;
  }

  firstIndex(): number {
    return this.offset;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  term(index: number): number | undefined {
    if (index === this.offset - 1) return this.prevTerm;
    return this.ents[index - this.offset]?.term;
  }

  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo < this.offset) {
      throw new RaftError("COMPACTED", `entries before ${this.offset} are compacted`, {
        details: {
          lo,
          firstIndex: this.offset,
        },
      });
    }
    if (hi > this.lastIndex() + 1) {
      throw new RaftError("UNAVAILABLE", `entries beyond ${this.lastIndex()} do not exist`, {
        details: {
          hi,
          lastIndex: this.lastIndex(),
        },
      });
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.offset]!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot | undefined {
    return this.snap;
  }

  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== first.index + i) {
        throw new RaftError(
          "INVALID_ARGUMENT",
          `entries[${i}].index: ${entries[i]!.index} does not follow ${first.index + i - 1}`,
          { details: { field: `entries[${i}].index` } },
        );
      }
    }
    if (first.index > this.lastIndex() + 1) {
      throw new RaftError(
        "INVALID_ARGUMENT",
        `entries[0].index: ${first.index} leaves a gap after ${this.lastIndex()}`,
        { details: { field: "entries[0].index", lastIndex: this.lastIndex() } },
      );
    }
    // Entries at or before the compaction point are covered by the snapshot: skip them.
    const skip = Math.max(0, this.offset - first.index);
    if (skip >= entries.length) return;
    const at = first.index + skip - this.offset;
    if (at < this.ents.length) this.ents.length = at;
    for (let i = skip; i < entries.length; i++) this.ents.push(entries[i]!);
  }

  setHardState(state: HardState): void {
    this.hard = state;
  }

  applySnapshot(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (this.snap !== undefined && index <= this.snap.meta.index) return;
    const keep = this.term(index) === snapshot.meta.term && index >= this.offset - 1;
    this.snap = snapshot;
    if (keep) return;
    this.ents = [];
    this.offset = index + 1;
    this.prevTerm = snapshot.meta.term;
  }

  compact(index: number): void {
    const snapIndex = this.snap?.meta.index ?? 0;
    if (index > snapIndex) {
      throw new RaftError(
        "INVALID_ARGUMENT",
        `index: compact(${index}) is beyond the snapshot at ${snapIndex}`,
        { details: { field: "index", snapshotIndex: snapIndex } },
      );
    }
    if (index < this.offset) return;
    this.prevTerm = this.term(index) ?? this.prevTerm;
    this.ents = this.ents.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }
}
