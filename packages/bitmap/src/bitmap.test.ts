import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Bitmap, MAX_BITMAP_CAPACITY } from "./bitmap.js";
import { BitmapError } from "./bitmap-error.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof BitmapError) return error.code;
    throw error;
  }
  return undefined;
}

/** Reference: the lowest element of [from, capacity) missing from the set, or -1. */
function modelNextFree(set: Set<number>, capacity: number, from: number): number {
  for (let b = from; b < capacity; b++) if (!set.has(b)) return b;
  return -1;
}

describe("Bitmap basics", () => {
  it("sets, clears, tests and counts bits", () => {
    const b = new Bitmap(100);
    expect(b.count()).toBe(0);
    expect(b.set(5)).toBe(true);
    expect(b.set(5)).toBe(false);
    expect(b.test(5)).toBe(true);
    expect(b.test(6)).toBe(false);
    expect(b.count()).toBe(1);
    expect(b.free()).toBe(99);
    expect(b.clear(5)).toBe(true);
    expect(b.clear(5)).toBe(false);
    expect(b.count()).toBe(0);
  });

  it("rejects bad capacities and out-of-range bits", () => {
    expect(codeOf(() => new Bitmap(0))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => new Bitmap(MAX_BITMAP_CAPACITY + 1))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => new Bitmap(1.5))).toBe("INVALID_ARGUMENT");
    const b = new Bitmap(10);
    expect(codeOf(() => b.set(10))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => b.test(-1))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => b.clear(0.5))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => b.allocateNextFree(11))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => b.setRange(5, 4))).toBe("INVALID_ARGUMENT");
  });

  it("allocates first-fit until full, then returns -1", () => {
    const b = new Bitmap(70);
    for (let i = 0; i < 70; i++) expect(b.allocateFirstFree()).toBe(i);
    expect(b.allocateFirstFree()).toBe(-1);
    expect(b.allocateNextFree(0)).toBe(-1);
    b.clear(33);
    expect(b.allocateFirstFree()).toBe(33);
  });

  it("next-fit does not reuse a just-released bit until it wraps", () => {
    const b = new Bitmap(8);
    let cursor = 0;
    const got: number[] = [];
    for (let i = 0; i < 4; i++) {
      const bit = b.allocateNextFree(cursor);
      got.push(bit);
      cursor = bit + 1;
    }
    b.clear(1);
    for (let i = 0; i < 5; i++) {
      const bit = b.allocateNextFree(cursor);
      got.push(bit);
      cursor = bit + 1;
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 1]);
  });

  it("finds free bits through several summary levels at full capacity", () => {
    const b = new Bitmap(MAX_BITMAP_CAPACITY);
    b.setRange(0, MAX_BITMAP_CAPACITY - 1);
    expect(b.count()).toBe(MAX_BITMAP_CAPACITY);
    expect(b.findFirstFree()).toBe(-1);
    b.clear(12_345_678);
    expect(b.findNextFree(0)).toBe(12_345_678);
    expect(b.findNextFree(12_345_679)).toBe(-1);
    expect(b.allocateNextFree(12_345_679)).toBe(12_345_678);
    b.clear(MAX_BITMAP_CAPACITY - 1);
    expect(b.allocateFirstFree()).toBe(MAX_BITMAP_CAPACITY - 1);
    expect(b.free()).toBe(0);
  });

  it("iterates set bits in ascending order", () => {
    const b = new Bitmap(1000);
    for (const bit of [999, 0, 31, 32, 500]) b.set(bit);
    expect([...b]).toEqual([0, 31, 32, 500, 999]);
    const seen: number[] = [];
    b.forEachSet((bit) => seen.push(bit));
    expect(seen).toEqual([0, 31, 32, 500, 999]);
    expect(b.nextSet(33)).toBe(500);
  });

  it("clones independently", () => {
    const a = new Bitmap(64);
    a.set(3);
    const c = a.clone();
    c.set(4);
    expect(a.test(4)).toBe(false);
    expect(c.test(3)).toBe(true);
    expect(c.count()).toBe(2);
  });
});

