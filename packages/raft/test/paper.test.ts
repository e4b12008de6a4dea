import { describe, expect, it } from "vitest";
import type { Message } from "../src/types.js";
import { entriesWithTerms, isolate, TestCluster } from "./harness.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("§5.2 leader election", () => {
  it("elects exactly one leader from randomized timeouts (Election Safety)", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.tickAll(40);
    const leaders = c.leaders();
    expect(leaders).toHaveLength(1);
    const term = c.node(leaders[0] as string).raw.status().term;
    for (const n of c.nodes.values()) {
      expect(n.raw.status().term).toBe(term);
      expect(n.raw.status().leader).toBe(leaders[0]);
    }
  });

  it("grants at most one vote per term, and persists it before answering", () => {
    const c = new TestCluster(["a", "b", "c"], { preVote: false });
    const b = c.node("b");
    const vote = (from: string): Message => ({
      type: "vote",
      from,
      to: "b",
      term: 1,
      lastIndex: 0,
      lastTerm: 0,
      transfer: false,
    });
    b.raw.step(vote("a"));
    const rd = b.raw.ready();
    expect(rd.hardState).toMatchObject({ term: 1, vote: "a" });
    expect(rd.messages).toEqual([
      { type: "vote-response", from: "b", to: "a", term: 1, reject: false },
    ]);
    b.raw.advance();
    b.raw.step(vote("c"));
    const rd2 = b.raw.ready();
    expect(rd2.messages).toEqual([
      { type: "vote-response", from: "b", to: "c", term: 1, reject: true },
    ]);
    b.raw.advance();
  });

  it("the vote survives a restart (voted-for is durable)", () => {
    const c = new TestCluster(["a", "b", "c"], { preVote: false });
    c.node("b").raw.step({
      type: "vote",
      from: "a",
      to: "b",
      term: 3,
      lastIndex: 0,
      lastTerm: 0,
      transfer: false,
    });
    c.drive("b");
    const b = c.restart("b", { voters: ["a", "b", "c"], learners: [] });
    expect(b.raw.status()).toMatchObject({ term: 3, vote: "a" });
  });
});

describe("§5.4.1 election restriction", () => {
  it("a candidate whose log is behind cannot win", () => {
    const c = new TestCluster(["a", "b", "c"], {}, (id, s) => {
      s.setHardState({ term: 2, vote: null, commit: 0 });
      s.append(entriesWithTerms(id === "a" ? [1] : [1, 2]));
    });
    c.elect("a");
    expect(c.node("a").raw.status().role).not.toBe("leader");
    c.elect("b");
    expect(c.leaders()).toEqual(["b"]);
  });
});

describe("§5.3 log replication, Figure 7", () => {
  // Figure 7: the leader of term 8 and six followers (a-f) in various states.
  const logs: Record<string, number[]> = {
    leader: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6],
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };

  function figure7(): TestCluster {
    return new TestCluster(Object.keys(logs), { preVote: false }, (id, s) => {
      s.setHardState({ term: 7, vote: null, commit: 0 });
      s.append(entriesWithTerms(logs[id] ?? []));
    });
  }

  it("the leader makes every follower's log identical to its own (Log Matching)", () => {
    const c = figure7();
    c.elect("leader");
    expect(c.leaders()).toEqual(["leader"]);
    c.node("leader").raw.propose(enc("x"));
    c.deliverAll();
    const expected = [...(logs.leader ?? []), 8, 8];
    for (const id of c.nodes.keys()) expect(c.logTerms(id), id).toEqual(expected);
    // Everything of term 8 is committed, and with it every earlier entry (§5.4.2).
    expect(c.node("leader").raw.status().commit).toBe(12);
  });

  it("fast backtracking skips whole terms: follower f needs few rejections", () => {
    const c = figure7();
    c.elect("leader");
    c.deliverAll();
    const rejections = c.sent.filter(
      (m) => m.type === "append-response" && m.reject && m.from === "f",
    ).length;
    // Without hints nextIndex would step back one entry at a time (8 rejections for f).
    expect(rejections).toBeLessThanOrEqual(2);
    expect(c.logTerms("f")).toEqual([...(logs.leader ?? []), 8]);
  });

  it("a follower never truncates committed entries on a stale append (§5.3)", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    for (let i = 0; i < 3; i++) c.node("a").raw.propose(enc(`x${i}`));
    c.deliverAll();
    const stale = c.sent.find(
      (m) => m.type === "append" && m.to === "b" && m.entries.length > 0,
    ) as Message;
    const before = c.logTerms("b");
    c.node("b").raw.step(stale);
    c.drive("b");
    expect(c.logTerms("b")).toEqual(before);
  });
});

