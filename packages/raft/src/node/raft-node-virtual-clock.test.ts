import { describe, expect, it } from "vitest";
import { RaftError } from "../core/raft-error.js";
import { createSeededRandom } from "../core/random.js";
import { MemoryStorage } from "../storage/memory-storage.js";
import { KvStateMachine } from "../testing/kv-state-machine.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import type { Clock } from "../types.js";
import { createRaftNode } from "./raft-node.js";
import { put } from "./test-cluster.js";
import { VirtualTime } from "./virtual-time.js";

describe("RaftNode on a virtual clock (injected Clock and schedule)", () => {
  it("elects, commits and times out purely in virtual time", async () => {
    const w = new VirtualTime();
    const node = createRaftNode({
      id: "solo",
      storage: new MemoryStorage(),
      stateMachine: new KvStateMachine(),
      transport: new MemoryNetwork({ schedule: w.schedule }).transport("solo"),
      bootstrap: { voters: ["solo"], learners: [] },
      clock: w.clock,
      schedule: w.schedule,
      random: createSeededRandom(3),
      tickMs: 100,
      electionTicks: 10,
      proposalTimeoutMs: 1000,
    });
    // Nothing happens until virtual time passes: no election within one tick.
    w.advance(100);
    expect(node.status().role).toBe("follower");
    // The election timeout is in [10, 20) ticks.
    w.advance(2000);
    expect(node.status().role).toBe("leader");

    const result = node.propose(put("k", "v"));
    w.drain();
    await expect(result).resolves.toBeUndefined();
    expect(node.status().applied).toBe(node.status().commit);

    // stop() cancels the tick timer: no timer is left behind.
    await node.stop();
    expect(w.pendingTimers()).toBe(0);
  });

  it("rejects with TIMEOUT on virtual time when no quorum answers", async () => {
    const w = new VirtualTime();
    const net = new MemoryNetwork({ schedule: w.schedule });
    const voters = ["a", "b", "c"];
    const nodes = voters.map((id, i) =>
      createRaftNode({
        id,
        storage: new MemoryStorage(),
        stateMachine: new KvStateMachine(),
        transport: net.transport(id),
        bootstrap: { voters, learners: [] },
        clock: w.clock,
        schedule: w.schedule,
        random: createSeededRandom(10 + i),
        tickMs: 100,
        proposalTimeoutMs: 1000,
        checkQuorum: false,
      }),
    );
    w.advance(3000);
    const leader = nodes.find((n) => n.status().role === "leader");
    expect(leader).toBeDefined();
    net.isolate(leader!.id);
    const p = leader!.propose(put("lost", "1")).catch((e: unknown) => e);
    w.advance(900);
    let settled = false;
    void p.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve)); // flush promise reactions
    expect(settled).toBe(false);
    w.advance(200);
    const err = await p;
    expect(err).toBeInstanceOf(RaftError);
    expect((err as RaftError).code).toBe("TIMEOUT");
    await Promise.all(nodes.map((n) => n.stop()));
  });
});

describe("RaftNode ticks in real time when its tick timer fires late", () => {
  /** A clock whose timers fire `lateMs` after they were due (a busy or starved process). */
  function lateClock(lateMs: number) {
    let now = 0;
    const timers: { at: number; fn: () => void }[] = [];
    const clock: Clock = {
      now: () => now,
      setTimeout: (fn, delayMs) => {
        const t = { at: now + delayMs + lateMs, fn };
        timers.push(t);
        return t;
      },
      clearTimeout: (h) => {
        const i = timers.indexOf(h as { at: number; fn: () => void });
        if (i >= 0) timers.splice(i, 1);
      },
    };
    const advanceTo = (end: number) => {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (t === undefined || t.at > end) break;
        timers.shift();
        now = t.at;
        t.fn();
      }
      now = end;
    };
    return { clock, advanceTo };
  }

  it("a follower that hears nothing campaigns after its election timeout in clock time, not after as many late timer firings", () => {
    // Election timeout 10 ticks of 50 ms = 500..1000 ms; each timer fires 100 ms late (3x slow).
    const world = lateClock(100);
    const network = new MemoryNetwork({ schedule: (fn) => fn() });
    const node = createRaftNode({
      id: "a",
      storage: new MemoryStorage(),
      stateMachine: new KvStateMachine(),
      transport: network.transport("a"),
      bootstrap: { voters: ["a", "b", "c"], learners: [] },
      clock: world.clock,
      schedule: (fn) => fn(),
      tickMs: 50,
      electionTicks: 10,
      random: createSeededRandom(7),
    });
    // One timer firing per 150 ms: counted as 1 tick each, the campaign would wait 1.5..3 s.
    world.advanceTo(1150);
    expect(node.status().role).not.toBe("follower");
    void node.stop();
  });
});
