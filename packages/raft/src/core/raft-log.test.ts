import { describe, expect, it } from "vitest";
import { entriesWithTerms } from "../../test/harness.js";
import { MemoryLog } from "../testing/memory-log.js";
import { RaftLog } from "./raft-log.js";

function logWith(terms: number[], committed = 0): RaftLog {
  const s = new MemoryLog();
  s.append(entriesWithTerms(terms));
  return new RaftLog(s, committed, 0);
}

describe("RaftLog", () => {
  it("accepts an append only when it matches at (prevIndex, prevTerm) (§5.3 consistency check)", () => {
    const log = logWith([1, 1, 2]);
    expect(log.maybeAppend(3, 1, 0, [])).toBeUndefined();
    expect(log.maybeAppend(4, 2, 0, [])).toBeUndefined();
    expect(log.maybeAppend(3, 2, 0, entriesWithTerms([3], 4))).toEqual({ lastNew: 4, conflict: 4 });
    expect(log.lastIndex()).toBe(4);
  });

  it("deletes a conflicting suffix and keeps matching entries (Figure 2, step 3)", () => {
    const log = logWith([1, 1, 2, 2, 2]);
    const r = log.maybeAppend(1, 1, 0, entriesWithTerms([1, 3], 2));
    expect(r).toEqual({ lastNew: 3, conflict: 3 });
    expect([1, 2, 3].map((i) => log.term(i))).toEqual([1, 1, 3]);
    expect(log.lastIndex()).toBe(3);
    // A stale, shorter append that matches changes nothing.
    expect(log.maybeAppend(1, 1, 0, entriesWithTerms([1], 2))).toEqual({ lastNew: 2, conflict: 0 });
    expect(log.lastIndex()).toBe(3);
  });

  it("refuses to overwrite a committed entry", () => {
    const log = logWith([1, 1, 2], 3);
    expect(() => log.maybeAppend(1, 1, 3, entriesWithTerms([5], 2))).toThrow(
      expect.objectContaining({ code: "CORRUPT" }),
    );
  });

  it("commits min(leaderCommit, last new entry) (Figure 2, step 5)", () => {
    const log = logWith([1]);
    log.maybeAppend(1, 1, 10, entriesWithTerms([1, 1], 2));
    expect(log.committed).toBe(3);
  });

  it("findConflictByTerm skips every entry of a newer term (fast backtracking hint)", () => {
    const log = logWith([1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
    expect(log.findConflictByTerm(10, 3)).toEqual({ index: 3, term: 1 });
    expect(log.findConflictByTerm(10, 5)).toEqual({ index: 7, term: 5 });
    expect(log.findConflictByTerm(20, 9)).toEqual({ index: 10, term: 6 });
    expect(log.findConflictByTerm(2, 0)).toEqual({ index: 0, term: 0 });
  });

  it("isUpToDate compares last term, then length (§5.4.1)", () => {
    const log = logWith([1, 2, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it("slices across storage and the unstable tail, honouring maxBytes but returning ≥ 1 entry", () => {
    const log = logWith([1, 1]);
    log.append(entriesWithTerms([2, 2], 3));
    expect(log.slice(1, 5).map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(log.slice(1, 5, 1).map((e) => e.index)).toEqual([1]);
    expect(log.slice(2, 5, 7).map((e) => e.index)).toEqual([2, 3]);
  });
});
