import { BitmapError } from "./bitmap-error.js";

/** The largest capacity a {@link Bitmap} accepts: 2^24 bits (a /8 of IPv4, a /104 of IPv6). */
export const MAX_BITMAP_CAPACITY = 1 << 24;

/** A full word: all 32 bits set, as the int32 the `Int32Array` hands back. */
const FULL = -1;
const MAGIC = 0x4d424950; // "PIBM" little-endian: ipam bitmap
const FORMAT_VERSION = 1;
const ENCODING_RAW = 0;
const ENCODING_RUNS = 1;
const HEADER_BYTES = 20;

/**
 * A fixed-capacity set of bits over 32-bit typed-array words, with a summary hierarchy
 * that makes finding a clear bit cost O(log32 capacity) word operations
 * instead of a scan of every word.
 *
 * Layout: level 0 holds the bits themselves; bit `j` of word `i` at level
 * `k + 1` is set exactly when word `i * 32 + j` of level `k` is full (all 32
 * bits set). The top level is a single word. Padding bits past the end of a
 * level (and past `capacity` in level 0) are kept set, so a search can never
 * land outside the bitmap and needs no bounds checks. All levels live in one
 * `Int32Array`: the signed view keeps every word, the all-ones word included
 * (-1), a small integer in V8, where a `Uint32Array` would hand words >= 2^31
 * back as doubles on the hot path. The serialized form is unsigned
 * little-endian words either way.
 *
 * Not thread-safe; all methods are synchronous. Bit indexes are integers in
 * [0, capacity).
 */
export class Bitmap {
  /** Number of bits, in [1, 2^24]. */
  readonly capacity: number;
  readonly #words: Int32Array;
  /** Word offset of each level in `#words`; level 0 starts at 0. */
  readonly #levelStart: Int32Array;
  /** Number of words in each level. */
  readonly #levelWords: Int32Array;
  readonly #top: number;
  #count = 0;
  /**
   * Low-water mark: every level-0 word below `#low` is full. First-fit looks
   * at this word before descending the hierarchy, so repeated first-fit
   * allocation (and allocate+release churn) costs one word test.
   */
  #low = 0;

