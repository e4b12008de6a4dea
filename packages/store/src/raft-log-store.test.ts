import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { useTempDir } from "../test/helpers/temp-dir.js";
import { SNAPSHOT_CHUNK_BYTES } from "./raft-log-store.js";
import { openStore, type Store } from "./store.js";

const bytes = (...xs: number[]) => new Uint8Array(xs);
const entry = (index: number, term: number, type?: number) => ({
  index,
  term,
  data: bytes(index & 0xff, term & 0xff),
  ...(type === undefined ? {} : { type }),
});
const memory = (): Store => openStore({ path: ":memory:" });

describe("RaftLogStore", () => {
  const tempDir = useTempDir();

  it("starts empty: firstIndex 1, lastIndex 0, term(0) = 0, no hard state or snapshot", () => {
    const log = memory().raftLog();
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(0);
    expect(log.term(0)).toBe(0);
    expect(log.term(1)).toBeUndefined();
    expect(log.loadHardState()).toBeUndefined();
    expect(log.loadSnapshot()).toBeUndefined();
  });

  it("appends, reads ranges [lo, hi) and answers terms", () => {
    const log = memory().raftLog();
    log.append([entry(1, 1), entry(2, 1, 1), entry(3, 2)]);
    expect(log.lastIndex()).toBe(3);
    expect(log.entries(1, 4).map((e) => [e.index, e.term, e.type, [...e.data]])).toEqual([
      [1, 1, 0, [1, 1]],
      [2, 1, 1, [2, 1]],
      [3, 2, 0, [3, 2]],
    ]);
    expect(log.entries(2, 3).map((e) => e.index)).toEqual([2]);
    expect(log.entries(4, 4)).toEqual([]);
    expect(log.term(3)).toBe(2);
    expect(log.term(4)).toBeUndefined();
  });

  it("replaces a conflicting suffix on append", () => {
    const log = memory().raftLog();
    log.append([entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)]);
    log.append([entry(3, 2)]);
    expect(log.lastIndex()).toBe(3);
    expect(log.term(3)).toBe(2);
    expect(log.term(4)).toBeUndefined();
  });

  it("limits entries by maxBytes but returns at least one", () => {
    const log = memory().raftLog();
    log.append([1, 2, 3, 4].map((i) => ({ index: i, term: 1, data: new Uint8Array(10) })));
    expect(log.entries(1, 5, 25).length).toBe(2);
    expect(log.entries(1, 5, 1).length).toBe(1);
    expect(log.entries(1, 5, 0).length).toBe(1);
  });

  it("rejects gaps, non-consecutive batches, decreasing terms and bad fields", () => {
    const log = memory().raftLog();
    log.append([entry(1, 2)]);
    expect(() => log.append([entry(3, 2)])).toThrow(/gap/);
    expect(() => log.append([entry(2, 2), entry(4, 2)])).toThrow(/entries\[1\]\.index/);
    expect(() => log.append([entry(2, 3), entry(3, 2)])).toThrow(/entries\[1\]\.term/);
    expect(() => log.append([entry(2, 1)])).toThrow(/entries\[0\]\.term/);
    expect(() => log.append([{ index: 2, term: 2, data: "x" as unknown as Uint8Array }])).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/data/) }),
    );
    expect(() => log.append([entry(0, 2)])).toThrow(/entries\[0\]\.index/);
    expect(log.lastIndex()).toBe(1);
  });

  it("truncates a suffix and compacts a prefix, remembering the compaction term", () => {
    const log = memory().raftLog();
    log.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 3), entry(5, 3)]);
    log.truncateSuffix(5);
    expect(log.lastIndex()).toBe(4);
    log.truncateSuffix(10);
    expect(log.lastIndex()).toBe(4);
    log.compactPrefix(3);
    expect(log.firstIndex()).toBe(4);
    expect(log.lastIndex()).toBe(4);
    expect(log.term(3)).toBe(2);
    expect(log.term(2)).toBeUndefined();
    expect(() => log.entries(3, 5)).toThrow(expect.objectContaining({ code: "COMPACTED" }));
    expect(() => log.entries(4, 6)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => log.truncateSuffix(3)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
    expect(() => log.compactPrefix(9)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
    log.compactPrefix(2);
    expect(log.firstIndex()).toBe(4);
    log.compactPrefix(4);
    expect(log.firstIndex()).toBe(5);
    expect(log.lastIndex()).toBe(4);
    expect(log.term(4)).toBe(3);
    log.append([entry(5, 4)]);
    expect(log.entries(5, 6).map((e) => e.term)).toEqual([4]);
    expect(() => log.append([entry(4, 4)])).toThrow(/compaction point/);
  });

  it("saves and loads the hard state", () => {
    const log = memory().raftLog();
    log.saveHardState({ term: 3, vote: "n2", commit: 7 });
    expect(log.loadHardState()).toEqual({ term: 3, vote: "n2", commit: 7 });
    log.saveHardState({ term: 4, vote: null, commit: 7 });
    expect(log.loadHardState()).toEqual({ term: 4, vote: null, commit: 7 });
    expect(() => log.saveHardState({ term: -1, vote: null, commit: 0 })).toThrow(/state\.term/);
  });

  it("saves a chunked snapshot atomically and compacts the log up to it", () => {
    const log = memory().raftLog();
    log.append([1, 2, 3, 4, 5, 6].map((i) => entry(i, i < 4 ? 1 : 2)));
    const data = new Uint8Array(SNAPSHOT_CHUNK_BYTES * 2 + 17).map((_, i) => (i * 31) & 0xff);
    log.saveSnapshot({ index: 4, term: 2, config: bytes(9, 9) }, data);
    const snap = log.loadSnapshot();
    expect(snap?.meta.index).toBe(4);
    expect(snap?.meta.term).toBe(2);
    expect([...(snap?.meta.config ?? [])]).toEqual([9, 9]);
    expect(Buffer.from(snap?.data ?? []).equals(Buffer.from(data))).toBe(true);
    expect(log.firstIndex()).toBe(5);
    expect(log.lastIndex()).toBe(6);
    expect(log.term(4)).toBe(2);

    log.saveSnapshot({ index: 10, term: 5, config: bytes() }, bytes());
    expect(log.firstIndex()).toBe(11);
    expect(log.lastIndex()).toBe(10);
    expect(log.term(10)).toBe(5);
    expect(log.loadSnapshot()?.data.byteLength).toBe(0);
    expect(() => log.saveSnapshot({ index: 9, term: 5, config: bytes() }, bytes())).toThrow(
      /older than the stored snapshot/,
    );
  });

  it("refuses a snapshot before the compaction point", () => {
    const log = memory().raftLog();
    log.append([1, 2, 3, 4].map((i) => entry(i, 1)));
    log.compactPrefix(3);
    expect(() => log.saveSnapshot({ index: 2, term: 1, config: bytes() }, bytes(1))).toThrow(
      /compaction point 3/,
    );
    expect(log.loadSnapshot()).toBeUndefined();
    log.saveSnapshot({ index: 3, term: 1, config: bytes() }, bytes(1));
    expect(log.firstIndex()).toBe(4);
    expect(log.lastIndex()).toBe(4);
  });

  it("keeps groups apart", () => {
    const store = memory();
    store.raftLog("a").append([entry(1, 1)]);
    expect(store.raftLog("b").lastIndex()).toBe(0);
    expect(store.raftLog("a")).toBe(store.raftLog("a"));
  });

  it("survives close and reopen", () => {
    const path = join(tempDir(), "raft.db");
    let store = openStore({ path });
    const log = store.raftLog();
    log.append([entry(1, 1), entry(2, 1)]);
    log.saveHardState({ term: 1, vote: "n1", commit: 2 });
    log.saveSnapshot({ index: 1, term: 1, config: bytes(1) }, bytes(4, 2));
    store.close();
    expect(() => log.lastIndex()).toThrow(expect.objectContaining({ code: "CLOSED" }));
    store = openStore({ path });
    const again = store.raftLog();
    expect(again.firstIndex()).toBe(2);
    expect(again.lastIndex()).toBe(2);
    expect(again.loadHardState()).toEqual({ term: 1, vote: "n1", commit: 2 });
    expect([...(again.loadSnapshot()?.data ?? [])]).toEqual([4, 2]);
    store.close();
  });

  it("matches an in-memory model under random append/truncate/compact", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("append" as const),
        back: fc.nat(4),
        n: fc.integer({ min: 1, max: 5 }),
        bump: fc.nat(1),
      }),
      fc.record({ kind: fc.constant("truncate" as const), back: fc.nat(4) }),
      fc.record({ kind: fc.constant("compact" as const), back: fc.nat(6) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const store = memory();
        const log = store.raftLog();
        const model = new Map<number, number>(); // index -> term
        let compacted = 0;
        let compactedTerm = 0;
        const last = () => (model.size === 0 ? compacted : Math.max(...model.keys()));
        const termOf = (i: number) => (i === compacted ? compactedTerm : (model.get(i) ?? 0));
        for (const o of ops) {
          if (o.kind === "append") {
            const from = Math.max(compacted + 1, last() + 1 - o.back);
            const term = termOf(from - 1) + o.bump;
            const batch = Array.from({ length: o.n }, (_, k) => entry(from + k, term));
            log.append(batch);
            for (const i of [...model.keys()]) if (i >= from) model.delete(i);
            for (const e of batch) model.set(e.index, e.term);
          } else if (o.kind === "truncate") {
            const from = Math.max(compacted + 1, last() + 1 - o.back);
            log.truncateSuffix(from);
            for (const i of [...model.keys()]) if (i >= from) model.delete(i);
          } else {
            const upTo = Math.min(last(), compacted + o.back);
            log.compactPrefix(upTo);
            if (upTo > compacted) {
              compactedTerm = model.get(upTo)!;
              compacted = upTo;
              for (const i of [...model.keys()]) if (i <= upTo) model.delete(i);
            }
          }
          expect(log.firstIndex()).toBe(compacted + 1);
          expect(log.lastIndex()).toBe(last());
          expect(log.entries(compacted + 1, last() + 1).map((e) => [e.index, e.term])).toEqual(
            [...model.entries()].sort((a, b) => a[0] - b[0]),
          );
          if (compacted > 0) expect(log.term(compacted)).toBe(compactedTerm);
        }
        store.close();
      }),
      { numRuns: 150 },
    );
  });
});
