import type { Entry, HardState, InitialState, Snapshot, Storage } from "../types.js";
import { MemoryLog } from "./memory-log.js";

type WriteOp =
  | { readonly kind: "append"; readonly entries: readonly Entry[] }
  | { readonly kind: "hard"; readonly state: HardState }
  | { readonly kind: "snapshot"; readonly snapshot: Snapshot }
  | { readonly kind: "compact"; readonly index: number };

function replay(log: MemoryLog, op: WriteOp): void {
  switch (op.kind) {
    case "append":
      log.append(op.entries);
      break;
    case "hard":
      log.setHardState(op.state);
      break;
    case "snapshot":
      log.applySnapshot(op.snapshot);
      break;
    default:
      log.compact(op.index);
  }
}

/**
 * A disk model for the simulator: writes land in the page cache (visible to reads at once) and
 * become durable only at `sync()`. `crash(k)` keeps the durable state plus the first `k` unsynced
 * writes (a torn, in-order write-back) and forgets the rest. `open()` returns the Storage a
 * restarted process sees.
 */
export class SimDisk implements Storage {
  private durable = new MemoryLog();
  private cache = new MemoryLog();
  private pending: WriteOp[] = [];

  /** The hard state that would survive a crash now. */
  durableHardState(): HardState {
    return this.durable.initialState().hardState;
  }

  get unsyncedWrites(): number {
    return this.pending.length;
  }

  private write(op: WriteOp): void {
    replay(this.cache, op);
    this.pending.push(op);
  }

  /** Make every write so far durable (fsync). */
  sync(): void {
    for (const op of this.pending) replay(this.durable, op);
    this.pending = [];
  }

  /** Power loss: keep the first `keep` unsynced writes, lose the others. */
  crash(keep: number): void {
    for (const op of this.pending.slice(0, Math.max(0, keep))) replay(this.durable, op);
    this.pending = [];
    this.cache = this.durable.clone();
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
    if (entries.length > 0) this.write({ kind: "append", entries: entries.slice() });
  }
  setHardState(state: HardState): void {
    this.write({ kind: "hard", state });
  }
  applySnapshot(snapshot: Snapshot): void {
    this.write({ kind: "snapshot", snapshot });
  }
  compact(index: number): void {
    this.write({ kind: "compact", index });
  }
}
