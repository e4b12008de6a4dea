// The obvious first-fit allocator the issue compares against: scan from bit 0,
// word by word and bit by bit, testing every bit (what the original Go code
// does). Kept deliberately simple; it is the baseline, not a competitor.

export class NaiveBitmap {
  readonly words: Uint32Array;
  constructor(readonly capacity: number) {
    this.words = new Uint32Array(Math.ceil(capacity / 32));
  }

  set(bit: number): void {
    this.words[bit >>> 5] = this.words[bit >>> 5]! | (1 << (bit & 31));
  }

  clear(bit: number): void {
    this.words[bit >>> 5] = this.words[bit >>> 5]! & ~(1 << (bit & 31));
  }

  /** Sets and returns the lowest clear bit, or -1. */
  allocateFirstFree(): number {
    const words = this.words;
    for (let w = 0; w < words.length; w++) {
      const word = words[w]!;
      for (let b = 0; b < 32; b++) {
        const bit = (w << 5) | b;
        if (bit >= this.capacity) return -1;
        if ((word & (1 << b)) === 0) {
          words[w] = word | (1 << b);
          return bit;
        }
      }
    }
    return -1;
  }
}

/** Naive next-fit: bit-by-bit scan from `cursor`, wrapping once; sets and returns the bit or -1. */
export function naiveAllocateNextFree(bitmap: NaiveBitmap, cursor: number): number {
  const words = bitmap.words;
  for (let k = 0; k < bitmap.capacity; k++) {
    let bit = cursor + k;
    if (bit >= bitmap.capacity) bit -= bitmap.capacity;
    const w = bit >>> 5;
    if ((words[w]! & (1 << (bit & 31))) === 0) {
      words[w] = words[w]! | (1 << (bit & 31));
      return bit;
    }
  }
  return -1;
}

/** A stronger linear baseline: skips full words, then finds the bit with Math.clz32. */
export class WordScanBitmap extends NaiveBitmap {
  override allocateFirstFree(): number {
    const words = this.words;
    for (let w = 0; w < words.length; w++) {
      const word = words[w]!;
      if (word === 0xffffffff) continue;
      const inv = ~word;
      const bit = (w << 5) | (31 - Math.clz32(inv & -inv));
      if (bit >= this.capacity) return -1;
      words[w] = word | (inv & -inv);
      return bit;
    }
    return -1;
  }
}