describe("Bitmap against a Set model (property)", () => {
  type Op =
    | { kind: "set" | "clear" | "next"; at: number }
    | { kind: "first" }
    | { kind: "setRange" | "clearRange"; at: number; len: number };
  const op = (capacity: number): fc.Arbitrary<Op> => {
    const at = fc.integer({ min: 0, max: capacity - 1 });
    return fc.oneof(
      fc.record({ kind: fc.constantFrom("set" as const, "clear" as const, "next" as const), at }),
      fc.record({ kind: fc.constant("first" as const) }),
      fc.record({
        kind: fc.constantFrom("setRange" as const, "clearRange" as const),
        at,
        len: fc.integer({ min: 1, max: 80 }),
      }),
    );
  };
  const scenario = fc
    .oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1000, max: 40_000 }))
    .chain((capacity) =>
      fc.tuple(fc.constant(capacity), fc.array(op(capacity), { maxLength: 200 })),
    );

  it("any sequence of operations agrees with the model", () => {
    fc.assert(
      fc.property(scenario, ([capacity, ops]) => {
        const b = new Bitmap(capacity);
        const model = new Set<number>();
        for (const o of ops) {
          switch (o.kind) {
            case "set":
              expect(b.set(o.at)).toBe(!model.has(o.at));
              model.add(o.at);
              break;
            case "clear":
              expect(b.clear(o.at)).toBe(model.has(o.at));
              model.delete(o.at);
              break;
            case "first": {
              const want = modelNextFree(model, capacity, 0);
              expect(b.allocateFirstFree()).toBe(want);
              if (want >= 0) model.add(want);
              break;
            }
            case "next": {
              let want = modelNextFree(model, capacity, o.at);
              if (want < 0) want = modelNextFree(model, capacity, 0);
              expect(b.allocateNextFree(o.at)).toBe(want);
              if (want >= 0) model.add(want);
              break;
            }
            case "setRange":
            case "clearRange": {
              const to = Math.min(capacity - 1, o.at + o.len - 1);
              let changed = 0;
              for (let x = o.at; x <= to; x++) {
                if (o.kind === "setRange" ? !model.has(x) : model.has(x)) changed++;
                if (o.kind === "setRange") model.add(x);
                else model.delete(x);
              }
              const got = o.kind === "setRange" ? b.setRange(o.at, to) : b.clearRange(o.at, to);
              expect(got).toBe(changed);
              break;
            }
          }
          expect(b.count()).toBe(model.size);
        }
        expect([...b]).toEqual([...model].sort((x, y) => x - y));
        expect(b.findFirstFree()).toBe(modelNextFree(model, capacity, 0));
      }),
      { numRuns: 200 },
    );
  });

  it("first-fit fills every bit exactly once", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), (capacity) => {
        const b = new Bitmap(capacity);
        const seen = new Set<number>();
        let duplicates = 0;
        for (let bit = b.allocateFirstFree(); bit >= 0; bit = b.allocateFirstFree()) {
          if (seen.has(bit) || bit >= capacity) duplicates++;
          seen.add(bit);
        }
        expect(duplicates).toBe(0);
        expect(seen.size).toBe(capacity);
      }),
      { numRuns: 30 },
    );
  });

  it("serialize -> deserialize is the identity", () => {
    const bits = fc.integer({ min: 1, max: 20_000 }).chain((capacity) =>
      fc.tuple(
        fc.constant(capacity),
        fc.oneof(
          fc.array(fc.integer({ min: 0, max: capacity - 1 }), { maxLength: 300 }),
          fc.integer({ min: 0, max: capacity }).map((n) => Array.from({ length: n }, (_, i) => i)),
        ),
      ),
    );
    fc.assert(
      fc.property(bits, ([capacity, set]) => {
        const b = new Bitmap(capacity);
        for (const x of set) b.set(x);
        const bytes = b.serialize();
        const back = Bitmap.deserialize(bytes);
        expect(back.equals(b)).toBe(true);
        expect(back.count()).toBe(b.count());
        expect([...back]).toEqual([...b]);
        expect(back.findFirstFree()).toBe(b.findFirstFree());
      }),
      { numRuns: 200 },
    );
  });
});

