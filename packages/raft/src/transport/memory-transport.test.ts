import { describe, expect, it } from "vitest";
import { RaftError } from "../core/raft-error.js";
import type { Message } from "../types.js";
import { MemoryNetwork } from "./memory-transport.js";

function hb(from: string, to: string, term: number): Message {
  return { type: "heartbeat", from, to, term, commit: 0, context: new Uint8Array([term]) };
}

/** A schedule the test drains by hand, so delivery order is observable without sleeping. */
function manual(): { schedule: (fn: () => void) => void; drain: () => void } {
  const queue: (() => void)[] = [];
  return {
    schedule: (fn) => queue.push(fn),
    drain: () => {
      while (queue.length > 0) queue.shift()!();
    },
  };
}

describe("MemoryNetwork / MemoryTransport", () => {
  it("delivers batches asynchronously, in order per link", () => {
    const q = manual();
    const net = new MemoryNetwork({ schedule: q.schedule });
    const got: number[] = [];
    net.transport("b").onReceive((ms) => got.push(...ms.map((m) => m.term)));
    net.transport("a").send("b", [hb("a", "b", 1), hb("a", "b", 2)]);
    net.transport("a").send("b", [hb("a", "b", 3)]);
    expect(got).toEqual([]);
    q.drain();
    expect(got).toEqual([1, 2, 3]);
    expect(net.stats()).toEqual({ delivered: 2, dropped: 0, messages: 3 });
  });

  it("round-trips through the binary codec when asked", () => {
    const q = manual();
    const net = new MemoryNetwork({ schedule: q.schedule, codec: true });
    const got: Message[] = [];
    net.transport("b").onReceive((ms) => got.push(...ms));
    const sent = hb("a", "b", 9);
    net.transport("a").send("b", [sent]);
    q.drain();
    expect(got).toHaveLength(1);
    expect(got[0]).not.toBe(sent);
    expect({ ...got[0], context: [...(got[0] as { context: Uint8Array }).context] }).toEqual({
      ...sent,
      context: [9],
    });
  });

  it("drops across cuts, partitions and isolation, and recovers on heal", () => {
    const q = manual();
    const net = new MemoryNetwork({ schedule: q.schedule });
    const got: string[] = [];
    for (const id of ["a", "b", "c"]) {
      net.transport(id).onReceive((ms) => got.push(...ms.map((m) => `${m.from}>${m.to}`)));
    }
    const send = (from: string, to: string) => net.transport(from).send(to, [hb(from, to, 1)]);
    net.cut("a", "b", true);
    send("a", "b");
    send("b", "a");
    net.partition(["c"], ["a", "b"]);
    send("c", "a");
    send("b", "c");
    q.drain();
    expect(got).toEqual(["b>a"]);
    net.heal();
    net.isolate("b");
    send("a", "b");
    send("a", "c");
    // A partition made while a batch is in flight drops it at delivery.
    net.cut("a", "c");
    q.drain();
    expect(got).toEqual(["b>a"]);
    net.heal();
    send("a", "b");
    q.drain();
    expect(got).toEqual(["b>a", "a>b"]);
    expect(() => net.setDropRate(2)).toThrow(RaftError);
  });

  it("stops delivering to a closed transport; a new transport replaces it", async () => {
    const q = manual();
    const net = new MemoryNetwork({ schedule: q.schedule });
    const old = net.transport("b");
    let count = 0;
    old.onReceive(() => count++);
    await old.close();
    net.transport("a").send("b", [hb("a", "b", 1)]);
    q.drain();
    expect(count).toBe(0);
    const fresh = net.transport("b");
    expect(fresh).not.toBe(old);
    fresh.onReceive(() => count++);
    net.transport("a").send("b", [hb("a", "b", 2)]);
    q.drain();
    expect(count).toBe(1);
  });

  it("drops a random share of batches with the seeded drop rate", () => {
    const q = manual();
    let x = 0;
    const net = new MemoryNetwork({ schedule: q.schedule, random: () => (x++ % 4) / 4 });
    let count = 0;
    net.transport("b").onReceive(() => count++);
    net.setDropRate(0.5);
    for (let i = 0; i < 8; i++) net.transport("a").send("b", [hb("a", "b", i)]);
    q.drain();
    expect(count).toBe(4);
  });
});
