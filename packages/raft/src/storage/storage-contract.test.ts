import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "@ipam/store";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { RaftError } from "../core/raft-error.js";
import type { Entry, Snapshot, Storage } from "../types.js";
import { MemoryStorage } from "./memory-storage.js";
import { createSqliteStorage } from "./sqlite-storage.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const d = mkdtempSync(join(tmpdir(), "raft-storage-"));
  dirs.push(d);
  return join(d, "raft.db");
}

function ent(index: number, term: number, type: Entry["type"] = "normal"): Entry {
  return { index, term, type, data: new Uint8Array([index & 0xff, term & 0xff, 7]) };
}

function snap(index: number, term: number, data = [1, 2, 3]): Snapshot {
  return {
    meta: { index, term, conf: { voters: ["a", "b"], learners: ["c"], addresses: { a: "x:1" } } },
    data: new Uint8Array(data),
  };
}

/** The observable state of a Storage, for comparing two implementations. */
function view(s: Storage): unknown {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const terms: (number | undefined)[] = [];
  for (let i = Math.max(0, first - 2); i <= last + 1; i++) terms.push(s.term(i));
  return {
    first,
    last,
    terms,
    entries: last >= first ? s.entries(first, last + 1).map((e) => [e.index, e.term, e.type]) : [],
    snapshot: s.snapshot()?.meta,
    hard: s.initialState().hardState,
    conf: s.initialState().confState,
  };
}

type Op =
  | { kind: "append"; back: number; terms: number[] }
  | { kind: "hard"; term: number; vote: string | null; commit: number }
  | { kind: "local-snapshot"; back: number }
  | { kind: "leader-snapshot"; ahead: number; termBump: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("append" as const),
    back: fc.nat(4),
    terms: fc.array(fc.nat(2), { minLength: 1, maxLength: 5 }),
  }),
  fc.record({
    kind: fc.constant("hard" as const),
    term: fc.nat(9),
    vote: fc.constantFrom(null, "a", "b"),
    commit: fc.nat(30),
  }),
  fc.record({ kind: fc.constant("local-snapshot" as const), back: fc.nat(3) }),
  fc.record({
    kind: fc.constant("leader-snapshot" as const),
    ahead: fc.nat(4),
    termBump: fc.nat(1),
  }),
);

/** Apply `op` to both storages, deriving valid arguments from the model's state. */
function run(op: Op, model: MemoryStorage, real: Storage): void {
  const last = model.lastIndex();
  const first = model.firstIndex();
  switch (op.kind) {
    case "append": {
      const start = Math.max(first, last + 1 - op.back);
      let term = model.term(start - 1) ?? 0;
      const entries = op.terms.map((bump, i) => {
        term += bump;
        return ent(start + i, Math.max(term, 1));
      });
      model.append(entries);
      real.append(entries);
      break;
    }
    case "hard": {
      const hs = { term: op.term, vote: op.vote, commit: Math.min(op.commit, last) };
      model.setHardState(hs);
      real.setHardState(hs);
      break;
    }
    case "local-snapshot": {
      const index = last - op.back;
      const term = model.term(index);
      const current = model.snapshot()?.meta.index ?? 0;
      if (index < first || term === undefined || index <= current) return;
      model.applySnapshot(snap(index, term));
      model.compact(index);
      real.applySnapshot(snap(index, term));
      real.compact(index);
      break;
    }
    case "leader-snapshot": {
      const index = last + op.ahead;
      const term = (model.term(Math.min(index, last)) ?? 0) + op.termBump;
      if (index <= (model.snapshot()?.meta.index ?? 0)) return;
      model.applySnapshot(snap(index, term));
      if (model.firstIndex() <= index) model.compact(index);
      real.applySnapshot(snap(index, term));
      if (real.firstIndex() <= index) real.compact(index);
      break;
    }
  }
}

