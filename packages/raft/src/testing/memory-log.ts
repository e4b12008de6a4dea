import { EMPTY_CONF } from "../core/conf-change.js";
import { RaftError } from "../core/raft-error.js";
import type { Entry, HardState, InitialState, Snapshot, Storage } from "../types.js";

/**
 * A plain in-memory {@link Storage} (every write is "durable" at once). Used by the simulator's
 * disk model and by unit tests. Entries are shared, never copied: they are immutable.
 */
export class MemoryLog implements Storage {
  private hard: HardState = { term: 0, vote: null, commit: 0 };
  private snap: Snapshot | undefined = undefined;
  /** Index of `ents[0]`. */
  private offset = 1;
  private ents: Entry[] = [];

  /** An independent copy (entries shared, containers copied). */
  clone(): MemoryLog {
    const c = new MemoryLog();
    c.hard = this.hard;
    c.snap = this.snap;
    c.offset = this.offset;
    c.ents = this.ents.slice();
    return c;
  }

  initialState(): InitialState {
    return { hardState: this.hard, confState: this.snap?.meta.conf ?? EMPTY_CONF };
  }

  firstIndex(): number {
    return this.offset;
  }

  lastIndex(): number {
    return Math.max(this.offset + this.ents.length - 1, this.snap?.meta.index ?? 0);
  }

  term(index: number): number | undefined {
    if (this.snap !== undefined && index === this.snap.meta.index) return this.snap.meta.term;
    if (index === 0 && this.offset === 1) return 0;
    return this.ents[index - this.offset]?.term;
  }

  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo < this.offset) {
      throw new RaftError("COMPACTED", `entries before ${this.offset} are compacted`, {
        details: { lo },
      });
    }
    if (hi > this.lastIndex() + 1) {
      throw new RaftError("UNAVAILABLE", `entries beyond ${this.lastIndex()} do not exist`, {
        details: { hi },
      });
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.offset];
      if (e === undefined) break;
      if (out.length > 0 && bytes + e.data.length > maxBytes) break;
      bytes += e.data.length;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot | undefined {
    return this.snap;
  }

  append(entries: readonly Entry[]): void {
    let list = entries;
    const first = list[0];
    if (first === undefined) return;
    if (first.index > this.lastIndex() + 1) {
      throw new RaftError("INVALID_ARGUMENT", `append at ${first.index} leaves a gap`, {
        details: {
          lastIndex: this.lastIndex(),
        },
      });
    }
    if (first.index < this.offset) list = list.slice(this.offset - first.index);
    const start = list[0];
    if (start === undefined) return;
    const at = start.index - this.offset;
    if (at < this.ents.length) this.ents.length = at; // drop the conflicting suffix
    for (const e of list) this.ents.push(e);
  }

  setHardState(state: HardState): void {
    this.hard = state;
  }

  applySnapshot(snapshot: Snapshot): void {
    if (this.snap !== undefined && snapshot.meta.index <= this.snap.meta.index) return;
    const held = this.ents[snapshot.meta.index - this.offset];
    this.snap = snapshot;
    if (held !== undefined && held.term === snapshot.meta.term) return;
    this.ents = [];
    this.offset = snapshot.meta.index + 1;
  }

  compact(index: number): void {
    const snapIndex = this.snap?.meta.index ?? 0;
    if (index > snapIndex) {
      throw new RaftError(
        "INVALID_ARGUMENT",
        `compact(${index}): beyond the snapshot at ${snapIndex}`,
      );
    }
    if (index < this.offset) return;
    this.ents = this.ents.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }
}
