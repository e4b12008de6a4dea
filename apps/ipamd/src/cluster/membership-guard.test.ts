import type { Message, RaftNodeStatus } from "@ipam/raft";
import { describe, expect, it } from "vitest";
import { MembershipGuard } from "./membership-guard.js";

function status(voters: string[], membersIndex: number, commit: number): RaftNodeStatus {
  return {
    id: "s1",
    state: "running",
    role: "follower",
    term: 3,
    vote: null,
    leader: null,
    leaderAddress: null,
    commit,
    leaderCommit: commit,
    applied: commit,
    lastIndex: commit,
    snapshotIndex: 0,
    members: { voters, learners: [] },
    membersIndex,
    progress: {},
    pendingProposals: 0,
    pendingReads: 0,
  };
}

const prevote = (from: string): Message => ({
  type: "prevote",
  from,
  to: "s1",
  term: 4,
  lastIndex: 10,
  lastTerm: 3,
  transfer: false,
});
const append = (from: string): Message => ({
  type: "heartbeat",
  from,
  to: "s1",
  term: 4,
  commit: 10,
  context: new Uint8Array(),
});

function guard(st: () => RaftNodeStatus) {
  const removed: string[] = [];
  const g = new MembershipGuard({
    nodeId: "s1",
    clusterId: "c1",
    status: st,
    onRemoved: (why) => removed.push(why),
  });
  return { g, removed };
}

describe("MembershipGuard", () => {
  it("refuses a non-member's pre-votes under a committed configuration, naming it and its index", () => {
    const { g } = guard(() => status(["s1", "s2", "s3"], 7, 20));
    expect(g.checkSender("s2", [prevote("s2")])).toBeUndefined();
    expect(g.checkSender("s4", [prevote("s4")])).toEqual({
      configIndex: 7,
      reason: "s4 is not a member of cluster c1 (configuration at index 7: voters s1,s2,s3)",
    });
  });

  it("takes a leader's messages from anyone (a new leader this server does not know yet)", () => {
    const { g } = guard(() => status(["s1", "s2", "s3"], 7, 20));
    expect(g.checkSender("s9", [append("s9")])).toBeUndefined();
  });

  it("refuses nobody while its configuration is not committed, or does not list itself", () => {
    expect(guard(() => status(["s1", "s2"], 30, 20)).g.checkSender("s4", [prevote("s4")])).toBe(
      undefined,
    );
    expect(guard(() => status(["s2", "s3"], 7, 20)).g.checkSender("s4", [prevote("s4")])).toBe(
      undefined,
    );
  });

  it("a refusal from a newer configuration means this server was removed (once); an older one is stale", () => {
    const { g, removed } = guard(() => status(["s1", "s2", "s3"], 7, 20));
    g.onRefused({ peer: "s2", configIndex: 5, reason: "old" });
    expect(removed).toEqual([]);
    g.onRefused({ peer: "s2", configIndex: 9, reason: "s1 is not a member" });
    g.onRefused({ peer: "s3", configIndex: 9, reason: "s1 is not a member" });
    expect(removed).toEqual(["s2 refused it: s1 is not a member"]);
    expect(g.removed).toBe(true);
  });

  it("watch(): a member that applies a committed configuration without itself was removed", () => {
    let st = status(["s1", "s2", "s3"], 7, 20);
    const { g, removed } = guard(() => st);
    g.watch();
    expect(removed).toEqual([]);
    st = status(["s2", "s3"], 21, 21);
    g.watch();
    expect(removed).toEqual(["the configuration at index 21 does not list it"]);
  });

  it("watch(): a joining server not yet in its configuration is not removed", () => {
    const { g, removed } = guard(() => status(["s2", "s3"], 7, 20));
    g.watch();
    expect(removed).toEqual([]);
  });
});
