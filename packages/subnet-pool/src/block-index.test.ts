import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BlockIndex } from "./block-index.js";

describe("BlockIndex", () => {
  it("finds the lowest free block as the first gap", () => {
    const index = new BlockIndex<string>(8n);
    expect(index.firstFree()).toBe(0n);
    for (const i of [0n, 1n, 2n, 4n]) index.lease(i, "n1");
    expect(index.firstFree()).toBe(3n);
    expect(index.firstFree(4n)).toBe(5n);
    expect(index.owner(4n)).toBe("n1");
    expect(index.owner(3n)).toBeUndefined();
  });

  it("reports -1 when every block from there on is leased", () => {
    const index = new BlockIndex<string>(3n);
    for (const i of [0n, 1n, 2n]) index.lease(i, "a");
    expect(index.firstFree()).toBe(-1n);
    expect(index.release(1n)).toBe("a");
    expect(index.firstFree()).toBe(1n);
    expect(index.firstFree(2n)).toBe(-1n);
  });

  it("refuses a second lease of the same block and ignores releasing a free one", () => {
    const index = new BlockIndex<string>(4n);
    expect(index.lease(2n, "a")).toBe(true);
    expect(index.lease(2n, "b")).toBe(false);
    expect(index.owner(2n)).toBe("a");
    expect(index.release(3n)).toBeUndefined();
    expect(index.size).toBe(1);
  });

  it("handles 2^72 blocks with memory proportional to the leases", () => {
    const index = new BlockIndex<number>(2n ** 72n);
    const top = 2n ** 72n - 1n;
    index.lease(top, 1);
    index.lease(0n, 2);
    expect(index.firstFree()).toBe(1n);
    expect(index.firstFree(top)).toBe(-1n);
    expect(index.firstFree(top - 1n)).toBe(top - 1n);
    expect(index.size).toBe(2);
  });

  it("matches a Set model", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 }))),
        fc.integer({ min: 0, max: 45 }),
        (ops, from) => {
          const index = new BlockIndex<number>(41n);
          const model = new Set<number>();
          for (const [lease, i] of ops) {
            if (lease) expect(index.lease(BigInt(i), i)).toBe(!model.has(i));
            else expect(index.release(BigInt(i)) !== undefined).toBe(model.has(i));
            if (lease) model.add(i);
            else model.delete(i);
          }
          let expected = -1;
          for (let i = from; i < 41; i++) {
            if (!model.has(i)) {
              expected = i;
              break;
            }
          }
          expect(index.firstFree(BigInt(from))).toBe(BigInt(expected));
          const seen: number[] = [];
          index.forEach((i, owner) => {
            expect(Number(i)).toBe(owner);
            seen.push(owner);
          });
          expect(seen).toEqual([...model].sort((a, b) => a - b));
        },
      ),
    );
  });
});
