import { formatIp, type IpBlock } from "@ipam/bitmap";
import { fail } from "./command-args.js";
import { OffsetRows } from "./offset-rows.js";
import type { UndoJournal } from "./undo-journal.js";

/** What an address of a direct pool is doing. */
export type DirectAddressState = "free" | "allocated" | "cooling" | "reserved";

/**
 * The addresses of one direct-mode subnet: an {@link IpBlock} bitmap of the whole subnet
 * (next-fit from its cursor), the row (in DirectRecords) of the allocation at each offset, and a cool-down FIFO of released
 * offsets with the time (ms) from which each may be reused. A cooling address stays set in
 * the bitmap until {@link expire} frees it. Every mutation is recorded in the journal.
 */
export class DirectPool {
  /** The subnet id. */
  readonly subnet: string;
  readonly #journal: UndoJournal;
  #block: IpBlock;
  /** offset → the row of its allocation. */
  readonly #owners = new OffsetRows();
  /** The cool-down FIFO as parallel arrays; entries before #coolHead are done. */
  #coolOffsets: number[] = [];
  #coolUntil: number[] = [];
  #coolHead = 0;

  constructor(journal: UndoJournal, subnet: string, block: IpBlock) {
    this.#journal = journal;
    this.subnet = subnet;
    this.#block = block;
  }

  /** The bitmap, for its counts (read only: mutate through the pool). */
  get block(): IpBlock {
    return this.#block;
  }

  /** Where the next-fit search for a free address starts. */
  get cursor(): number {
    return this.#block.cursor;
  }

  /** Number of allocated addresses. */
  get allocated(): number {
    return this.#owners.size;
  }

  /** Number of released addresses still cooling down. */
  get cooling(): number {
    return this.#coolOffsets.length - this.#coolHead;
  }

  /** What the address at `offset` is doing. */
  stateOf(offset: number): DirectAddressState {
    const state = this.#block.stateOfOffset(offset);
    if (state !== "allocated") return state;
    return this.#owners.has(offset) ? "allocated" : "cooling";
  }

  /** The row of the allocation holding `offset`, or -1. */
  holder(offset: number): number {
    return this.#owners.get(offset);
  }

