import type { Family } from "@ipam/topology";
import { InternedStrings } from "./interned-strings.js";

/** One direct allocation as plain values (what {@link DirectRecords} stores, field by field). */
export interface DirectEntry {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly family: Family;
  readonly node: string;
  readonly purpose: string;
  readonly subnet: string;
  /** Offset of the address in the subnet (the text form is derived on demand). */
  readonly offset: number;
  readonly allocatedAt: number;
}

const EMPTY = -1;
const INITIAL_ROWS = 64;

/**
 * The direct allocations of the cluster state as rows of parallel typed arrays (a struct of
 * arrays), with no object per allocation: per row the container id (a string), the ids of its
 * network, ifname, node, purpose and subnet in an {@link InternedStrings} table, the family, the
 * offset in the subnet and `allocatedAt`. Beside the rows: an open-addressing hash index by
 * (network, containerId, ifname, family) holding row numbers, and per node a doubly linked list
 * of its rows. About 50 bytes per allocation plus its container id, where an object per
 * allocation with Map entries took about 250.
 *
 * Contracts:
 * - A row number names one allocation from {@link add} until {@link remove}; then it is free and
 *   may name the next one. Row numbers, like string ids, are private: they depend on history, so
 *   they never reach a snapshot, a result or an ordering (callers sort with {@link compare}).
 * - At most one row per (network, containerId, ifname, family): the caller checks {@link find}
 *   before {@link add}.
 * - Nothing here is journaled: the caller records inverses ({@link remove} undoes {@link add};
 *   {@link revive} undoes {@link remove} when run in reverse order, as the undo journal does).
 */
export class DirectRecords {
  readonly #strings = new InternedStrings();
  #capacity = INITIAL_ROWS;
  /** Rows below this have been used; the free ones are on #free. */
  #used = 0;
  readonly #free: number[] = [];
  #size = 0;
  readonly #containers: string[] = [];
  #network = new Int32Array(INITIAL_ROWS);
  #ifname = new Int32Array(INITIAL_ROWS);
  #node = new Int32Array(INITIAL_ROWS);
  #purpose = new Int32Array(INITIAL_ROWS);
  #subnet = new Int32Array(INITIAL_ROWS);
  /** 4 or 6; 0 for a free row. */
  #family = new Uint8Array(INITIAL_ROWS);
  #offset = new Int32Array(INITIAL_ROWS);
  #allocatedAt = new Float64Array(INITIAL_ROWS);
  #nodeNext = new Int32Array(INITIAL_ROWS);
  #nodePrev = new Int32Array(INITIAL_ROWS);
  /** {@link hashOf} the container id, kept so that growing and deleting from the index rehash nothing. */
  #hash = new Int32Array(INITIAL_ROWS);
  /** By string id of a node: its first row (or EMPTY) and its number of rows. */
  #nodeHead = new Int32Array(INITIAL_ROWS).fill(EMPTY);
  #nodeCount = new Int32Array(INITIAL_ROWS);
  /** Hash index: row + 1 per slot (0 empty), linear probing, at most half full. */
  #slots = new Int32Array(INITIAL_ROWS * 2);

  /** Number of allocations. */
  get size(): number {
    return this.#size;
  }

