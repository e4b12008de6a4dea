import { describe, expect, it } from "vitest";
import { decodeConfChangeEntry } from "../src/core/conf-change.js";
import { RaftError } from "../src/core/raft-error.js";
import type { AppendMessage, SnapshotMessage } from "../src/types.js";
import { isolate, TestCluster } from "./harness.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function expectRaftError(fn: () => unknown, code: string): RaftError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RaftError);
    expect((error as RaftError).code).toBe(code);
    return error as RaftError;
  }
  throw new Error(`expected RaftError ${code}`);
}

describe("PreVote (dissertation §9.6)", () => {
  it("a partitioned node does not inflate its term, so rejoining does not depose the leader", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    const term = c.node("a").raw.status().term;
    c.filter = isolate("c");
    c.tickAll(100);
    expect(c.node("c").raw.status().term).toBe(term);
    c.filter = () => true;
    c.tickAll(5);
    expect(c.leaders()).toEqual(["a"]);
    expect(c.node("a").raw.status().term).toBe(term);
  });

  it("without PreVote the same partition makes the rejoining node disrupt the cluster", () => {
    const c = new TestCluster(["a", "b", "c"], { preVote: false, checkQuorum: false });
    c.elect("a");
    const term = c.node("a").raw.status().term;
    c.filter = isolate("c");
    c.tickAll(100);
    expect(c.node("c").raw.status().term).toBeGreaterThan(term + 3);
    c.filter = () => true;
    c.tickAll(30);
    expect(c.node("a").raw.status().term).toBeGreaterThan(term);
  });
});

describe("CheckQuorum (dissertation §6.2)", () => {
  it("a leader that cannot reach a quorum steps down within an election timeout", () => {
    const c = new TestCluster(["a", "b", "c"], { electionTicks: 10 });
    c.elect("a");
    c.filter = isolate("a");
    c.tick("a", 21);
    expect(c.node("a").raw.status().role).toBe("follower");
  });

  it("followers that hear from a live leader ignore a disruptive candidate (leader lease)", () => {
    const c = new TestCluster(["a", "b", "c"], { preVote: false });
    c.elect("a");
    const term = c.node("a").raw.status().term;
    c.node("b").raw.step({
      type: "vote",
      from: "c",
      to: "b",
      term: term + 5,
      lastIndex: 100,
      lastTerm: term + 4,
      transfer: false,
    });
    c.drive("b");
    expect(c.node("b").raw.status().term).toBe(term);
  });
});

describe("leader behaviour", () => {
  it("appends a no-op at the start of its term (§8)", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    const last = c.node("a").storage.entries(1, 2)[0];
    expect(last?.type).toBe("noop");
    expect(last?.term).toBe(c.node("a").raw.status().term);
  });

  it("batches proposals made between two ready() calls into one append per follower", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    const before = c.sent.length;
    for (let i = 0; i < 10; i++) c.node("a").raw.propose(enc(`p${i}`));
    c.drive("a");
    const appends = c.sent.slice(before).filter((m) => m.type === "append") as AppendMessage[];
    expect(appends.map((m) => m.to).sort()).toEqual(["b", "c"]);
    for (const m of appends) expect(m.entries).toHaveLength(10);
  });

  it("pipelines at most maxInflightAppends unacknowledged appends per follower", () => {
    const c = new TestCluster(["a", "b", "c"], { maxInflightAppends: 3, maxAppendBytes: 1 });
    c.elect("a");
    const before = c.sent.length;
    for (let i = 0; i < 10; i++) c.node("a").raw.propose(enc(`p${i}`));
    c.drive("a"); // nothing delivered yet
    const toB = c.sent.slice(before).filter((m) => m.type === "append" && m.to === "b");
    expect(toB).toHaveLength(3);
    c.deliverAll();
    expect(c.node("b").raw.status().commit).toBe(11);
    expect(c.node("a").raw.status().progress.b).toMatchObject({ state: "replicate", match: 11 });
  });

  it("rejects proposals on followers with NOT_LEADER naming the leader and its address", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.node("a").raw.proposeConfChange({ type: "add-learner", node: "d", address: "10.0.0.4:7400" });
    c.deliverAll();
    c.node("a").raw.propose(enc("x"));
    c.deliverAll();
    const err = expectRaftError(() => c.node("b").raw.propose(enc("x")), "NOT_LEADER");
    expect(err.details).toMatchObject({ leader: "a" });
  });
});

