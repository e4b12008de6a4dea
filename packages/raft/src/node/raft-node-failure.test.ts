import { describe, expect, it } from "vitest";
import { RaftError } from "../core/raft-error.js";
import { createSeededRandom } from "../core/random.js";
import { MemoryStorage } from "../storage/memory-storage.js";
import { KvStateMachine } from "../testing/kv-state-machine.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import type { Entry, Message, NodeId, Transport } from "../types.js";
import { createRaftNode } from "./raft-node.js";
import { NETWORK_LATENCY_MS, put } from "./test-cluster.js";
import { VirtualTime } from "./virtual-time.js";

/** A MemoryStorage whose appends fail on demand (a full disk). */
class FailingStorage extends MemoryStorage {
  failing = false;
  override append(entries: readonly Entry[]): void {
    if (this.failing && entries.length > 0) throw new Error("SQLITE_FULL: disk is full");
    super.append(entries);
  }
}

/** Records what is sent through an inner transport. */
function recording(inner: Transport): { transport: Transport; sent: Message[] } {
  const sent: Message[] = [];
  return {
    sent,
    transport: {
      send: (to: NodeId, messages: readonly Message[]) => {
        sent.push(...messages);
        inner.send(to, messages);
      },
      onReceive: (handler) => inner.onReceive(handler),
      close: () => inner.close(),
    },
  };
}

describe("RaftNode failure handling and hooks", () => {
  it("fails closed when Storage cannot persist: nothing is sent, everything pending rejects", async () => {
    const time = new VirtualTime();
    const network = new MemoryNetwork({ schedule: time.latency(NETWORK_LATENCY_MS) });
    const voters = ["a", "b", "c"];
    const storageA = new FailingStorage();
    const rec = recording(network.transport("a"));
    const fatal: Error[] = [];
    const nodes = voters.map((id, i) =>
      createRaftNode({
        id,
        storage: id === "a" ? storageA : new MemoryStorage(),
        stateMachine: new KvStateMachine(),
        transport: id === "a" ? rec.transport : network.transport(id),
        bootstrap: { voters, learners: [] },
        random: createSeededRandom(i + 1),
        clock: time.clock,
        schedule: time.schedule,
        tickMs: 10,
        // "a" times out first; the others wait long enough for "a" to win.
        electionTicks: id === "a" ? 5 : 30,
        // Strict ordering, so that "nothing is sent after a failed write" is observable (with the
        // default leaderSendsBeforePersist the leader's appends go out first: outcome unknown).
        ...(id === "a"
          ? { hooks: { onFatal: (e: Error) => fatal.push(e) }, leaderSendsBeforePersist: false }
          : {}),
      }),
    );
    const a = nodes[0]!;
    time.start();
    try {
      await time.waitFor(() => a.status().role === "leader", 5000, "a leads");
      await a.propose(put("ok", "1"));
      storageA.failing = true;
      const sentBefore = rec.sent.length;
      const err = await a.propose(put("lost", "1")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RaftError);
      expect((err as RaftError).code).toBe("UNAVAILABLE");
      expect(((err as RaftError).cause as Error).message).toMatch(/disk is full/);
      expect(a.status().state).toBe("failed");
      expect(fatal).toHaveLength(1);
      expect(fatal[0]?.message).toMatch(/disk is full/);
      // The entry that could not be persisted was never replicated.
      const leaked = rec.sent
        .slice(sentBefore)
        .filter((m) => m.type === "append" && m.entries.length > 0);
      expect(leaked).toEqual([]);
      const later = await a.propose(put("later", "1")).catch((e: unknown) => e);
      expect((later as RaftError).code).toBe("UNAVAILABLE");
      // The rest of the cluster elects another leader.
      await time.waitFor(
        () => nodes.slice(1).some((n) => n.status().role === "leader"),
        5000,
        "b or c leads",
      );
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await time.stop();
    }
  });

  it("reports proposals, applies and snapshots through hooks", async () => {
    const proposals: string[] = [];
    let applied = 0;
    const snapshots: number[] = [];
    const time = new VirtualTime();
    const node = createRaftNode({
      id: "solo",
      storage: new MemoryStorage(),
      stateMachine: new KvStateMachine(),
      transport: new MemoryNetwork({ schedule: time.latency(NETWORK_LATENCY_MS) }).transport(
        "solo",
      ),
      bootstrap: { voters: ["solo"], learners: [] },
      clock: time.clock,
      schedule: time.schedule,
      tickMs: 5,
      electionTicks: 3,
      snapshotThreshold: 5,
      snapshotTrailingEntries: 2,
      hooks: {
        onProposal: (result) => proposals.push(result),
        onApply: (n) => {
          applied += n;
        },
        onSnapshot: (index, bytes) => {
          expect(bytes).toBeGreaterThan(0);
          snapshots.push(index);
        },
      },
    });
    time.start();
    try {
      await time.waitFor(() => node.status().role === "leader", 5000, "solo leads");
      for (let i = 0; i < 12; i++) await node.propose(put(`h${i}`, "v"));
      await node.propose(new Uint8Array([0xff])).catch(() => {});
      expect(proposals.filter((p) => p === "ok")).toHaveLength(12);
      expect(proposals.at(-1)).toBe("INTERNAL");
      expect(applied).toBe(13);
      expect(snapshots.length).toBeGreaterThanOrEqual(2);
      expect(node.status().snapshotIndex).toBe(snapshots.at(-1));
    } finally {
      await node.stop();
      await time.stop();
    }
  });
});
