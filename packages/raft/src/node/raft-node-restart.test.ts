import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "@ipam/store";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createSqliteStorage, type SqliteStorage } from "../storage/sqlite-storage.js";
import { KvStateMachine } from "../testing/kv-state-machine.js";
import type { StateMachine } from "../types.js";
import { DriverCluster, put } from "./test-cluster.js";

const dir = mkdtempSync(join(tmpdir(), "raft-restart-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let cluster: DriverCluster | undefined;
const stores: Store[] = [];
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  for (const s of stores.splice(0)) if (!s.closed) s.close();
});

function open(name: string): { store: Store; storage: SqliteStorage } {
  const store = openStore({ path: join(dir, `${name}.db`) });
  stores.push(store);
  return { store, storage: createSqliteStorage(store.raftLog()) };
}

/** Counts applies per index; with `durable`, reports lastApplied() like a self-persisting FSM. */
class CountingMachine implements StateMachine<string | undefined> {
  readonly kv = new KvStateMachine();
  readonly counts = new Map<number, number>();
  constructor(private readonly durable: boolean) {}
  apply(data: Uint8Array, index: number): string | undefined {
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    return this.kv.apply(data, index);
  }
  snapshot(): Uint8Array {
    return this.kv.snapshot();
  }
  restore(data: Uint8Array): void {
    this.kv.restore(data);
  }
  lastApplied?(): number;
  enableLastApplied(): this {
    if (this.durable) this.lastApplied = () => this.kv.applied;
    return this;
  }
}

describe("RaftNode restart on SqliteStorage", () => {
  it("keeps its log and re-applies it exactly once into a fresh state machine", async () => {
    const ids = ["a", "b", "c"];
    const opened = Object.fromEntries(ids.map((id) => [id, open(id)]));
    cluster = await DriverCluster.create(
      ids,
      { snapshotThreshold: 0 },
      Object.fromEntries(ids.map((id) => [id, opened[id]!.storage])),
    );
    const leader = await cluster.leader();
    for (let i = 0; i < 30; i++) await leader.node.propose(put(`k${i}`, String(i)));
    const f = cluster.running().find((m) => m.id !== leader.id)!;
    await cluster!.waitFor(() => f.sm.get("k29") === "29", 5000, "follower applied everything");
    await f.node.stop();
    // stop() flushed the lazily held commit index.
    expect(opened[f.id]!.store.raftLog().loadHardState()?.commit).toBe(
      opened[f.id]!.storage.initialState().hardState.commit,
    );
    opened[f.id]!.store.close();
    for (let i = 30; i < 40; i++) await leader.node.propose(put(`k${i}`, String(i)));

    const again = open(f.id);
    expect(again.storage.lastIndex()).toBeGreaterThanOrEqual(31);
    const sm = new CountingMachine(false);
    cluster.members.delete(f.id);
    const restarted = cluster.start(
      f.id,
      again.storage,
      { voters: ids, learners: [] },
      {
        stateMachine: sm,
      },
    );
    await cluster!.waitFor(() => sm.kv.get("k39") === "39", 5000, "restarted follower catches up");
    expect(restarted.node.status().applied).toBe(leader.node.status().commit);
    expect([...sm.counts.values()].every((n) => n === 1)).toBe(true);
    expect(sm.counts.size).toBe(40);
    expect(sm.kv.fingerprint()).toBe(leader.sm.fingerprint());
  });

  it("skips entries a durable state machine already applied (lastApplied)", async () => {
    const ids = ["a", "b", "c"];
    const opened = Object.fromEntries(ids.map((id) => [id, open(`d-${id}`)]));
    cluster = await DriverCluster.create(
      ids,
      { snapshotThreshold: 0 },
      Object.fromEntries(ids.map((id) => [id, opened[id]!.storage])),
    );
    const leader = await cluster.leader();
    const f = cluster.running().find((m) => m.id !== leader.id)!;
    const durable = new CountingMachine(true).enableLastApplied();
    // Replace f by a node whose state machine survives restarts.
    await f.node.stop();
    cluster.members.delete(f.id);
    let node = cluster.start(
      f.id,
      opened[f.id]!.storage,
      { voters: ids, learners: [] },
      {
        stateMachine: durable,
      },
    );
    for (let i = 0; i < 20; i++) await leader.node.propose(put(`d${i}`, String(i)));
    await cluster!.waitFor(() => durable.kv.get("d19") === "19", 5000, "durable machine applies");
    await node.node.stop();
    for (let i = 20; i < 25; i++) await leader.node.propose(put(`d${i}`, String(i)));
    cluster.members.delete(f.id);
    node = cluster.start(
      f.id,
      opened[f.id]!.storage,
      { voters: ids, learners: [] },
      {
        stateMachine: durable,
      },
    );
    await cluster!.waitFor(() => durable.kv.get("d24") === "24", 5000, "restarted durable machine");
    expect([...durable.counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(node.node.status().applied).toBe(durable.kv.applied);
  });

  it("ships a SQLite-stored snapshot to a lagging follower, which restarts from its own snapshot", async () => {
    const ids = ["a", "b", "c"];
    const opened = Object.fromEntries(ids.map((id) => [id, open(`s-${id}`)]));
    cluster = await DriverCluster.create(
      ids,
      { snapshotThreshold: 20 },
      Object.fromEntries(ids.map((id) => [id, opened[id]!.storage])),
    );
    const leader = await cluster.leader();
    const lagger = cluster.running().find((m) => m.id !== leader.id)!;
    cluster.network.isolate(lagger.id);
    for (let i = 0; i < 60; i++) await leader.node.propose(put(`s${i % 9}`, String(i)));
    expect(opened[leader.id]!.storage.firstIndex()).toBeGreaterThan(20);
    cluster.network.heal();
    await cluster!.waitFor(
      () => lagger.sm.fingerprint() === leader.sm.fingerprint(),
      10_000,
      "lagger catches up",
    );
    expect(opened[lagger.id]!.storage.snapshot()).toBeDefined();

    await lagger.node.stop();
    opened[lagger.id]!.storage.flush();
    opened[lagger.id]!.store.close();
    const again = open(`s-${lagger.id}`);
    expect(again.storage.snapshot()?.meta.index).toBeGreaterThan(0);
    cluster.members.delete(lagger.id);
    const restarted = cluster.start(lagger.id, again.storage, { voters: ids, learners: [] });
    expect(restarted.sm.fingerprint()).not.toBe("[]");
    await leader.node.propose(put("after", "restart"));
    await cluster!.waitFor(
      () => restarted.sm.get("after") === "restart",
      5000,
      "restarted lagger applies",
    );
    expect(restarted.sm.fingerprint()).toBe(leader.sm.fingerprint());
  });
});
