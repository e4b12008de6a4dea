import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entriesWithTerms } from "../../test/harness.js";
import type { Entry } from "../types.js";
import { MemoryLog } from "./memory-log.js";

describe("MemoryLog (Storage contract)", () => {
  it("behaves like an array of entries under appends that truncate a suffix", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            back: fc.nat(5),
            terms: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
          }),
          {
            maxLength: 20,
          },
        ),
        (ops) => {
          const log = new MemoryLog();
          let model: Entry[] = [];
          for (const { back, terms } of ops) {
            const from = Math.max(1, model.length + 1 - back);
            const ents = entriesWithTerms(terms, from);
            log.append(ents);
            model = model.slice(0, from - 1).concat(ents);
          }
          expect(log.lastIndex()).toBe(model.length);
          expect(log.entries(1, model.length + 1)).toEqual(model);
          for (const e of model) expect(log.term(e.index)).toBe(e.term);
        },
      ),
    );
  });

  it("keeps the log after a matching snapshot, discards it after a conflicting one", () => {
    const conf = { voters: ["a"], learners: [] };
    const log = new MemoryLog();
    log.append(entriesWithTerms([1, 1, 2, 2]));
    log.applySnapshot({ meta: { index: 3, term: 2, conf }, data: new Uint8Array() });
    expect([log.firstIndex(), log.lastIndex()]).toEqual([1, 4]);
    log.compact(2);
    expect(log.firstIndex()).toBe(3);
    expect(() => log.entries(2, 4)).toThrow(expect.objectContaining({ code: "COMPACTED" }));
    expect(() => log.compact(4)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    log.applySnapshot({ meta: { index: 10, term: 5, conf }, data: new Uint8Array() });
    expect([log.firstIndex(), log.lastIndex(), log.term(10), log.term(4)]).toEqual([
      11,
      10,
      5,
      undefined,
    ]);
    expect(log.initialState().confState).toEqual(conf);
    log.applySnapshot({ meta: { index: 8, term: 5, conf }, data: new Uint8Array() }); // older: ignored
    expect(log.snapshot()?.meta.index).toBe(10);
  });

  it("refuses an append that would leave a gap", () => {
    const log = new MemoryLog();
    expect(() => log.append(entriesWithTerms([1], 3))).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });
});