describe("Storage contract: SqliteStorage behaves like MemoryStorage, and survives reopen", () => {
  it("matches the in-memory model after every operation and after reopening (property)", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
        const store: Store = openStore({ path: ":memory:" });
        try {
          const model = new MemoryStorage();
          const real = createSqliteStorage(store.raftLog("g"), { commitDurability: "sync" });
          for (const op of ops) {
            run(op, model, real);
            expect(view(real)).toEqual(view(model));
          }
          expect(view(createSqliteStorage(store.raftLog("g")))).toEqual(view(model));
        } finally {
          store.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  it("keeps entries, hard state and snapshot across a file reopen", () => {
    const path = tempPath();
    let store = openStore({ path });
    const s = createSqliteStorage(store.raftLog());
    s.append([ent(1, 1), ent(2, 1, "config"), ent(3, 2, "noop")]);
    s.setHardState({ term: 2, vote: "b", commit: 2 });
    s.applySnapshot(snap(2, 1));
    store.close();
    store = openStore({ path });
    const again = createSqliteStorage(store.raftLog());
    expect(again.initialState().hardState).toEqual({ term: 2, vote: "b", commit: 2 });
    expect(again.snapshot()?.meta).toEqual(snap(2, 1).meta);
    expect([...(again.snapshot()?.data ?? [])]).toEqual([1, 2, 3]);
    expect(again.firstIndex()).toBe(3);
    expect(again.entries(3, 4)[0]).toMatchObject({ index: 3, term: 2, type: "noop" });
    expect(again.term(2)).toBe(1);
    store.close();
  });

  it("lazy commit: term and vote are durable at once, the commit index after flush()", () => {
    const path = tempPath();
    let store = openStore({ path });
    const s = createSqliteStorage(store.raftLog());
    s.append([ent(1, 1), ent(2, 1)]);
    s.setHardState({ term: 1, vote: "a", commit: 0 });
    s.setHardState({ term: 1, vote: "a", commit: 2 });
    expect(store.raftLog().loadHardState()).toEqual({ term: 1, vote: "a", commit: 0 });
    s.flush();
    expect(store.raftLog().loadHardState()).toEqual({ term: 1, vote: "a", commit: 2 });
    s.setHardState({ term: 3, vote: null, commit: 2 });
    store.close();
    store = openStore({ path });
    expect(createSqliteStorage(store.raftLog()).initialState().hardState).toEqual({
      term: 3,
      vote: null,
      commit: 2,
    });
    store.close();
  });

  it("rejects a gap with INVALID_ARGUMENT and changes nothing", () => {
    const store = openStore({ path: ":memory:" });
    const s = createSqliteStorage(store.raftLog());
    s.append([ent(1, 1)]);
    expect(() => s.append([ent(3, 1)])).toThrow(RaftError);
    try {
      s.append([ent(3, 1)]);
    } catch (err) {
      expect((err as RaftError).code).toBe("INVALID_ARGUMENT");
    }
    expect(s.lastIndex()).toBe(1);
    expect(createSqliteStorage(store.raftLog()).lastIndex()).toBe(1);
    expect(() => s.compact(1)).toThrow(/beyond the snapshot/);
    store.close();
  });

  it("MemoryStorage answers the Storage read contract at the edges", () => {
    const m = new MemoryStorage();
    expect(m.term(0)).toBe(0);
    expect(m.firstIndex()).toBe(1);
    expect(m.lastIndex()).toBe(0);
    m.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
    expect(m.entries(1, 4, 1)).toHaveLength(1);
    expect(() => m.entries(1, 5)).toThrow(expect.objectContaining({ code: "UNAVAILABLE" }));
    m.applySnapshot(snap(2, 1));
    m.compact(2);
    expect(() => m.entries(1, 2)).toThrow(expect.objectContaining({ code: "COMPACTED" }));
    expect(m.term(2)).toBe(1);
    expect(m.term(1)).toBeUndefined();
  });
});
