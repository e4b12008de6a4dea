import type { Entry, Snapshot } from "../types.js";

/**
 * Log entries (and at most one incoming snapshot) that the core holds but the driver has not yet
 * persisted. `entries[0]` has index `offset`; entries at ≥ `offset` supersede whatever Storage
 * holds at those indexes (Storage still has the old suffix until the driver appends these).
 */
export class UnstableLog {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** First index known from the pending snapshot, if any. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.meta.index;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.meta.index === index) {
        return this.snapshot.meta.term;
      }
      return undefined;
    }
    return this.entries[index - this.offset]?.term;
  }

  /** Entries up to `index` (with term `term`) are now durable: drop them. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined || t !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  /** The pending snapshot at `index` is now durable. */
  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === index) {
      this.snapshot = undefined;
    }
  }

  /** Replace everything with an incoming snapshot (the log after it is empty). */
  restore(snapshot: Snapshot): void {
    this.offset = snapshot.meta.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Append contiguous `entries`, discarding any held entries at ≥ `entries[0].index`. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      for (const e of entries) this.entries.push(e);
    } else if (after <= this.offset) {
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }

  /** Entries in `[lo, hi)`; the caller guarantees `offset ≤ lo ≤ hi ≤ offset + length`. */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
