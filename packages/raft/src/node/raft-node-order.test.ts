import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../core/random.js";
import { MemoryStorage } from "../storage/memory-storage.js";
import { KvStateMachine } from "../testing/kv-state-machine.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import type { Entry, HardState, Message, NodeId, Transport } from "../types.js";
import { createRaftNode } from "./raft-node.js";
import { NETWORK_LATENCY_MS, put } from "./test-cluster.js";
import { VirtualTime } from "./virtual-time.js";

type Event =
  | { kind: "persist"; node: NodeId; last: number }
  | { kind: "vote-persist"; node: NodeId; term: number }
  | { kind: "send"; node: NodeId; message: Message };

class LoggingStorage extends MemoryStorage {
  constructor(
    private readonly node: NodeId,
    private readonly events: Event[],
  ) {
    super();
  }
  override append(entries: readonly Entry[]): void {
    super.append(entries);
    const last = entries[entries.length - 1];
    if (last !== undefined)
      this.events.push({ kind: "persist", node: this.node, last: last.index });
  }
  override setHardState(state: HardState): void {
    super.setHardState(state);
    this.events.push({ kind: "vote-persist", node: this.node, term: state.term });
  }
}

function logging(node: NodeId, inner: Transport, events: Event[]): Transport {
  return {
    send: (to, messages) => {
      for (const message of messages) events.push({ kind: "send", node, message });
      inner.send(to, messages);
    },
    onReceive: (h) => inner.onReceive(h),
    close: () => inner.close(),
  };
}

async function scenario(leaderSendsBeforePersist: boolean): Promise<{
  events: Event[];
  index: number;
}> {
  const events: Event[] = [];
  const time = new VirtualTime();
  const network = new MemoryNetwork({ schedule: time.latency(NETWORK_LATENCY_MS) });
  const voters = ["a", "b", "c"];
  const nodes = voters.map((id, i) =>
    createRaftNode({
      id,
      storage: new LoggingStorage(id, events),
      stateMachine: new KvStateMachine(),
      transport: logging(id, network.transport(id), events),
      bootstrap: { voters, learners: [] },
      random: createSeededRandom(i + 1),
      clock: time.clock,
      schedule: time.schedule,
      tickMs: 10,
      electionTicks: id === "a" ? 5 : 30,
      leaderSendsBeforePersist,
    }),
  );
  time.start();
  try {
    await time.waitFor(() => nodes[0]!.status().role === "leader", 5000, "a leads");
    await nodes[0]!.propose(put("warm", "up"));
    events.length = 0;
    await nodes[0]!.propose(put("k", "v"));
    return { events: [...events], index: nodes[0]!.status().lastIndex };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await time.stop();
  }
}

function position(events: Event[], match: (e: Event) => boolean): number {
  const i = events.findIndex(match);
  expect(i).toBeGreaterThanOrEqual(0);
  return i;
}

const isPersist = (node: NodeId, index: number) => (e: Event) =>
  e.kind === "persist" && e.node === node && e.last >= index;
const isAppendOf = (index: number) => (e: Event) =>
  e.kind === "send" &&
  e.node === "a" &&
  e.message.type === "append" &&
  e.message.entries.some((x) => x.index === index);

describe("RaftNode I/O ordering", () => {
  it("followers persist entries before acknowledging them", async () => {
    for (const mode of [true, false]) {
      const { events, index } = await scenario(mode);
      for (const f of ["b", "c"]) {
        const ack = events.findIndex(
          (e) =>
            e.kind === "send" &&
            e.node === f &&
            e.message.type === "append-response" &&
            !e.message.reject &&
            e.message.index >= index,
        );
        if (ack >= 0) expect(position(events, isPersist(f, index))).toBeLessThan(ack);
      }
    }
  });

  it("a leader replicates before its own write with leaderSendsBeforePersist, after it without", async () => {
    const parallel = await scenario(true);
    expect(position(parallel.events, isAppendOf(parallel.index))).toBeLessThan(
      position(parallel.events, isPersist("a", parallel.index)),
    );
    const strict = await scenario(false);
    expect(position(strict.events, isPersist("a", strict.index))).toBeLessThan(
      position(strict.events, isAppendOf(strict.index)),
    );
  });

  it("a leader's appends leave through a transport that writes from the event loop before its own write", async () => {
    // Like the gRPC transport: send() queues and the bytes leave in a microtask (HTTP/2 even in
    // a later phase of the loop). A leader that wrote synchronously in the same turn would hold
    // its appends back until its own write was durable, serialising the two fsyncs.
    const events: Event[] = [];
    const network = new MemoryNetwork();
    const voters = ["a", "b", "c"];
    const nodes = voters.map((id, i) => {
      const inner = network.transport(id);
      const wire: Transport = {
        send: (to, messages) =>
          queueMicrotask(() => {
            for (const message of messages) events.push({ kind: "send", node: id, message });
            inner.send(to, messages);
          }),
        onReceive: (h) => inner.onReceive(h),
        close: () => inner.close(),
      };
      return createRaftNode({
        id,
        storage: new LoggingStorage(id, events),
        stateMachine: new KvStateMachine(),
        transport: wire,
        bootstrap: { voters, learners: [] },
        random: createSeededRandom(i + 1),
        tickMs: 10,
        electionTicks: id === "a" ? 5 : 300,
      });
    });
    try {
      const until = Date.now() + 20_000;
      while (nodes[0]!.status().role !== "leader") {
        if (Date.now() > until) throw new Error("a did not become leader within 20 s");
        await new Promise((r) => setTimeout(r, 5));
      }
      await nodes[0]!.propose(put("warm", "up"));
      events.length = 0;
      await nodes[0]!.propose(put("k", "v"));
      const index = nodes[0]!.status().lastIndex;
      expect(position(events, isAppendOf(index))).toBeLessThan(
        position(events, isPersist("a", index)),
      );
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
