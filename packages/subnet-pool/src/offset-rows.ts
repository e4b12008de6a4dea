const PAGE_BITS = 10;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;

/**
 * A map from an address's offset in its subnet (0 <= offset < 2^24) to a non-negative row
 * number, for the allocations of one direct pool: pages of 1,024 offsets (an `Int32Array`
 * holding row + 1, 0 for none), allocated the first time one of their offsets is set and kept
 * afterwards. 4 bytes per offset of a touched page, no object or boxed number per entry.
 */
export class OffsetRows {
  readonly #pages: (Int32Array | undefined)[] = [];
  #size = 0;

  /** Number of offsets that have a row. */
  get size(): number {
    return this.#size;
  }

  /** The row at `offset`, or -1. */
  get(offset: number): number {
    const page = this.#pages[offset >>> PAGE_BITS];
    return page === undefined ? -1 : (page[offset & PAGE_MASK] as number) - 1;
  }

  /** True when `offset` has a row. */
  has(offset: number): boolean {
    return this.get(offset) >= 0;
  }

  /** Sets the row of `offset` (row >= 0), replacing any. */
  set(offset: number, row: number): void {
    const p = offset >>> PAGE_BITS;
    let page = this.#pages[p];
    if (page === undefined) {
      while (this.#pages.length < p) this.#pages.push(undefined);
      page = new Int32Array(PAGE_SIZE);
      this.#pages[p] = page;
    }
    if (page[offset & PAGE_MASK] === 0) this.#size++;
    page[offset & PAGE_MASK] = row + 1;
  }

  /** Drops the row of `offset` (no-op when it has none). */
  delete(offset: number): void {
    const page = this.#pages[offset >>> PAGE_BITS];
    if (page === undefined || page[offset & PAGE_MASK] === 0) return;
    page[offset & PAGE_MASK] = 0;
    this.#size--;
  }

  /** Calls `fn(offset, row)` for every entry in ascending offset order (do not mutate meanwhile). */
  forEach(fn: (offset: number, row: number) => void): void {
    const pages = this.#pages;
    for (let p = 0; p < pages.length; p++) {
      const page = pages[p];
      if (page === undefined) continue;
      for (let i = 0; i < PAGE_SIZE; i++) {
        const v = page[i] as number;
        if (v !== 0) fn((p << PAGE_BITS) | i, v - 1);
      }
    }
  }
}
