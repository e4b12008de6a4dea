import { BitmapError } from "./bitmap-error.js";

/** The largest capacity a {@link Bitmap} accepts: 2^24 bits (a /8 of IPv4, a /104 of IPv6). */
export const MAX_BITMAP_CAPACITY = 1 << 24;

/**
 * A full word: all 32 bits set, as the int32 the `Int32Array` hands back. The
 * hot paths write the literal -1 instead: V8 (Node 20) reloads a module-level
 * constant from the module context on every use.
 */
const FULL = -1;
const MAGIC = 0x4d424950; // "PIBM" little-endian: ipam bitmap
const FORMAT_VERSION = 1;
const ENCODING_RAW = 0;
const ENCODING_RUNS = 1;
const HEADER_BYTES = 20;

/**
 * A fixed-capacity set of bits over 32-bit typed-array words, with a summary hierarchy
 * that makes finding a clear bit cost O(log32 capacity) word operations
 * (amortized) instead of a scan of every word.
 *
 * Layout: level 0 holds the bits themselves; bit `j` of word `i` at level
 * `k + 1` stands for word `i * 32 + j` of level `k`. A set summary bit always
 * means that word is full (all 32 bits set), so a search may skip it. A clear
 * summary bit means the word has a clear bit, with one exception: a level-0
 * word that an allocation filled is marked only when a search next reaches it
 * (allocate+release churn then touches no summary word). Summary words above
 * level 1 are exact. There is at least one summary level and the top level is
 * a single word. Padding bits past the end of a level (and past `capacity` in
 * level 0) are kept set, so a search can never land outside the bitmap and
 * needs no bounds checks. All levels live in one
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
   * at this word first, so repeated first-fit allocation (and allocate+release
   * churn) costs one word test; when it is full, the search climbs from it.
   */
  #low = 0;
  /** Word offset of level 1 (the number of level-0 words). */
  readonly #summary: number;

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
      // Stop at a single word, but keep at least one summary level so that
      // the hot paths never ask whether there is one.
      if (words === 1 && starts.length > 1) break;
      units = words;
    }
    this.#words = new Int32Array(total);
    this.#levelStart = Int32Array.from(starts);
    this.#levelWords = Int32Array.from(sizes);
    this.#top = starts.length - 1;
    this.#summary = sizes[0]!;
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
    const words = this.#words;
    const w = bit >>> 5;
    const old = words[w]!;
    const word = old | (1 << (bit & 31));
    if (word === old) return false;
    words[w] = word;
    this.#count++;
    if (word === -1) this.#markFull(1, w);
    return true;
  }

  /**
   * Clears `bit`. Returns true when it was set (the set changed), false when it was already clear.
   * @throws BitmapError `INVALID_ARGUMENT` for an index out of range.
   */
  clear(bit: number): boolean {
    if (bit >>> 0 !== bit || bit >= this.capacity) this.#badBit(bit);
    const words = this.#words;
    const w = bit >>> 5;
    const old = words[w]!;
    const mask = 1 << (bit & 31);
    if ((old & mask) === 0) return false;
    words[w] = old ^ mask;
    this.#count--;
    if (w < this.#low) this.#low = w;
    // The word was full: its summary bit may be set (see #search); clear it.
    if (old === -1 && (words[this.#summary + (w >>> 5)]! & (1 << (w & 31))) !== 0) {
      this.#markNotFull(1, w);
    }
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
   * One word read when the low-water word has a clear bit; otherwise a search
   * from there, O(levels) amortized (see {@link Bitmap.#search}).
   */
  findFirstFree(): number {
    const low = this.#low;
    const word = this.#words[low]!;
    if (word !== -1) return (low << 5) | (31 - Math.clz32(~word & (word + 1)));
    return this.#firstFreeAfterLow(low);
  }

  /**
   * The lowest clear bit at or after `from`, without wrapping; -1 when none.
   * `from` may equal `capacity` (then the answer is -1).
   * @throws BitmapError `INVALID_ARGUMENT` unless 0 <= from <= capacity.
   */
  findNextFree(from: number): number {
    if (from >>> 0 !== from || from > this.capacity) this.#badCursor(from);
    if (from === this.capacity) return -1;
    return this.#search(from);
  }

  /**
   * Sets and returns the lowest clear bit; -1 when the bitmap is full.
   * Allocation-free.
   */
  allocateFirstFree(): number {
    const words = this.#words;
    const w = this.#low;
    const word = words[w]!;
    if (word === -1) {
      const bit = this.#firstFreeAfterLow(w);
      if (bit >= 0) this.#take(bit);
      return bit;
    }
    const lowest = ~word & (word + 1); // the lowest clear bit, alone
    words[w] = word | lowest;
    this.#count++;
    return (w << 5) | (31 - Math.clz32(lowest));
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
    if (bit >= 0) this.#take(bit);
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

  /**
   * Sets a bit known to be clear and in range, for an allocation. Leaves the
   * summary alone when the word fills up: the next search that reaches the
   * word marks it (see {@link Bitmap.#search}), and a release that comes
   * first has nothing to undo.
   */
  #take(bit: number): void {
    const w = bit >>> 5;
    this.#words[w] = this.#words[w]! | (1 << (bit & 31));
    this.#count++;
  }

  /** ORs `mask` into level-0 word `w`; keeps count and summary levels right. */
  #orWord(w: number, mask: number): void {
    const old = this.#words[w]!;
    const word = old | mask;
    if (word === old) return;
    this.#words[w] = word;
    this.#count += popcount(word ^ old);
    if (word === -1) this.#markFull(1, w);
  }

  /** Clears the bits of `mask` in level-0 word `w`; keeps count and summary levels right. */
  #andNotWord(w: number, mask: number): void {
    const old = this.#words[w]!;
    const word = old & ~mask;
    if (word === old) return;
    this.#words[w] = word;
    this.#count -= popcount(word ^ old);
    if (w < this.#low) this.#low = w;
    if (old === -1) this.#markNotFull(1, w);
  }

  /**
   * First-fit when the hint word `low` is full: the lowest clear bit after it
   * (every word up to `low` is full), found by climbing from `low`; moves the hint.
   */
  #firstFreeAfterLow(low: number): number {
    const bit = this.#search(low << 5);
    this.#low = bit < 0 ? this.#levelWords[0]! - 1 : bit >>> 5;
    return bit;
  }

  /**
   * The lowest clear bit at or after `from` (< capacity), or -1. Looks at
   * `from`'s word first; then climbs only as high as needed (at each level it
   * looks right of the current position within one word, and goes up one
   * level when that word has nothing) and descends one word per level to the
   * bit. A level-0 word it reaches full with its summary bit clear (filled by
   * an allocation, see {@link Bitmap.#take}) is marked and searched past; each
   * such word costs one extra climb, once, so a search is O(levels) word
   * reads amortized over the allocations.
   */
  #search(from: number): number {
    const words = this.#words;
    const starts = this.#levelStart;
    const counts = this.#levelWords;
    let w = from >>> 5;
    const raw = words[w]!;
    const first = raw | ~(-1 << (from & 31)); // the bits below `from` count as set
    if (first !== -1) return (w << 5) | lowestZero(first);
    if (raw === -1 && (words[this.#summary + (w >>> 5)]! & (1 << (w & 31))) === 0) {
      this.#markFull(1, w); // an allocation filled it: mark it now
    }
    for (;;) {
      // Climb: the lowest clear unit right of level-0 word `w`, one level up or higher.
      if (w + 1 >= counts[0]!) return -1;
      let level = 1;
      let unit = w + 1;
      for (;;) {
        const at = unit >>> 5;
        const word = words[starts[level]! + at]! | ~(-1 << (unit & 31));
        if (word !== -1) {
          unit = (at << 5) | lowestZero(word);
          break;
        }
        if (at + 1 >= counts[level]!) return -1;
        unit = at + 1;
        level++;
      }
      // Descend to a level-0 word; summary words above level 1 are exact.
      for (; level > 1; level--) {
        unit = (unit << 5) | lowestZero(words[starts[level - 1]! + unit]!);
      }
      const word = words[unit]!;
      if (word !== -1) return (unit << 5) | lowestZero(word);
      this.#markFull(1, unit); // an allocation filled it: mark it, climb on from it
      w = unit;
    }
  }

  /**
   * Sets summary bit `unit` at `level` (>= 1): unit `unit` of the level below
   * is full. Propagates upwards while a summary word becomes full.
   */
  #markFull(level: number, unit: number): void {
    const words = this.#words;
    for (; ; level++) {
      const at = this.#levelStart[level]! + (unit >>> 5);
      const old = words[at]!;
      const word = old | (1 << (unit & 31));
      // Already set: the levels above were brought up to date when it was.
      if (word === old) return;
      words[at] = word;
      if (word !== -1 || level === this.#top) return;
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
      if (word !== -1 || level === this.#top) return;
      unit >>>= 5;
    }
  }

  #check(bit: number): void {
    if (bit >>> 0 !== bit || bit >= this.capacity) this.#badBit(bit);
  }

  #badBit(bit: number): never {
    throw new BitmapError(
      "INVALID_ARGUMENT",
      `bit ${bit} is out of range (0-${this.capacity - 1})`,
      {
        details: { bit, capacity: this.capacity },
      },
    );
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
