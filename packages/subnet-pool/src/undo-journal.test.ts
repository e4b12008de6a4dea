import { describe, expect, it } from "vitest";
import { UndoJournal } from "./undo-journal.js";

describe("UndoJournal", () => {
  it("undoes everything a failed run did, in reverse order, and rethrows", () => {
    const journal = new UndoJournal();
    const map = new Map([["a", 1]]);
    const list = [1, 2, 3];
    const target = { draining: false };
    expect(() =>
      journal.run(() => {
        journal.set(map, "a", 2);
        journal.set(map, "b", 3);
        journal.delete(map, "a");
        journal.insertAt(list, 1, 9);
        journal.removeAt(list, 0);
        journal.assign(target, "draining", true);
        throw new Error("half way");
      }),
    ).toThrow("half way");
    expect([...map]).toEqual([["a", 1]]);
    expect(list).toEqual([1, 2, 3]);
    expect(target.draining).toBe(false);
    expect(journal.recording).toBe(false);
  });

  it("a failed inner run undoes only its own part; the outer run keeps the rest", () => {
    const journal = new UndoJournal();
    const map = new Map<string, number>();
    const value = journal.run(() => {
      journal.set(map, "kept", 1);
      expect(() =>
        journal.run(() => {
          journal.set(map, "dropped", 2);
          throw new Error("inner");
        }),
      ).toThrow("inner");
      expect(journal.recording).toBe(true);
      return "done";
    });
    expect(value).toBe("done");
    expect([...map]).toEqual([["kept", 1]]);
  });

  it("records nothing outside a run (restore builds state without a journal)", () => {
    const journal = new UndoJournal();
    const map = new Map<string, number>();
    journal.set(map, "a", 1);
    journal.record(() => map.clear());
    expect(() =>
      journal.run(() => {
        throw new Error("nothing of before is undone");
      }),
    ).toThrow();
    expect([...map]).toEqual([["a", 1]]);
  });
});