describe("§5.4.2 committing entries from previous terms, Figure 8", () => {
  // S1..S5 as in Figure 8 (c): S1 leads term 4 with [1,2] where index 2 is of term 2; S5 holds
  // [1,3]. S1 must NOT commit index 2 just because a majority stores it.
  function figure8(): TestCluster {
    const terms: Record<string, number[]> = {
      s1: [1, 2],
      s2: [1, 2],
      s3: [1],
      s4: [1],
      s5: [1, 3],
    };
    return new TestCluster(
      Object.keys(terms),
      { preVote: false, checkQuorum: false, maxAppendBytes: 1, maxInflightAppends: 1 },
      (id, s) => {
        s.setHardState({ term: 3, vote: null, commit: 1 });
        s.append(entriesWithTerms(terms[id] ?? []));
      },
    );
  }

  it("a leader does not commit an old-term entry by counting replicas (Figure 8 c/d)", () => {
    const c = figure8();
    // S1 wins term 4 with S2, S3, S4; its term-4 no-op (index 3) never leaves S1.
    // Appends carrying a term-4 entry are dropped, except probes that the follower will reject.
    c.filter = (m) =>
      !(m.type === "append" && m.entries.some((e) => e.term === 4)) ||
      c.node(m.to).storage.lastIndex() < m.prevIndex;
    c.elect("s1");
    c.tickAll(3);
    expect(c.node("s1").raw.status().role).toBe("leader");
    expect(c.logTerms("s3").slice(0, 2)).toEqual([1, 2]); // index 2 is now on a majority
    expect(c.node("s1").raw.status().commit).toBe(1); // ...but it is not committed
    // S1 crashes; S5 (last term 3) is elected and overwrites index 2 everywhere: legal, since
    // index 2 was never committed, and nobody applied it.
    c.filter = isolate("s1");
    c.elect("s5"); // term 4: everyone already voted for S1
    c.elect("s5"); // term 5: S2, S3, S4 vote for S5 (its last term 3 beats their 2)
    expect(c.leaders()).toContain("s5");
    c.node("s5").raw.propose(enc("y"));
    c.deliverAll();
    for (const id of ["s2", "s3", "s4", "s5"]) expect(c.logTerms(id).slice(0, 2)).toEqual([1, 3]);
    for (const n of c.nodes.values()) {
      expect(n.applied.some((e) => e.index === 2 && e.term === 2)).toBe(false);
    }
  });

  it("once an entry of the leader's term is on a majority, earlier entries commit (Figure 8 e)", () => {
    const c = figure8();
    c.filter = (m) => m.from !== "s5" && m.to !== "s5";
    c.elect("s1");
    c.deliverAll();
    expect(c.node("s1").raw.status().commit).toBe(3);
    // S5 can no longer be elected (§5.4.1): its log is behind the majority's.
    c.filter = isolate("s1");
    c.elect("s5");
    expect(c.node("s5").raw.status().role).not.toBe("leader");
  });
});

describe("§5.4.3 state machine safety across leader crashes", () => {
  it("entries applied at an index are the same on every server", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.node("a").raw.propose(enc("1"));
    c.deliverAll();
    c.filter = isolate("a");
    c.node("a").raw.propose(enc("lost")); // never replicated
    c.drive("a");
    c.tickAll(30);
    const [next] = c.leaders().filter((id) => id !== "a");
    c.node(next as string).raw.propose(enc("2"));
    c.deliverAll();
    c.filter = () => true;
    c.tickAll(5);
    const byIndex = new Map<number, string>();
    for (const n of c.nodes.values()) {
      for (const e of n.applied) {
        const text = new TextDecoder().decode(e.data);
        expect(byIndex.get(e.index) ?? text).toBe(text);
        byIndex.set(e.index, text);
      }
    }
    expect([...byIndex.values()]).not.toContain("lost");
    expect([...byIndex.values()]).toContain("2");
  });
});
