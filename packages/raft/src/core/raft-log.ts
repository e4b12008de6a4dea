import type { Entry, Snapshot, Storage } from "../types.js";
import { RaftError } from "./raft-error.js";
import { UnstableLog } from "./unstable-log.js";

/**
 * The log as the core sees it: durable entries in Storage plus the unstable tail, with the
 * commit and applied indexes. Invariant: applied ≤ committed ≤ lastIndex().
 */
export class RaftLog {
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;

  constructor(
    readonly storage: Storage,
    committed: number,
    applied: number,
  ) {
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    this.committed = committed;
    this.applied = applied;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Last index that is durable in Storage and not superseded by the unstable tail. */
  stableLastIndex(): number {
    if (this.unstable.snapshot !== undefined) return this.unstable.snapshot.meta.index;
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  /** Term at `index`, or undefined when it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    if (index >= this.unstable.offset || index < this.firstIndex() - 1) return undefined;
    return this.storage.term(index);
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(index: number, term: number): boolean {
    const t = this.term(index);
    return t !== undefined && t === term;
  }

  /**
   * §5.4.1: a candidate's log (lastIndex, lastTerm) is at least as up to date as ours when its
   * last term is greater, or equal with an index at least as large.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ours = this.lastTerm();
    return lastTerm > ours || (lastTerm === ours && lastIndex >= this.lastIndex());
  }

  /**
   * Index of the first entry of `entries` that is not already in the log with the same term
   * (a conflict or a new entry), or 0 when every entry is already present.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast-backtracking hint: the largest index ≤ `index` whose term is ≤ `term` (stops at the
   * first unknown term, e.g. the compaction point).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term || i === 0) return { index: i, term: t };
      i--;
    }
  }

  /**
   * AppendEntries receiver (Figure 2, steps 2–5). Returns undefined when the log does not match
   * at (prevIndex, prevTerm); otherwise the index of the last new entry and the first index that
   * was (re)written (0 when nothing was). Throws `CORRUPT` if a committed entry would be
   * overwritten (would violate Log Matching / Leader Completeness).
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): { lastNew: number; conflict: number } | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftError("CORRUPT", `entry ${conflict} conflicts with the committed log`, {
          details: {
            conflict,
            committed: this.committed,
          },
        });
      }
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return { lastNew, conflict };
  }

  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index - 1 < this.committed) {
      throw new RaftError("CORRUPT", `append at ${first.index} would overwrite committed entries`);
    }
    this.unstable.truncateAndAppend(entries);
  }

  /** Raise the commit index (never lowers it). */
  commitTo(index: number): void {
    if (index > this.committed) {
      if (index > this.lastIndex()) {
        throw new RaftError("CORRUPT", `commit ${index} is beyond the last index`);
      }
      this.committed = index;
    }
  }

  /**
   * Entries in `[lo, hi)` from Storage and the unstable tail; at most about `maxBytes` of data,
   * but at least one entry. Throws `COMPACTED` when `lo` is before the first index.
   */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) {
      throw new RaftError("COMPACTED", `entries before ${this.firstIndex()} are compacted`);
    }
    const out: Entry[] = [];
    const uOff = this.unstable.offset;
    if (lo < uOff) {
      const stored = this.storage.entries(lo, Math.min(hi, uOff), maxBytes);
      for (const e of stored) out.push(e);
      if (stored.length < Math.min(hi, uOff) - lo) return out;
    }
    if (hi > uOff) {
      let bytes = 0;
      for (const e of out) bytes += e.data.length;
      for (const e of this.unstable.slice(Math.max(lo, uOff), hi)) {
        if (out.length > 0 && bytes + e.data.length > maxBytes) break;
        bytes += e.data.length;
        out.push(e);
      }
    }
    return out;
  }

  /** Install an incoming snapshot: the log becomes empty after it and it is committed. */
  restore(snapshot: Snapshot): void {
    this.unstable.restore(snapshot);
    this.committed = snapshot.meta.index;
  }
}