  /**
   * When the released address at `offset` may be handed out again (ms), or undefined when it
   * is not cooling down. Linear in the queue: for error messages, not the hot path.
   */
  coolingUntil(offset: number): number | undefined {
    let until: number | undefined;
    for (let i = this.#coolHead; i < this.#coolOffsets.length; i++)
      if (this.#coolOffsets[i] === offset) until = this.#coolUntil[i];
    return until;
  }

  /**
   * Free addresses if {@link expire} ran at `at` (a read: nothing changes): the free ones plus
   * the cooling ones whose time has come, in queue order as `expire` frees them.
   */
  freeAt(at: number): number {
    let free = this.#block.free();
    for (let i = this.#coolHead; i < this.#coolUntil.length; i++) {
      if ((this.#coolUntil[i] as number) > at) break;
      const offset = this.#coolOffsets[i] as number;
      if (this.#block.isAllocatedOffset(offset) && !this.#owners.has(offset)) free++;
    }
    return free;
  }

  /** The rows of the allocations, in ascending offset order (a fresh array). */
  rows(): number[] {
    const out: number[] = [];
    this.#owners.forEach((_, row) => {
      out.push(row);
    });
    return out;
  }

  /** The cool-down queue in release order as `[offset, until]` pairs (a fresh array). */
  coolingQueue(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.#coolHead; i < this.#coolOffsets.length; i++)
      out.push([this.#coolOffsets[i] as number, this.#coolUntil[i] as number]);
    return out;
  }

  /** Frees the cooled-down addresses whose time has come (until <= `at`). */
  expire(at: number): void {
    const head0 = this.#coolHead;
    let head = head0;
    while (head < this.#coolUntil.length && (this.#coolUntil[head] as number) <= at) {
      const offset = this.#coolOffsets[head] as number;
      if (this.#block.isAllocatedOffset(offset) && !this.#owners.has(offset)) {
        const block = this.#block;
        block.releaseOffset(offset);
        this.#journal.record(() => block.claimOffset(offset));
      }
      head++;
    }
    if (head === head0) return;
    const offsets = this.#coolOffsets;
    const until = this.#coolUntil;
    if (head === until.length) {
      this.#coolOffsets = [];
      this.#coolUntil = [];
      this.#coolHead = 0;
    } else {
      this.#coolHead = head;
    }
    this.#journal.record(() => {
      this.#coolOffsets = offsets;
      this.#coolUntil = until;
      this.#coolHead = head0;
    });
  }

  /**
   * Takes the free address at `offset` (the caller checked {@link stateOf}).
   * @throws BitmapError when it is not free.
   */
  claim(offset: number): void {
    const block = this.#block;
    block.claimOffset(offset);
    if (this.#journal.recording) this.#journal.record(() => block.releaseOffset(offset));
  }

  /** Takes the next free address after the cursor; returns its offset, or -1 when full. */
  claimNext(): number {
    const block = this.#block;
    const cursor = block.cursor;
    const offset = block.allocateOffset();
    if (offset >= 0) {
      this.#journal.record(() => {
        block.releaseOffset(offset);
        block.cursor = cursor;
      });
    }
    return offset;
  }

  /** Records `row` as the holder of the (claimed) `offset`. */
  hold(offset: number, row: number): void {
    const owners = this.#owners;
    const old = owners.get(offset);
    owners.set(offset, row);
    if (this.#journal.recording)
      this.#journal.record(() => (old < 0 ? owners.delete(offset) : owners.set(offset, old)));
  }

  /**
   * Drops the holder of `offset`; the address cools down until `coolUntil` (ms), or is free
   * at once when `coolUntil` is undefined.
   */
  release(offset: number, coolUntil: number | undefined): void {
    const owners = this.#owners;
    const old = owners.get(offset);
    if (old >= 0) {
      owners.delete(offset);
      this.#journal.record(() => owners.set(offset, old));
    }
    if (coolUntil !== undefined) {
      const offsets = this.#coolOffsets;
      const until = this.#coolUntil;
      offsets.push(offset);
      until.push(coolUntil);
      this.#journal.record(() => {
        offsets.pop();
        until.pop();
      });
    } else {
      const block = this.#block;
      block.releaseOffset(offset);
      this.#journal.record(() => block.claimOffset(offset));
    }
  }

  /**
   * Replaces the bitmap with `block` (same subnet, new reservations or gateway), keeping every
   * allocation, cooling address and the cursor.
   * @throws PoolError `CONFLICT` when an allocated address would become reserved.
   */
  rebuild(block: IpBlock): void {
    const held: number[] = [];
    this.#owners.forEach((offset) => {
      held.push(offset);
    });
    for (const offset of held) {
      if (block.stateOfOffset(offset) === "reserved") {
        const address = formatIp(block.addressAt(offset));
        fail("CONFLICT", `${address} in ${this.subnet} is allocated and cannot be reserved`, {
          subnet: this.subnet,
          address,
        });
      }
      block.claimOffset(offset);
    }
    for (let i = this.#coolHead; i < this.#coolOffsets.length; i++) {
      const offset = this.#coolOffsets[i] as number;
      if (block.stateOfOffset(offset) === "free") block.claimOffset(offset);
    }
    block.cursor = Math.min(this.#block.cursor, block.size);
    const old = this.#block;
    this.#block = block;
    this.#journal.record(() => {
      this.#block = old;
    });
  }

  /** Sets the next-fit cursor while a snapshot is restored. */
  restoreCursor(cursor: number): void {
    this.#block.cursor = cursor;
  }

  /** Appends a cooling address while a snapshot is restored (before any allocation). */
  restoreCooling(offset: number, until: number): void {
    if (this.#block.stateOfOffset(offset) === "free") this.#block.claimOffset(offset);
    this.#coolOffsets.push(offset);
    this.#coolUntil.push(until);
  }
}
