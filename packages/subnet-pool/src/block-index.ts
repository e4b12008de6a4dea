/**
 * A sparse index of the leased blocks of one subnet: the leased block indexes, sorted, each with
 * its owner. Memory is proportional to the number of leased blocks, never to the number of
 * blocks (an IPv6 /48 carved into /120 blocks has 2^72 of them).
 *
 * Costs: `firstFree` O(log n) (a binary search for the first gap: in a sorted array of distinct
 * integers `index[i] - i` never decreases), `lease`/`release` O(log n) search plus an O(n) array
 * shift (a memmove; microseconds for tens of thousands of blocks).
 */
export class BlockIndex<Owner> {
  /** Number of blocks in the subnet. */
  readonly count: bigint;
  #indexes: bigint[] = [];
  #owners: Owner[] = [];

  /** An empty index of a subnet with `count` blocks (count >= 1). */
  constructor(count: bigint) {
    this.count = count;
  }

  /** Number of leased blocks. */
  get size(): number {
    return this.#indexes.length;
  }

  /** Position of `index` in the sorted array, or `-(insertion point) - 1` when absent. */
  #search(index: bigint): number {
    let lo = 0;
    let hi = this.#indexes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const value = this.#indexes[mid] as bigint;
      if (value < index) lo = mid + 1;
      else if (value > index) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  /** True when block `index` is leased. */
  has(index: bigint): boolean {
    return this.#search(index) >= 0;
  }

  /** Owner of block `index`, or undefined when it is free. */
  owner(index: bigint): Owner | undefined {
    const at = this.#search(index);
    return at >= 0 ? this.#owners[at] : undefined;
  }

  /**
   * The lowest free block index >= `from`, or -1n when every block from there on is leased.
   * @param from a block index, 0 <= from.
   */
  firstFree(from = 0n): bigint {
    if (from >= this.count) return -1n;
    const p = this.#search(from);
    if (p < 0) return from;
    // From position p on, indexes equal from + (j - p) until the first gap.
    let lo = p;
    let hi = this.#indexes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#indexes[mid] as bigint) === from + BigInt(mid - p)) lo = mid + 1;
      else hi = mid - 1;
    }
    const candidate = from + BigInt(lo - p);
    return candidate < this.count ? candidate : -1n;
  }

  /**
   * Marks block `index` leased by `owner`. Returns false (and changes nothing) when it is
   * already leased. The caller checks 0 <= index < count.
   */
  lease(index: bigint, owner: Owner): boolean {
    const at = this.#search(index);
    if (at >= 0) return false;
    const insert = -at - 1;
    this.#indexes.splice(insert, 0, index);
    this.#owners.splice(insert, 0, owner);
    return true;
  }

  /**
   * Replaces the owner of leased block `index`; returns the former owner, or undefined (and
   * changes nothing) when the block is free.
   */
  setOwner(index: bigint, owner: Owner): Owner | undefined {
    const at = this.#search(index);
    if (at < 0) return undefined;
    const old = this.#owners[at];
    this.#owners[at] = owner;
    return old;
  }

  /** Frees block `index`; returns its former owner, or undefined when it was free. */
  release(index: bigint): Owner | undefined {
    const at = this.#search(index);
    if (at < 0) return undefined;
    const owner = this.#owners[at];
    this.#indexes.splice(at, 1);
    this.#owners.splice(at, 1);
    return owner;
  }

  /** Calls `fn` for every leased block in ascending index order. Do not lease or release in `fn`. */
  forEach(fn: (index: bigint, owner: Owner) => void): void {
    for (let i = 0; i < this.#indexes.length; i++)
      fn(this.#indexes[i] as bigint, this.#owners[i] as Owner);
  }
}