  /**
   * An empty bitmap of `capacity` bits.
   * @throws BitmapError `INVALID_ARGUMENT` unless capacity is an integer in [1, 2^24].
   */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_BITMAP_CAPACITY) {
      throw new BitmapError(
        "INVALID_ARGUMENT",
        `bitmap capacity ${capacity} must be an integer between 1 and ${MAX_BITMAP_CAPACITY}`,
        { details: { capacity } },
      );
    }
    this.capacity = capacity;
    const starts: number[] = [];
    const sizes: number[] = [];
    let total = 0;
    let units = capacity; // bits at the current level
    for (;;) {
      const words = Math.ceil(units / 32);
      starts.push(total);
      sizes.push(words);
      total += words;
      if (words === 1) break;
      units = words;
    }
    this.#words = new Int32Array(total);
    this.#levelStart = Int32Array.from(starts);
    this.#levelWords = Int32Array.from(sizes);
    this.#top = starts.length - 1;
    // Set padding bits of every level: bits past the level's last real unit.
    units = capacity;
    for (let level = 0; level <= this.#top; level++) {
      const used = units & 31;
      if (used !== 0) {
        const last = starts[level]! + sizes[level]! - 1;
        this.#words[last] = FULL << used;
      }
      units = sizes[level]!;
    }
  }

  /** Number of set bits. O(1). */
  count(): number {
    return this.#count;
  }

  /** Number of clear bits. O(1). */
  free(): number {
    return this.capacity - this.#count;
  }

  /** True when `bit` is set. @throws BitmapError `INVALID_ARGUMENT` for an index out of range. */
  test(bit: number): boolean {
    this.#check(bit);
    return (this.#words[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /**
   * Sets `bit`. Returns true when it was clear (the set changed), false when it was already set.
   * @throws BitmapError `INVALID_ARGUMENT` for an index out of range.
   */
  set(bit: number): boolean {
    this.#check(bit);
    if ((this.#words[bit >>> 5]! & (1 << (bit & 31))) !== 0) return false;
    this.#setClearBit(bit);
    return true;
  }

  /**
   * Clears `bit`. Returns true when it was set (the set changed), false when it was already clear.
   * @throws BitmapError `INVALID_ARGUMENT` for an index out of range.
   */
  clear(bit: number): boolean {
    this.#check(bit);
    if ((this.#words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    this.#clearSetBit(bit);
    return true;
  }

  /**
   * Sets every bit in [from, to] (inclusive). Returns how many bits changed.
   * @throws BitmapError `INVALID_ARGUMENT` unless 0 <= from <= to < capacity.
   */
  setRange(from: number, to: number): number {
    this.#checkRange(from, to);
    const before = this.#count;
    for (let w = from >>> 5; w <= to >>> 5; w++) this.#orWord(w, rangeMask(w, from, to));
    return this.#count - before;
  }

  /**
   * Clears every bit in [from, to] (inclusive). Returns how many bits changed.
   * @throws BitmapError `INVALID_ARGUMENT` unless 0 <= from <= to < capacity.
   */
  clearRange(from: number, to: number): number {
    this.#checkRange(from, to);
    const before = this.#count;
    for (let w = from >>> 5; w <= to >>> 5; w++) this.#andNotWord(w, rangeMask(w, from, to));
    return before - this.#count;
  }

  /**
   * The lowest clear bit, without setting it; -1 when every bit is set.
   * O(levels): descends the summary hierarchy from the top word.
   */
  findFirstFree(): number {
    const words = this.#words;
    const low = words[this.#low]!;
    if (low !== FULL) return (this.#low << 5) | lowestZero(low);
    const starts = this.#levelStart;
    let level = this.#top;
    let word = words[starts[level]!]!;
    if (word === FULL) {
      this.#low = this.#levelWords[0]! - 1;
      return -1;
    }
    let index = lowestZero(word);
    while (level > 0) {
      level--;
      word = words[starts[level]! + index]!;
      index = (index << 5) | lowestZero(word);
    }
    this.#low = index >>> 5;
    return index;
  }

  /**
   * The lowest clear bit at or after `from`, without wrapping; -1 when none.
   * `from` may equal `capacity` (then the answer is -1).
   * @throws BitmapError `INVALID_ARGUMENT` unless 0 <= from <= capacity.
   */
  findNextFree(from: number): number {
    if (from >>> 0 !== from || from > this.capacity) this.#badCursor(from);
    if (from === this.capacity) return -1;
    const words = this.#words;
    const starts = this.#levelStart;
    const counts = this.#levelWords;
    const top = this.#top;
    let level = 0;
    let unit = from; // a bit index within `level`
    let index: number;
    for (;;) {
      const w = unit >>> 5;
      // Treat the bits below `unit` in its word as set.
      const word = words[starts[level]! + w]! | ((1 << (unit & 31)) - 1);
      if (word !== -1) {
        index = (w << 5) | lowestZero(word);
        break;
      }
      if (level === top || w + 1 >= counts[level]!) return -1;
      unit = w + 1;
      level++;
    }
    while (level > 0) {
      level--;
      index = (index << 5) | lowestZero(words[starts[level]! + index]!);
    }
    return index;
  }

  /**
   * Sets and returns the lowest clear bit; -1 when the bitmap is full.
   * Allocation-free.
   */
  allocateFirstFree(): number {
    const bit = this.findFirstFree();
    if (bit >= 0) this.#setClearBit(bit);
    return bit;
  }

  /**
   * Next-fit: sets and returns the lowest clear bit at or after `cursor`,
   * wrapping to bit 0 when there is none; -1 when the bitmap is full. The
   * caller keeps the cursor (typically `bit + 1` after each call), so a bit
   * that was just cleared is not handed out again until the cursor comes
   * round. Allocation-free.
   * @throws BitmapError `INVALID_ARGUMENT` unless 0 <= cursor <= capacity.
   */
  allocateNextFree(cursor: number): number {
    let bit = this.findNextFree(cursor);
    if (bit < 0 && cursor > 0) bit = this.findFirstFree();
    if (bit >= 0) this.#setClearBit(bit);
    return bit;
  }

  /**
   * The lowest set bit at or after `from`; -1 when none. Scans level-0 words
   * (O(capacity / 32) worst case); meant for iteration, not allocation.
   * @throws BitmapError `INVALID_ARGUMENT` unless 0 <= from <= capacity.
   */
  nextSet(from: number): number {
    if (from >>> 0 !== from || from > this.capacity) this.#badCursor(from);
    const words = this.#words;
    const last = this.#levelWords[0]! - 1;
    let w = from >>> 5;
    if (w > last) return -1;
    let word = words[w]! & ~((1 << (from & 31)) - 1);
    for (;;) {
      if (word !== 0) {
        const bit = (w << 5) | lowestSet(word);
        return bit < this.capacity ? bit : -1;
      }
      if (++w > last) return -1;
      word = words[w]!;
    }
  }

  /** Calls `fn` for every set bit in ascending order. Allocation-free; do not mutate while iterating. */
  forEachSet(fn: (bit: number) => void): void {
    for (let bit = this.nextSet(0); bit >= 0; bit = this.nextSet(bit + 1)) {
      fn(bit);
      if (bit + 1 >= this.capacity) return;
    }
  }

  /** Iterates the set bits in ascending order. Do not mutate while iterating. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let bit = this.nextSet(0); bit >= 0; ) {
      yield bit;
      if (bit + 1 >= this.capacity) return;
      bit = this.nextSet(bit + 1);
    }
  }

  /** An independent copy. */
  clone(): Bitmap {
    const copy = new Bitmap(this.capacity);
    copy.#words.set(this.#words);
    copy.#count = this.#count;
    copy.#low = this.#low;
    return copy;
  }

  /** True when both bitmaps have the same capacity and the same set bits. */
  equals(other: Bitmap): boolean {
    if (other.capacity !== this.capacity || other.#count !== this.#count) return false;
    const n = this.#levelWords[0]!;
    for (let i = 0; i < n; i++) if (this.#words[i] !== other.#words[i]) return false;
    return true;
  }

  /**
   * A compact, self-describing binary form: a 20-byte header (magic, version,
   * encoding, capacity, count, FNV-1a checksum of the payload) and either the
   * raw level-0 words (little-endian) or run lengths of alternating clear/set
   * bits as LEB128 varints, whichever is smaller. Mostly-empty and
   * mostly-full bitmaps serialize to a few bytes. The returned array is owned
   * by the caller.
   */
  serialize(): Uint8Array {
    const n = this.#levelWords[0]!;
    // Each run costs at least one byte: skip the run encoding when there are
    // at least as many runs as raw bytes.
    const runs = this.#transitions() + 1 < n * 4 ? this.#encodeRuns(n * 4) : undefined;
    const payload = runs ?? this.#rawPayload(n);
    const out = new Uint8Array(HEADER_BYTES + payload.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, MAGIC, true);
    out[4] = FORMAT_VERSION;
    out[5] = runs === undefined ? ENCODING_RAW : ENCODING_RUNS;
    view.setUint32(8, this.capacity, true);
    view.setUint32(12, this.#count, true);
    view.setUint32(16, fnv1a(payload), true);
    out.set(payload, HEADER_BYTES);
    return out;
  }

  /**
   * Rebuilds a bitmap from {@link serialize} output.
   * @throws BitmapError `CORRUPT_DATA` for anything that is not an intact
   * serialized bitmap (bad magic, version, length, checksum or count).
   */
  static deserialize(bytes: Uint8Array): Bitmap {
    if (bytes.length < HEADER_BYTES) throw corrupt("shorter than the header");
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== MAGIC) throw corrupt("bad magic");
    if (bytes[4] !== FORMAT_VERSION) throw corrupt(`unknown version ${bytes[4]}`);
    const encoding = bytes[5];
    const capacity = view.getUint32(8, true);
    const count = view.getUint32(12, true);
    if (capacity < 1 || capacity > MAX_BITMAP_CAPACITY) throw corrupt(`bad capacity ${capacity}`);
    const payload = bytes.subarray(HEADER_BYTES);
    if (fnv1a(payload) !== view.getUint32(16, true)) throw corrupt("checksum mismatch");
    const bitmap = new Bitmap(capacity);
    if (encoding === ENCODING_RAW) bitmap.#loadRaw(payload);
    else if (encoding === ENCODING_RUNS) bitmap.#loadRuns(payload);
    else throw corrupt(`unknown encoding ${encoding}`);
    if (bitmap.#count !== count) throw corrupt(`count ${bitmap.#count} does not match ${count}`);
    return bitmap;
  }

  // --- internals -----------------------------------------------------------

  /** Sets a bit known to be clear and in range; maintains the summary levels. */
  #setClearBit(bit: number): void {
    const words = this.#words;
    this.#count++;
    const w = bit >>> 5;
    const word = words[w]! | (1 << (bit & 31));
    words[w] = word;
    if (word === FULL && this.#top > 0) this.#markFull(1, w);
  }

  /** Clears a bit known to be set and in range; maintains the summary levels. */
  #clearSetBit(bit: number): void {
    const words = this.#words;
    this.#count--;
    const w = bit >>> 5;
    const word = words[w]!;
    words[w] = word & ~(1 << (bit & 31));
    if (w < this.#low) this.#low = w;
    if (word === FULL && this.#top > 0) this.#markNotFull(1, w);
  }

  /** ORs `mask` into level-0 word `w`; keeps count and summary levels right. */
  #orWord(w: number, mask: number): void {
    const old = this.#words[w]!;
    const word = old | mask;
    if (word === old) return;
    this.#words[w] = word;
    this.#count += popcount(word ^ old);
    if (word === FULL && this.#top > 0) this.#markFull(1, w);
  }

  /** Clears the bits of `mask` in level-0 word `w`; keeps count and summary levels right. */
  #andNotWord(w: number, mask: number): void {
    const old = this.#words[w]!;
    const word = old & ~mask;
    if (word === old) return;
    this.#words[w] = word;
    this.#count -= popcount(word ^ old);
    if (w < this.#low) this.#low = w;
    if (old === FULL && this.#top > 0) this.#markNotFull(1, w);
  }

  /** Sets summary bit `unit` at `level` (>= 1), propagating upwards. */
  #markFull(level: number, unit: number): void {
    const words = this.#words;
    for (; ; level++) {
      const at = this.#levelStart[level]! + (unit >>> 5);
      const word = words[at]! | (1 << (unit & 31));
      words[at] = word;
      if (word !== FULL || level === this.#top) return;
      unit >>>= 5;
    }
  }

  /** Clears summary bit `unit` at `level` (>= 1), propagating upwards. */
  #markNotFull(level: number, unit: number): void {
    const words = this.#words;
    for (; ; level++) {
      const at = this.#levelStart[level]! + (unit >>> 5);
      const word = words[at]!;
      words[at] = word & ~(1 << (unit & 31));
      if (word !== FULL || level === this.#top) return;
      unit >>>= 5;
    }
  }

  #check(bit: number): void {
    if (bit >>> 0 !== bit || bit >= this.capacity) {
      throw new BitmapError(
        "INVALID_ARGUMENT",
        `bit ${bit} is out of range (0-${this.capacity - 1})`,
        { details: { bit, capacity: this.capacity } },
      );
    }
  }

  #checkRange(from: number, to: number): void {
    this.#check(from);
    this.#check(to);
    if (from > to) {
      throw new BitmapError("INVALID_ARGUMENT", `bit range ${from}-${to} is empty`, {
        details: { from, to },
      });
    }
  }

  #badCursor(cursor: number): never {
    throw new BitmapError(
      "INVALID_ARGUMENT",
      `cursor ${cursor} is out of range (0-${this.capacity})`,
      { details: { cursor, capacity: this.capacity } },
    );
  }

  #rawPayload(n: number): Uint8Array {
    const out = new Uint8Array(n * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < n; i++) view.setUint32(i * 4, this.#words[i]!, true);
    // Padding bits past capacity are an internal detail: write them clear.
    const used = this.capacity & 31;
    if (used !== 0)
      view.setUint32((n - 1) * 4, this.#words[n - 1]! & (((1 << used) - 1) >>> 0), true);
    return out;
  }

  /** Number of places where bit i differs from bit i + 1, for i + 1 < capacity. */
  #transitions(): number {
    const words = this.#words;
    const n = this.#levelWords[0]!;
    const used = this.capacity & 31;
    let total = 0;
    let previous = words[0]! & 1; // the bit before bit 0 counts as equal to it
    for (let w = 0; w < n; w++) {
      let word = words[w]!;
      if (w === n - 1 && used !== 0) {
        // Extend the last real bit over the padding so padding adds no transitions.
        const last = (word >>> (used - 1)) & 1;
        word = last === 1 ? (word | (FULL << used)) >>> 0 : word & ((1 << used) - 1);
      }
      const shifted = ((word << 1) | previous) >>> 0;
      total += popcount((word ^ shifted) >>> 0);
      previous = word >>> 31;
    }
    return total;
  }

  /** Run-length payload, or undefined once it would reach `limit` bytes. */
  #encodeRuns(limit: number): Uint8Array | undefined {
    const bytes: number[] = [];
    let pos = 0;
    let clearRun = true;
    while (pos < this.capacity) {
      let next: number;
      if (clearRun) {
        next = this.nextSet(pos);
      } else {
        next = this.findNextFree(pos);
      }
      if (next < 0) next = this.capacity;
      let run = next - pos;
      do {
        let b = run & 0x7f;
        run >>>= 7;
        if (run !== 0) b |= 0x80;
        bytes.push(b);
      } while (run !== 0);
      if (bytes.length >= limit) return undefined;
      pos = next;
      clearRun = !clearRun;
    }
    return Uint8Array.from(bytes);
  }

  #loadRaw(payload: Uint8Array): void {
    const n = this.#levelWords[0]!;
    if (payload.length !== n * 4) throw corrupt(`raw payload of ${payload.length} bytes`);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const used = this.capacity & 31;
    for (let w = 0; w < n; w++) {
      const word = view.getUint32(w * 4, true);
      if (w === n - 1 && used !== 0 && word >>> used !== 0) {
        throw corrupt("bits set past capacity");
      }
      if (word !== 0) this.#orWord(w, word);
    }
  }

  #loadRuns(payload: Uint8Array): void {
    let pos = 0;
    let i = 0;
    let setRun = false;
    while (i < payload.length) {
      let run = 0;
      let shift = 0;
      for (;;) {
        if (i >= payload.length || shift > 28) throw corrupt("truncated run length");
        const b = payload[i++]!;
        run += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      if (pos + run > this.capacity) throw corrupt("runs exceed capacity");
      if (setRun && run > 0) this.setRange(pos, pos + run - 1);
      pos += run;
      setRun = !setRun;
    }
    if (pos !== this.capacity) throw corrupt(`runs cover ${pos} of ${this.capacity} bits`);
  }
}

/** Index of the lowest clear bit of a word that is not all ones. */
function lowestZero(word: number): number {
  const inv = ~word;
  return 31 - Math.clz32(inv & -inv);
}

/** Index of the lowest set bit of a non-zero word. */
function lowestSet(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Bits of level-0 word `w` that fall inside [from, to]. */
function rangeMask(w: number, from: number, to: number): number {
  const lo = w === from >>> 5 ? from & 31 : 0;
  const hi = w === to >>> 5 ? to & 31 : 31;
  // bits lo..hi inclusive
  return ((FULL >>> (31 - hi + lo)) << lo) >>> 0;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function corrupt(reason: string): BitmapError {
  return new BitmapError("CORRUPT_DATA", `serialized bitmap is corrupt: ${reason}`, {
    details: { reason },
  });
}
