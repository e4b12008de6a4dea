import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OffsetRows } from "./offset-rows.js";

describe("OffsetRows", () => {
  it("holds what a Map model holds, and visits it in ascending offset order", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.boolean(),
            // Offsets across pages (1,024 each), up to a /8's last address.
            fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(2 ** 24 - 1)),
            fc.integer({ min: 0, max: 2 ** 30 }),
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const rows = new OffsetRows();
          const model = new Map<number, number>();
          for (const [set, offset, row] of ops) {
            if (set) {
              rows.set(offset, row);
              model.set(offset, row);
            } else {
              rows.delete(offset);
              model.delete(offset);
            }
            expect(rows.size).toBe(model.size);
            expect(rows.get(offset)).toBe(model.get(offset) ?? -1);
          }
          const seen: [number, number][] = [];
          rows.forEach((offset, row) => {
            seen.push([offset, row]);
          });
          expect(seen).toEqual([...model].sort((a, b) => a[0] - b[0]));
          expect(rows.has(4999)).toBe(model.has(4999));
        },
      ),
      { numRuns: 200 },
    );
  });
});