describe("Bitmap first-fit and next-fit over dense words (property)", () => {
  // First-fit answers from a low-water word without walking the summary, and a
  // word filled by an allocation is marked full in the summary only when a
  // later search reaches it. These cases aim at that: dense starts, churn near
  // the start, words that fill and empty again, capacities at word and
  // summary-word boundaries, next-fit cursors on both sides of full words.
  const capacities = fc.oneof(
    fc.constantFrom(1, 2, 31, 32, 33, 63, 64, 65, 1023, 1024, 1025, 2047, 2048, 2049),
    fc.constantFrom(32_767, 32_768, 32_769, 65_536),
    fc.integer({ min: 1, max: 5000 }),
  );
  type DenseOp =
    | { kind: "first" }
    | { kind: "release" | "claim" | "next"; at: number }
    | { kind: "releaseFar" | "nextFar"; at: number };
  const scenario = capacities.chain((capacity) => {
    const window = Math.min(capacity, 96); // the first three words
    // word boundaries: the last and first bits of neighbouring words
    const edges = [31, 32, 63, 64, 95, 1023, 1024, 1025, 32_767, 32_768].filter(
      (b) => b < capacity,
    );
    const inWindow = fc.integer({ min: 0, max: window - 1 });
    const near = edges.length > 0 ? fc.oneof(inWindow, fc.constantFrom(...edges)) : inWindow;
    const op: fc.Arbitrary<DenseOp> = fc.oneof(
      { weight: 5, arbitrary: fc.constant({ kind: "first" as const }) },
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constantFrom("release" as const, "claim" as const, "next" as const),
          at: near,
        }),
      },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.record({
            kind: fc.constant("releaseFar" as const),
            at: fc.integer({ min: 0, max: capacity - 1 }),
          }),
          // a next-fit cursor may equal the capacity (it then wraps)
          fc.record({
            kind: fc.constant("nextFar" as const),
            at: fc.integer({ min: 0, max: capacity }),
          }),
        ),
      },
    );
    return fc.record({
      capacity: fc.constant(capacity),
      // The dense start: bits [0, prefix) set, how they were set, then holes cleared.
      prefix: fc.integer({ min: 0, max: Math.min(capacity, 3000) }),
      fillBy: fc.constantFrom("setRange" as const, "set" as const, "allocate" as const),
      holes: fc.array(fc.oneof(near, fc.integer({ min: 0, max: capacity - 1 })), {
        maxLength: 6,
      }),
      ops: fc.array(op, { maxLength: 120 }),
    });
  });

  it("dense starts, churn near the start and next-fit cursors agree with the model", () => {
    fc.assert(
      fc.property(scenario, ({ capacity, prefix, fillBy, holes, ops }) => {
        const b = new Bitmap(capacity);
        const model = new Set<number>();
        if (prefix > 0 && fillBy === "setRange") b.setRange(0, prefix - 1);
        for (let i = 0; i < prefix; i++) {
          if (fillBy === "set") b.set(i);
          if (fillBy === "allocate") expect(b.allocateFirstFree()).toBe(i);
          model.add(i);
        }
        for (const h of holes) {
          expect(b.clear(h)).toBe(model.has(h));
          model.delete(h);
        }
        for (const o of ops) {
          switch (o.kind) {
            case "first": {
              const want = modelNextFree(model, capacity, 0);
              expect(b.findFirstFree()).toBe(want);
              expect(b.allocateFirstFree()).toBe(want);
              if (want >= 0) model.add(want);
              break;
            }
            case "release":
            case "releaseFar":
              expect(b.clear(o.at)).toBe(model.has(o.at));
              model.delete(o.at);
              break;
            case "claim":
              expect(b.set(o.at)).toBe(!model.has(o.at));
              model.add(o.at);
              break;
            case "next":
            case "nextFar": {
              const from = Math.min(o.at, capacity);
              expect(b.findNextFree(from)).toBe(modelNextFree(model, capacity, from));
              let want = modelNextFree(model, capacity, from);
              if (want < 0 && from > 0) want = modelNextFree(model, capacity, 0);
              expect(b.allocateNextFree(from)).toBe(want);
              if (want >= 0) model.add(want);
              break;
            }
          }
          expect(b.count()).toBe(model.size);
        }
        // Every search position agrees afterwards: searches pass words that
        // allocations filled, and must neither skip a clear bit nor stop on a set one.
        for (let from = 0; from <= Math.min(capacity, 200); from++) {
          expect(b.findNextFree(from)).toBe(modelNextFree(model, capacity, from));
        }
        expect(b.findNextFree(capacity)).toBe(-1);
        expect(b.findFirstFree()).toBe(modelNextFree(model, capacity, 0));
        expect([...b]).toEqual([...model].sort((x, y) => x - y));
        expect(Bitmap.deserialize(b.serialize()).equals(b)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("allocate+release churn at the start keeps handing out the same lowest bit", () => {
    fc.assert(
      fc.property(capacities, fc.integer({ min: 0, max: 3000 }), (capacity, taken) => {
        const b = new Bitmap(capacity);
        const n = Math.min(taken, capacity);
        if (n > 0) b.setRange(0, n - 1);
        const want = n < capacity ? n : -1;
        for (let i = 0; i < 100; i++) {
          const bit = b.allocateFirstFree();
          expect(bit).toBe(want);
          if (bit >= 0) b.clear(bit);
        }
        expect(b.count()).toBe(n);
      }),
      { numRuns: 100 },
    );
  });

  it("next-fit walks forward past words that allocations filled, then wraps", () => {
    fc.assert(
      fc.property(capacities, fc.integer({ min: 1, max: 400 }), (capacity, rounds) => {
        // Next-fit with the cursor kept as IpBlock keeps it; a release behind
        // the cursor is reused only after the cursor wraps.
        const b = new Bitmap(capacity);
        const model = new Set<number>();
        let cursor = 0;
        for (let r = 0; r < rounds; r++) {
          let want = modelNextFree(model, capacity, cursor);
          if (want < 0 && cursor > 0) want = modelNextFree(model, capacity, 0);
          const bit = b.allocateNextFree(cursor);
          expect(bit).toBe(want);
          if (bit < 0) break;
          model.add(bit);
          cursor = bit + 1;
          // release every third allocation, one behind the cursor
          if (r % 3 === 2) {
            b.clear(bit);
            model.delete(bit);
          }
        }
        expect(b.count()).toBe(model.size);
        expect(b.findFirstFree()).toBe(modelNextFree(model, capacity, 0));
      }),
      { numRuns: 100 },
    );
  });
});

describe("Bitmap words filled by allocation", () => {
  it("a search passes words that first-fit filled and finds a later release in one", () => {
    const b = new Bitmap(4096);
    for (let i = 0; i < 100; i++) expect(b.allocateFirstFree()).toBe(i);
    expect(b.findNextFree(0)).toBe(100);
    expect(b.findNextFree(5)).toBe(100);
    b.clear(40);
    expect(b.findFirstFree()).toBe(40);
    expect(b.findNextFree(41)).toBe(100);
    expect(b.allocateNextFree(41)).toBe(100);
    expect(b.allocateFirstFree()).toBe(40);
    expect(b.allocateFirstFree()).toBe(101);
  });

  it("a word that next-fit filled and that a release reopened is found from every cursor", () => {
    const b = new Bitmap(2048);
    b.setRange(0, 2047);
    b.clear(1500);
    b.clear(1000);
    expect(b.allocateNextFree(1001)).toBe(1500); // fills word 46
    expect(b.allocateNextFree(1501)).toBe(1000); // wraps; fills word 31
    expect(b.findFirstFree()).toBe(-1);
    b.clear(1500); // reopens word 46
    expect(b.findFirstFree()).toBe(1500);
    expect(b.findNextFree(0)).toBe(1500);
    expect(b.findNextFree(1024)).toBe(1500);
    expect(b.findNextFree(1501)).toBe(-1);
    expect(b.allocateNextFree(1501)).toBe(1500);
    expect(b.free()).toBe(0);
  });

  it("a bitmap of one word fills, empties and fills again", () => {
    const b = new Bitmap(32);
    for (let i = 0; i < 32; i++) expect(b.allocateNextFree(i)).toBe(i);
    expect(b.allocateFirstFree()).toBe(-1);
    expect(b.allocateNextFree(32)).toBe(-1);
    b.clear(0);
    b.clear(31);
    expect(b.allocateNextFree(1)).toBe(31);
    expect(b.allocateNextFree(32)).toBe(0);
    expect(b.count()).toBe(32);
  });
});

describe("Bitmap serialization", () => {
  it("is compact for mostly empty and mostly full bitmaps", () => {
    const b = new Bitmap(1 << 20);
    expect(b.serialize().length).toBeLessThan(32);
    b.setRange(0, (1 << 20) - 10);
    expect(b.serialize().length).toBeLessThan(32);
  });

  it("falls back to raw words for noisy bitmaps", () => {
    const b = new Bitmap(4096);
    for (let i = 0; i < 4096; i += 2) b.set(i);
    const bytes = b.serialize();
    expect(bytes.length).toBe(20 + 4096 / 8);
    expect(Bitmap.deserialize(bytes).equals(b)).toBe(true);
  });

  it("rejects corrupt input with CORRUPT_DATA", () => {
    const b = new Bitmap(300);
    b.setRange(10, 20);
    const good = b.serialize();
    expect(codeOf(() => Bitmap.deserialize(good.subarray(0, 10)))).toBe("CORRUPT_DATA");
    for (const index of [0, 4, 5, 8, 12, 16, good.length - 1]) {
      const bad = good.slice();
      bad[index] = bad[index]! ^ 0x55;
      expect(codeOf(() => Bitmap.deserialize(bad))).toBe("CORRUPT_DATA");
    }
  });
});
