import { describe, expect, it } from "vitest";
import { entriesWithTerms } from "../../test/harness.js";
import { UnstableLog } from "./unstable-log.js";

describe("UnstableLog", () => {
  it("truncates and appends, then drops entries once they are stable", () => {
    const u = new UnstableLog(5);
    u.truncateAndAppend(entriesWithTerms([1, 1, 1], 5));
    u.truncateAndAppend(entriesWithTerms([2], 6)); // replaces 6 and 7
    expect(u.entries.map((e) => [e.index, e.term])).toEqual([
      [5, 1],
      [6, 2],
    ]);
    u.truncateAndAppend(entriesWithTerms([3], 4)); // before the offset: replaces everything
    expect(u.offset).toBe(4);
    expect(u.entries).toHaveLength(1);
    u.stableTo(4, 2); // wrong term: ignored (the entry was replaced meanwhile)
    expect(u.entries).toHaveLength(1);
    u.stableTo(4, 3);
    expect(u.entries).toHaveLength(0);
    expect(u.offset).toBe(5);
  });

  it("holds an incoming snapshot until it is persisted", () => {
    const u = new UnstableLog(3);
    u.restore({
      meta: { index: 9, term: 4, conf: { voters: [], learners: [] } },
      data: new Uint8Array(),
    });
    expect(u.maybeTerm(9)).toBe(4);
    expect(u.maybeFirstIndex()).toBe(10);
    expect(u.maybeLastIndex()).toBe(9);
    u.stableSnapTo(9);
    expect(u.snapshot).toBeUndefined();
  });
});
