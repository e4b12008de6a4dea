import { describe, expect, it } from "vitest";
import { MemoryLog } from "../testing/memory-log.js";
import { RaftError } from "./raft-error.js";
import { createSeededRandom } from "./random.js";
import { RawNode } from "./raw-node.js";

function singleNode(): { node: RawNode; storage: MemoryLog } {
  const storage = new MemoryLog();
  const node = new RawNode({
    id: "a",
    storage,
    random: createSeededRandom(3),
    bootstrap: { voters: ["a"], learners: [] },
  });
  return { node, storage };
}

describe("RawNode Ready contract", () => {
  it("allows one outstanding Ready: ready() again before advance() throws INTERNAL", () => {
    const { node } = singleNode();
    node.campaign();
    expect(node.hasReady()).toBe(true);
    node.ready();
    expect(node.hasReady()).toBe(false);
    expect(() => node.ready()).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    node.advance();
    expect(() => node.advance()).toThrow(RaftError);
  });

  it("reports hard and soft state only when they change", () => {
    const { node, storage } = singleNode();
    node.campaign();
    const rd = node.ready();
    expect(rd.softState).toEqual({ role: "leader", leader: "a" });
    expect(rd.hardState).toMatchObject({ term: 1, vote: "a" });
    storage.append(rd.entries);
    storage.setHardState(rd.hardState!);
    node.advance();
    const rd2 = node.ready();
    expect(rd2.softState).toBeUndefined();
    expect(rd2.hardState).toEqual({ term: 1, vote: "a", commit: 1 });
    node.advance();
    node.tick();
    expect(node.hasReady()).toBe(false);
  });

  it("never reports an entry committed before the leader has persisted it", () => {
    const { node, storage } = singleNode();
    node.campaign();
    let rd = node.ready();
    storage.append(rd.entries);
    node.advance();
    rd = node.ready();
    node.advance();
    const ticket = node.propose(new Uint8Array([7]));
    rd = node.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([ticket.index]);
    expect(rd.committedEntries).toEqual([]); // not durable yet
    storage.append(rd.entries);
    node.advance();
    rd = node.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([ticket.index]);
    node.advance();
    expect(node.status()).toMatchObject({ commit: ticket.index, applied: ticket.index });
  });

  it("restarts from storage: same term and vote, committed entries delivered again", () => {
    const { node, storage } = singleNode();
    node.campaign();
    for (let i = 0; i < 4; i++) {
      const rd = node.ready();
      storage.append(rd.entries);
      if (rd.hardState) storage.setHardState(rd.hardState);
      node.advance();
      if (i === 1) node.propose(new Uint8Array([1]));
    }
    const again = new RawNode({
      id: "a",
      storage,
      random: createSeededRandom(4),
      bootstrap: { voters: ["a"], learners: [] },
    });
    expect(again.status()).toMatchObject({ term: 1, vote: "a", role: "follower", commit: 2 });
    expect(again.ready().committedEntries.map((e) => e.type)).toEqual(["noop", "normal"]);
  });
});