describe("snapshots and InstallSnapshot (§7)", () => {
  it("a follower behind the leader's compaction point receives the snapshot in chunks", () => {
    const c = new TestCluster(["a", "b", "c"], { snapshotChunkBytes: 4 });
    c.elect("a");
    c.filter = isolate("c");
    for (let i = 0; i < 5; i++) c.node("a").raw.propose(enc(`v${i}`));
    c.deliverAll();
    const a = c.node("a");
    const applied = a.raw.status().applied;
    expect(applied).toBe(6);
    a.storage.applySnapshot({
      meta: { index: applied, term: a.raw.status().term, conf: a.raw.status().conf },
      data: enc("state-at-6"), // 10 bytes: 3 chunks of at most 4 bytes
    });
    a.storage.compact(applied);
    c.filter = () => true;
    c.tickAll(10);
    const chunks = c.sent.filter((m) => m.type === "snapshot" && m.to === "c") as SnapshotMessage[];
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(chunks.every((m) => m.data.length <= 4)).toBe(true);
    const cs = c.node("c").storage;
    expect(cs.snapshot()?.meta.index).toBe(6);
    expect(dec(cs.snapshot()?.data ?? new Uint8Array())).toBe("state-at-6");
    a.raw.propose(enc("after"));
    c.deliverAll();
    expect(c.node("c").applied.map((e) => dec(e.data))).toContain("after");
    expect(c.node("c").raw.status().commit).toBe(7);
  });
});

describe("membership changes, one server at a time (dissertation §4.1)", () => {
  it("adds a learner that replicates without voting, then promotes it", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.addBlankNode("d");
    c.node("a").raw.proposeConfChange({ type: "add-learner", node: "d" });
    c.deliverAll();
    c.node("a").raw.propose(enc("x"));
    c.deliverAll();
    expect(c.node("d").raw.status().conf).toEqual({ voters: ["a", "b", "c"], learners: ["d"] });
    expect(c.node("d").applied.map((e) => e.type)).toContain("normal");
    // A learner never campaigns.
    c.tick("d", 100);
    expect(c.node("d").raw.status().role).toBe("follower");
    c.node("a").raw.proposeConfChange({ type: "promote", node: "d" });
    c.deliverAll();
    expect(c.node("a").raw.status().conf.voters).toEqual(["a", "b", "c", "d"]);
    // With 4 voters a quorum is 3: with b and c down, nothing commits.
    c.filter = (m) => !["b", "c"].includes(m.to) && !["b", "c"].includes(m.from);
    const commit = c.node("a").raw.status().commit;
    c.node("a").raw.propose(enc("y"));
    c.deliverAll();
    expect(c.node("a").raw.status().commit).toBe(commit);
  });

  it("promotes a learner only once it has caught up (dissertation §4.2.1)", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.addBlankNode("d");
    c.filter = (m) => m.to !== "d"; // d never hears from the leader
    c.node("a").raw.proposeConfChange({ type: "add-learner", node: "d" });
    c.deliverAll();
    expectRaftError(
      () => c.node("a").raw.proposeConfChange({ type: "promote", node: "d" }),
      "CONFLICT",
    );
    c.filter = () => true;
    c.tickAll(5);
    c.node("a").raw.proposeConfChange({ type: "promote", node: "d" });
    c.deliverAll();
    expect(c.node("d").raw.status().conf.voters).toContain("d");
  });

  it("refuses a second change while one is uncommitted, and nonsensical changes", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.filter = () => false;
    c.node("a").raw.proposeConfChange({ type: "add-learner", node: "d" });
    expectRaftError(
      () => c.node("a").raw.proposeConfChange({ type: "remove", node: "b" }),
      "CONFLICT",
    );
    c.filter = () => true;
    c.deliverAll();
    expectRaftError(
      () => c.node("a").raw.proposeConfChange({ type: "promote", node: "b" }),
      "INVALID_ARGUMENT",
    );
    expectRaftError(
      () => c.node("a").raw.proposeConfChange({ type: "remove", node: "zz" }),
      "INVALID_ARGUMENT",
    );
    expectRaftError(
      () => c.node("a").raw.proposeConfChange({ type: "add-voter", node: "b" }),
      "INVALID_ARGUMENT",
    );
  });

  it("a removed leader steps down once its removal is committed; the rest elect a leader", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    const ticket = c.node("a").raw.proposeConfChange({ type: "remove", node: "a" });
    c.deliverAll();
    expect(c.node("a").raw.status().role).toBe("follower");
    expect(c.node("a").raw.status().conf.voters).toEqual(["b", "c"]);
    c.filter = isolate("a");
    c.tickAll(40);
    const [leader] = c.leaders();
    expect(leader === "b" || leader === "c").toBe(true);
    c.node(leader as string).raw.propose(enc("after"));
    c.deliverAll();
    const entry = c.node("b").applied.find((e) => e.index === ticket.index);
    expect(entry && decodeConfChangeEntry(entry.data).conf.voters).toEqual(["b", "c"]);
  });

  it("a config entry that is truncated away is rolled back on the follower", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.filter = (m) => m.to !== "c" && !(m.type === "append-response" && m.from === "b");
    c.node("a").raw.proposeConfChange({ type: "add-learner", node: "d" });
    c.deliverAll();
    expect(c.node("b").raw.status().conf.learners).toEqual(["d"]); // applied on append
    c.filter = isolate("a");
    c.tickAll(40);
    const [leader] = c.leaders().filter((id) => id !== "a");
    expect(leader).toBeDefined();
    c.node(leader as string).raw.propose(enc("z"));
    c.deliverAll();
    // Depending on who won, the entry was either kept (b) or overwritten (c won and b follows).
    const bConf = c.node("b").raw.status().conf;
    const cConf = c.node("c").raw.status().conf;
    expect(bConf).toEqual(cConf);
  });
});

