import { afterEach, describe, expect, it } from "vitest";
import { RaftError } from "../core/raft-error.js";
import { MemoryStorage } from "../storage/memory-storage.js";
import type { KvStateMachine } from "../testing/kv-state-machine.js";
import { DriverCluster, put } from "./test-cluster.js";

let cluster: DriverCluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function rejection(p: Promise<unknown>): Promise<RaftError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RaftError);
    return err as RaftError;
  }
  throw new Error("expected a rejection");
}

function converged(c: DriverCluster): boolean {
  const prints = c.running().map((m) => m.sm.fingerprint());
  return prints.every((p) => p === prints[0]);
}

describe("RaftNode (3 nodes, virtual time, in-memory transport)", () => {
  it("elects one leader that every node agrees on", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    const st = leader.node.status();
    expect(st.role).toBe("leader");
    expect(st.members.voters).toEqual(["a", "b", "c"]);
    expect(Object.keys(st.progress).sort()).toEqual(["a", "b", "c"]);
  });

  it("applies proposals on every node and resolves with the state machine's result", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    await expect(leader.node.propose(put("k", "v1"))).resolves.toBeUndefined();
    await expect(leader.node.propose(put("k", "v2"))).resolves.toBe("v1");
    await cluster!.waitFor(
      () => cluster!.running().every((m) => m.sm.get("k") === "v2"),
      5000,
      "all replicas apply",
    );
    const st = leader.node.status();
    expect(st.applied).toBe(st.commit);
  });

  it("rejects a proposal on a follower with NOT_LEADER naming the leader", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    const follower = cluster.running().find((m) => m.id !== leader.id)!;
    const err = await rejection(follower.node.propose(put("x", "1")));
    expect(err.code).toBe("NOT_LEADER");
    expect(err.details?.leaderId).toBe(leader.id);
  });

  it("persists the proposals of one event-loop turn as one batch", async () => {
    const batches = new Map<string, number[]>();
    cluster = await DriverCluster.create(["a", "b", "c"], {}, {}, (id) => ({
      hooks: { onPersist: (n) => batches.get(id)?.push(n) },
    }));
    const leader = await cluster.leader();
    await leader.node.propose(put("warm", "up"));
    batches.set(leader.id, []);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => leader.node.propose(put(`k${i}`, "v"))),
    );
    expect(results).toHaveLength(100);
    expect(batches.get(leader.id)).toEqual([100]);
  });

  it("rejects with OVERLOADED when too many proposals are pending", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"], { maxPendingProposals: 4 });
    const leader = await cluster.leader();
    const first = Array.from({ length: 4 }, (_, i) => leader.node.propose(put(`p${i}`, "v")));
    const err = await rejection(leader.node.propose(put("p5", "v")));
    expect(err.code).toBe("OVERLOADED");
    await Promise.all(first);
    await expect(leader.node.propose(put("p6", "v"))).resolves.toBeUndefined();
  });

  it("elects a new leader when the leader stops; pending and later calls get SHUTTING_DOWN", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const old = await cluster.leader();
    await old.node.propose(put("before", "1"));
    const inFlight = old.node.propose(put("racing", "1")).catch((e: unknown) => e);
    await old.node.stop();
    const settled = await inFlight;
    if (settled instanceof RaftError) expect(settled.code).toBe("SHUTTING_DOWN");
    expect((await rejection(old.node.propose(put("after", "1")))).code).toBe("SHUTTING_DOWN");
    const next = await cluster.leader();
    expect(next.id).not.toBe(old.id);
    expect(next.node.status().term).toBeGreaterThan(old.node.status().term);
    await next.node.propose(put("after", "2"));
    expect(next.sm.get("before")).toBe("1");
  });

  it("times out a proposal on a leader cut off from its quorum", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"], { proposalTimeoutMs: 300 });
    const leader = await cluster.leader();
    cluster.network.isolate(leader.id);
    const err = await rejection(leader.node.propose(put("lost", "1")));
    expect(err.code).toBe("TIMEOUT");
  });

  it("serves linearizable reads on followers and stale reads anywhere", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    const follower = cluster.running().find((m) => m.id !== leader.id)!;
    await leader.node.propose(put("r", "fresh"));
    // The write is acknowledged: a linearizable read anywhere must see it.
    await expect(follower.node.read(() => follower.sm.get("r"))).resolves.toBe("fresh");
    await expect(leader.node.read(() => leader.sm.get("r"))).resolves.toBe("fresh");
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => follower.node.read(() => follower.sm.get("r"))),
    );
    expect(new Set(reads)).toEqual(new Set(["fresh"]));
    await expect(follower.node.read(() => 42, { stale: true })).resolves.toBe(42);
  });

  it("re-sends a ReadIndex request that was lost in transit", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    const follower = cluster.running().find((m) => m.id !== leader.id)!;
    await leader.node.propose(put("lost-read", "1"));
    cluster.network.cut(follower.id, leader.id, true);
    const read = follower.node.read(() => follower.sm.get("lost-read"));
    await cluster!.waitFor(() => follower.node.status().pendingReads === 1, 1000, "read pending");
    cluster.network.heal();
    await expect(read).resolves.toBe("1");
  });

  it("hands leadership over before stopping when asked", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    await leader.node.stop({ transferLeadership: true });
    // No election timeout was needed: the successor already leads when stop() returns.
    const leaders = cluster.running().filter((m) => m.node.status().role === "leader");
    expect(leaders).toHaveLength(1);
    const next = await cluster.leader(1000);
    expect(next.id).not.toBe(leader.id);
    expect(leader.node.status().state).toBe("stopped");
  });

  it("catches a lagging follower up with a snapshot and compacts the log", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"], {
      snapshotThreshold: 20,
      snapshotTrailingEntries: 0,
    });
    const leader = await cluster.leader();
    const lagger = cluster.running().find((m) => m.id !== leader.id)!;
    cluster.network.isolate(lagger.id);
    for (let i = 0; i < 60; i++) await leader.node.propose(put(`s${i % 7}`, String(i)));
    await cluster!.waitFor(() => leader.node.status().snapshotIndex >= 40, 5000, "leader snapshot");
    expect(leader.storage.firstIndex()).toBeGreaterThan(1);
    cluster.network.heal();
    await cluster!.waitFor(() => converged(cluster!), 10_000, "lagging follower converges");
    expect(lagger.node.status().snapshotIndex).toBeGreaterThan(0);
    expect(lagger.storage.snapshot()).toBeDefined();
    expect(lagger.sm.get("s3")).toBe(leader.sm.get("s3"));
  });

  it("snapshotNow snapshots at the applied index and compacts, below any threshold", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"], {
      snapshotThreshold: 0,
      snapshotTrailingEntries: 2,
    });
    const leader = await cluster.leader();
    for (let i = 0; i < 10; i++) await leader.node.propose(put(`n${i}`, String(i)));
    expect(leader.node.status().snapshotIndex).toBe(0);
    const taken = await leader.node.snapshotNow();
    expect(taken.index).toBe(leader.node.status().applied);
    expect(leader.node.status().snapshotIndex).toBe(taken.index);
    expect(taken.bytes).toBe(leader.storage.snapshot()?.data.length);
    expect(taken.firstIndex).toBe(taken.index - 1);
    expect(leader.storage.firstIndex()).toBe(taken.firstIndex);
    // Nothing applied since: the same snapshot, not a new one.
    expect(await leader.node.snapshotNow()).toEqual(taken);
    await leader.node.stop();
    expect((await rejection(leader.node.snapshotNow())).code).toBe("SHUTTING_DOWN");
  });

  it("adds a learner that catches up, then promotes it to voter", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    for (let i = 0; i < 10; i++) await leader.node.propose(put(`l${i}`, "v"));
    const d = cluster.start("d", new MemoryStorage());
    await leader.node.addLearner("d", "10.0.0.4:7400");
    expect(leader.node.status().members.learners).toEqual(["d"]);
    await cluster!.waitFor(() => d.sm.get("l9") === "v", 5000, "learner catches up");
    expect(d.node.status().role).toBe("follower");
    await leader.node.promote("d");
    expect(leader.node.status().members.voters).toEqual(["a", "b", "c", "d"]);
    expect(leader.node.status().members.addresses?.d).toBe("10.0.0.4:7400");
    await cluster!.waitFor(
      () => d.node.status().members.voters.includes("d"),
      5000,
      "d sees itself as voter",
    );
    await leader.node.removeMember("d");
    expect(leader.node.status().members.voters).toEqual(["a", "b", "c"]);
  });

  it("refuses to promote a learner that has not caught up", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"], { maxPromoteLag: 0 });
    const leader = await cluster.leader();
    for (let i = 0; i < 5; i++) await leader.node.propose(put(`q${i}`, "v"));
    await leader.node.addLearner("e");
    // "e" is not running: it never catches up.
    const err = await rejection(leader.node.promote("e", { waitMs: 300 }));
    expect(err.code).toBe("CONFLICT");
    expect(err.details?.match).toBe(0);
  });

  it("transfers leadership to a chosen voter and to the best one by default", async () => {
    cluster = await DriverCluster.create(["a", "b", "c"]);
    const leader = await cluster.leader();
    await leader.node.propose(put("t", "1"));
    const target = cluster.running().find((m) => m.id !== leader.id)!;
    await leader.node.transferLeadership(target.id);
    expect((await cluster.leader()).id).toBe(target.id);
    await target.node.transferLeadership();
    const third = await cluster.leader();
    expect(third.id).not.toBe(target.id);
    await expect(third.node.propose(put("t", "2"))).resolves.toBe("1");
    const follower = cluster.running().find((m) => m.id !== third.id)!;
    const err = await rejection(follower.node.transferLeadership());
    expect(err.code).toBe("NOT_LEADER");
    expect(err.details?.leaderId).toBe(third.id);
  });

  it("answers NOT_LEADER without a leader and names bad options", async () => {
    cluster = new DriverCluster();
    const lonely = cluster.start("joiner", new MemoryStorage());
    const read = await rejection(lonely.node.read(() => 1));
    expect(read.code).toBe("NOT_LEADER");
    expect(read.details?.leaderId).toBeNull();
    const proposal = await rejection(lonely.node.propose(put("k", "v")));
    expect(proposal.code).toBe("NOT_LEADER");
    expect(proposal.details?.leaderId).toBeNull();
    expect(() => cluster!.start("bad", new MemoryStorage(), undefined, { tickMs: 0 })).toThrow(
      /options\.tickMs/,
    );
    expect(() =>
      cluster!.start("bad2", new MemoryStorage(), undefined, {
        stateMachine: {} as unknown as KvStateMachine,
      }),
    ).toThrow(/options\.stateMachine: expected an object with method apply\(\)/);
    const bad = await rejection(lonely.node.propose("text" as unknown as Uint8Array));
    expect(bad.code).toBe("INVALID_ARGUMENT");
  });

  it("reports role and leader changes through hooks and onStatusChange", async () => {
    cluster = new DriverCluster();
    const roles: string[] = [];
    const leaders: (string | null)[] = [];
    const m = cluster.start(
      "solo",
      new MemoryStorage(),
      { voters: ["solo"], learners: [] },
      {
        hooks: { onRoleChange: (role) => roles.push(role) },
      },
    );
    m.node.onStatusChange((s) => leaders.push(s.leader));
    await cluster.leader();
    expect(roles[0]).toBe("follower");
    expect(roles).toContain("leader");
    expect(leaders).toContain("solo");
  });
});
