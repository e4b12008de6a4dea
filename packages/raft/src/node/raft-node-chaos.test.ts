import { afterEach, describe, expect, it } from "vitest";
import { createSeededRandom } from "../core/random.js";
import { KvStateMachine } from "../testing/kv-state-machine.js";
import type { NodeId, StateMachine } from "../types.js";
import { DriverCluster, put } from "./test-cluster.js";

/** KvStateMachine that fails the test if any index is applied twice to the same instance. */
class OnceMachine implements StateMachine<string | undefined> {
  readonly kv = new KvStateMachine();
  private last = 0;
  duplicate = false;
  apply(data: Uint8Array, index: number): string | undefined {
    if (index <= this.last) this.duplicate = true;
    this.last = index;
    return this.kv.apply(data, index);
  }
  snapshot(): Uint8Array {
    return this.kv.snapshot();
  }
  restore(data: Uint8Array): void {
    this.kv.restore(data);
  }
}

let cluster: DriverCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

describe("RaftNode under faults (drops, partitions, restarts)", () => {
  it("never loses an acknowledged proposal and converges after the faults heal", async () => {
    const ids: NodeId[] = ["a", "b", "c"];
    const machines = new Map<NodeId, OnceMachine>();
    const machineFor = (id: NodeId) => {
      const m = new OnceMachine();
      machines.set(id, m);
      return { stateMachine: m };
    };
    cluster = await DriverCluster.create(
      ids,
      { snapshotThreshold: 40, snapshotTrailingEntries: 5, proposalTimeoutMs: 1500 },
      {},
      machineFor,
    );
    const c = cluster;
    const random = createSeededRandom(42);
    const acked: string[] = [];
    let running = true;
    let seq = 0;

    const proposer = async () => {
      while (running) {
        const leader = c.running().find((m) => m.node.status().role === "leader");
        if (leader === undefined) {
          await c.time.sleep(5);
          continue;
        }
        const key = `k${seq++}`;
        try {
          await leader.node.propose(put(key, key));
          acked.push(key);
        } catch {
          await c.time.sleep(5);
        }
      }
    };
    const proposers = Array.from({ length: 8 }, proposer);

    let restarted = false;
    for (let step = 0; step < 12; step++) {
      c.network.heal();
      const pick = ids[Math.floor(random() * ids.length)]!;
      const leaderId = c.running().find((m) => m.node.status().role === "leader")?.id ?? pick;
      const fault = Math.floor(random() * 4);
      if (fault === 0) c.network.setDropRate(0.2);
      else if (fault === 1) c.network.isolate(leaderId);
      else if (fault === 2)
        c.network.partition(
          [pick],
          ids.filter((id) => id !== pick),
        );
      if (!restarted && step === 6) {
        // Crash-restart the leader on its storage with a fresh state machine.
        const victim = c.get(leaderId);
        await victim.node.stop();
        c.members.delete(leaderId);
        c.start(leaderId, victim.storage, { voters: ids, learners: [] }, machineFor(leaderId));
        restarted = true;
      }
      // Longer than an election timeout (100-200 virtual ms), so isolating the leader replaces it.
      await c.time.sleep(300);
    }
    c.network.heal();
    running = false;
    await Promise.all(proposers);

    const leader = await c.leader(10_000);
    await leader.node.propose(put("barrier", "done"));
    const commit = leader.node.status().commit;
    await c.waitFor(
      () => c.running().every((m) => m.node.status().applied >= commit),
      10_000,
      "every node applies up to the leader's commit",
    );
    expect(acked.length).toBeGreaterThan(20);
    // The faults really changed leadership.
    expect(leader.node.status().term).toBeGreaterThan(2);
    for (const id of ids) {
      const m = machines.get(id)!;
      expect(m.duplicate).toBe(false);
      const missing = acked.filter((key) => m.kv.get(key) !== key);
      expect(missing).toEqual([]);
    }
    const prints = ids.map((id) => machines.get(id)!.kv.fingerprint());
    expect(new Set(prints).size).toBe(1);
  });
});