describe("leadership transfer (dissertation §3.10)", () => {
  it("hands leadership to a caught-up voter with TimeoutNow and drops proposals meanwhile", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    const term = c.node("a").raw.status().term;
    c.filter = () => false;
    c.node("a").raw.propose(enc("x")); // b is now behind, so the transfer waits for it
    c.drive("a");
    c.node("a").raw.transferLeadership("b");
    expectRaftError(() => c.node("a").raw.propose(enc("y")), "PROPOSAL_DROPPED");
    c.filter = () => true;
    c.tickAll(2);
    expect(c.leaders()).toEqual(["b"]);
    expect(c.node("b").raw.status().term).toBe(term + 1);
  });

  it("is abandoned after an election timeout if the target never catches up", () => {
    const c = new TestCluster(["a", "b", "c"], { electionTicks: 10 });
    c.elect("a");
    c.filter = (m) => m.to !== "b" && m.from !== "b";
    c.node("a").raw.transferLeadership("b");
    expect(c.node("a").raw.status().leadTransferee).toBe("b");
    c.tickAll(11);
    expect(c.node("a").raw.status().leadTransferee).toBeNull();
    expect(() => c.node("a").raw.propose(enc("ok"))).not.toThrow();
  });
});

describe("ReadIndex (dissertation §6.4)", () => {
  it("the leader confirms its leadership with a heartbeat quorum before answering", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.node("a").raw.propose(enc("x"));
    c.deliverAll();
    c.node("a").raw.readIndex(enc("r1"));
    c.drive("a");
    expect(c.node("a").readStates).toHaveLength(0);
    c.deliverAll();
    expect(c.node("a").readStates).toEqual([{ index: 2, context: enc("r1") }]); // noop + x
  });

  it("a follower's read is forwarded to the leader and answered with the leader's commit", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.node("a").raw.propose(enc("x"));
    c.deliverAll();
    c.node("c").raw.readIndex(enc("r2"));
    c.deliverAll();
    expect(c.node("c").readStates).toEqual([{ index: 2, context: enc("r2") }]);
  });

  it("a leader cut off from the quorum never answers (no stale reads)", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.filter = isolate("a");
    c.node("a").raw.readIndex(enc("r3"));
    c.tickAll(5);
    expect(c.node("a").readStates).toHaveLength(0);
  });

  it("throws NOT_LEADER when no leader is known", () => {
    const c = new TestCluster(["a", "b", "c"]);
    expectRaftError(() => c.node("a").raw.readIndex(enc("r")), "NOT_LEADER");
  });
});

describe("restart", () => {
  it("re-delivers committed entries after a restart and keeps term and log", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.node("a").raw.propose(enc("x"));
    c.deliverAll();
    const term = c.node("b").raw.status().term;
    const b = c.restart("b", { voters: ["a", "b", "c"], learners: [] });
    c.drive("b");
    expect(b.raw.status().term).toBe(term);
    expect(b.applied.map((e) => e.type)).toEqual(["noop", "normal"]);
  });

  it("validates options and names the bad field", () => {
    const err = expectRaftError(
      () => new TestCluster(["a"], { electionTicks: 2, heartbeatTicks: 2 }),
      "INVALID_ARGUMENT",
    );
    expect(err.message).toContain("options.electionTicks");
    const err2 = expectRaftError(
      () => new TestCluster(["a"], { maxInflightAppends: 0 }),
      "INVALID_ARGUMENT",
    );
    expect(err2.message).toContain("options.maxInflightAppends");
  });
});

describe("operator signals in status()", () => {
  it("a follower whose log went backwards (an old copy of its storage) never catches up, and leaderCommit shows it", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    c.node("a").raw.propose(enc("x"));
    c.deliverAll();
    const backup = c.node("b").storage.clone();
    for (const v of ["y", "z", "w"]) c.node("a").raw.propose(enc(v));
    c.deliverAll();
    const commit = c.node("a").raw.status().commit;
    expect(c.node("b").raw.status()).toMatchObject({ commit, leaderCommit: commit });
    // "Restore" b from the copy: the leader believes b holds everything up to its match index.
    c.nodes.set("b", {
      id: "b",
      storage: backup,
      raw: c.newRaw("b", backup, { voters: ["a", "b", "c"], learners: [] }),
      applied: [],
      readStates: [],
    });
    c.tickAll(30);
    const st = c.node("b").raw.status();
    expect(st.lastIndex).toBeLessThan(commit);
    expect(st.leaderCommit).toBe(commit);
    expect(st.commit).toBeLessThan(st.leaderCommit);
  });

  it("confIndex names the config entry the configuration comes from (0: the bootstrap one)", () => {
    const c = new TestCluster(["a", "b", "c"]);
    c.elect("a");
    expect(c.node("b").raw.status().confIndex).toBe(0); // bootstrap
    const ticket = c.node("a").raw.proposeConfChange({ type: "add-learner", node: "d" });
    c.deliverAll();
    expect(c.node("b").raw.status()).toMatchObject({ confIndex: ticket.index });
    expect(c.node("a").raw.status()).toMatchObject({ confIndex: ticket.index });
  });
});