  /** The row of (network, containerId, ifname, family), or -1. */
  find(network: string, containerId: string, ifname: string, family: Family): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let i = hashOf(containerId) & mask; ; i = (i + 1) & mask) {
      const v = slots[i] as number;
      if (v === 0) return -1;
      const row = v - 1;
      if (
        this.#containers[row] === containerId &&
        this.#family[row] === family &&
        this.#strings.text(this.#network[row] as number) === network &&
        this.#strings.text(this.#ifname[row] as number) === ifname
      )
        return row;
    }
  }

  /**
   * Makes room for `count` more allocations at once (a snapshot restore knows how many), so the
   * arrays and the index are sized once instead of doubling their way up.
   */
  reserve(count: number): void {
    const need = this.#used + count;
    if (need > this.#capacity) this.#grow(need);
    let slots = this.#slots.length;
    while ((this.#size + count) * 2 > slots) slots *= 2;
    if (slots > this.#slots.length) this.#rehash(slots);
  }

  /** Stores an allocation (its key is not present); returns its row. */
  add(e: DirectEntry): number {
    const row = this.#free.pop() ?? this.#newRow();
    this.#fill(row, e);
    return row;
  }

  /** Drops the allocation of `row`; the row becomes free. */
  remove(row: number): void {
    this.#unindex(row);
    const strings = this.#strings;
    const node = this.#node[row] as number;
    this.#unlinkNode(row, node);
    strings.release(this.#network[row] as number);
    strings.release(this.#ifname[row] as number);
    strings.release(node);
    strings.release(this.#purpose[row] as number);
    strings.release(this.#subnet[row] as number);
    this.#containers[row] = "";
    this.#family[row] = 0;
    this.#free.push(row);
    this.#size--;
  }

  /**
   * Undoes {@link remove}: `row` (free) holds `e` again. The undo journal runs inverses in
   * reverse order, so `row` is then the last freed row and this is O(1).
   */
  revive(row: number, e: DirectEntry): void {
    const at = this.#free.lastIndexOf(row);
    if (at < 0 || this.#family[row] !== 0) throw new Error(`direct row ${row} is not free`);
    this.#free.splice(at, 1);
    this.#fill(row, e);
  }

  // --- fields of a held row --------------------------------------------------------------

  network(row: number): string {
    return this.#strings.text(this.#network[row] as number);
  }
  containerId(row: number): string {
    return this.#containers[row] as string;
  }
  ifname(row: number): string {
    return this.#strings.text(this.#ifname[row] as number);
  }
  family(row: number): Family {
    return this.#family[row] as Family;
  }
  node(row: number): string {
    return this.#strings.text(this.#node[row] as number);
  }
  purpose(row: number): string {
    return this.#strings.text(this.#purpose[row] as number);
  }
  subnet(row: number): string {
    return this.#strings.text(this.#subnet[row] as number);
  }
  offset(row: number): number {
    return this.#offset[row] as number;
  }
  allocatedAt(row: number): number {
    return this.#allocatedAt[row] as number;
  }

  /** The allocation of `row` as a fresh object. */
  entry(row: number): DirectEntry {
    return {
      network: this.network(row),
      containerId: this.containerId(row),
      ifname: this.ifname(row),
      family: this.family(row),
      node: this.node(row),
      purpose: this.purpose(row),
      subnet: this.subnet(row),
      offset: this.offset(row),
      allocatedAt: this.allocatedAt(row),
    };
  }

  /**
   * Orders rows by network, container id, ifname (code units), then family: the order of every
   * list and of the snapshot.
   */
  readonly compare = (a: number, b: number): number => {
    const c = this.#containers;
    if (this.#network[a] !== this.#network[b]) return byText(this.network(a), this.network(b));
    if (c[a] !== c[b]) return (c[a] as string) < (c[b] as string) ? -1 : 1;
    if (this.#ifname[a] !== this.#ifname[b]) return byText(this.ifname(a), this.ifname(b));
    return (this.#family[a] as number) - (this.#family[b] as number);
  };

  // --- collections -----------------------------------------------------------------------

  /** Every row, in unspecified order (a fresh array). */
  rows(): number[] {
    const out: number[] = [];
    for (let row = 0; row < this.#used; row++) if (this.#family[row] !== 0) out.push(row);
    return out;
  }

  /** The rows of a node, in unspecified order (a fresh array). */
  nodeRows(node: string): number[] {
    const id = this.#strings.find(node);
    const out: number[] = [];
    if (id < 0 || id >= this.#nodeHead.length) return out;
    for (let row = this.#nodeHead[id] as number; row !== EMPTY; row = this.#nodeNext[row] as number)
      out.push(row);
    return out;
  }

  /** Number of allocations a node holds. */
  nodeCount(node: string): number {
    const id = this.#strings.find(node);
    return id < 0 || id >= this.#nodeCount.length ? 0 : (this.#nodeCount[id] as number);
  }

  // --- internals -------------------------------------------------------------------------

  #fill(row: number, e: DirectEntry): void {
    const strings = this.#strings;
    this.#containers[row] = e.containerId;
    this.#network[row] = strings.acquire(e.network);
    this.#ifname[row] = strings.acquire(e.ifname);
    const node = strings.acquire(e.node);
    this.#node[row] = node;
    this.#purpose[row] = strings.acquire(e.purpose);
    this.#subnet[row] = strings.acquire(e.subnet);
    this.#family[row] = e.family;
    this.#offset[row] = e.offset;
    this.#allocatedAt[row] = e.allocatedAt;
    this.#linkNode(row, node);
    this.#size++;
    this.#index(row);
  }

  #newRow(): number {
    if (this.#used === this.#capacity) this.#grow();
    const row = this.#used++;
    this.#containers.push("");
    return row;
  }

  #grow(atLeast = 0): void {
    const n = Math.max(this.#capacity * 2, atLeast);
    this.#network = resized(this.#network, n);
    this.#ifname = resized(this.#ifname, n);
    this.#node = resized(this.#node, n);
    this.#purpose = resized(this.#purpose, n);
    this.#subnet = resized(this.#subnet, n);
    this.#family = resized(this.#family, n);
    this.#offset = resized(this.#offset, n);
    this.#allocatedAt = resized(this.#allocatedAt, n);
    this.#nodeNext = resized(this.#nodeNext, n);
    this.#nodePrev = resized(this.#nodePrev, n);
    this.#hash = resized(this.#hash, n);
    this.#capacity = n;
  }

  #linkNode(row: number, node: number): void {
    if (node >= this.#nodeHead.length) {
      const n = Math.max(this.#nodeHead.length * 2, this.#strings.span);
      const head = new Int32Array(n).fill(EMPTY);
      head.set(this.#nodeHead);
      this.#nodeHead = head;
      this.#nodeCount = resized(this.#nodeCount, n);
    }
    const first = this.#nodeHead[node] as number;
    this.#nodeNext[row] = first;
    this.#nodePrev[row] = EMPTY;
    if (first !== EMPTY) this.#nodePrev[first] = row;
    this.#nodeHead[node] = row;
    (this.#nodeCount[node] as number)++;
  }

  #unlinkNode(row: number, node: number): void {
    const next = this.#nodeNext[row] as number;
    const prev = this.#nodePrev[row] as number;
    if (prev === EMPTY) this.#nodeHead[node] = next;
    else this.#nodeNext[prev] = next;
    if (next !== EMPTY) this.#nodePrev[next] = prev;
    (this.#nodeCount[node] as number)--;
  }

  #index(row: number): void {
    if (this.#size * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    const slots = this.#slots;
    const mask = slots.length - 1;
    const hash = hashOf(this.#containers[row] as string);
    this.#hash[row] = hash;
    let i = hash & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = row + 1;
  }

  /** Removes `row` from the hash index (backward-shift deletion: no tombstones). */
  #unindex(row: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let i = (this.#hash[row] as number) & mask;
    while (slots[i] !== row + 1) {
      if (slots[i] === 0) return;
      i = (i + 1) & mask;
    }
    // Move later entries of the cluster back into the hole when their home allows it.
    for (let j = (i + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const home = (this.#hash[(slots[j] as number) - 1] as number) & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        slots[i] = slots[j] as number;
        i = j;
      }
    }
    slots[i] = 0;
  }

  #rehash(n: number): void {
    const old = this.#slots;
    this.#slots = new Int32Array(n);
    const mask = n - 1;
    for (const v of old) {
      if (v === 0) continue;
      let i = (this.#hash[v - 1] as number) & mask;
      while (this.#slots[i] !== 0) i = (i + 1) & mask;
      this.#slots[i] = v;
    }
  }
}

/** FNV-1a over the UTF-16 code units of `text`, mixed (32-bit). */
function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  return Math.imul(h, 0x45d9f3b) & 0x7fffffff;
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function resized<T extends Int32Array | Uint8Array | Float64Array>(a: T, n: number): T {
  const out = new (a.constructor as new (n: number) => T)(n);
  out.set(a);
  return out;
}
