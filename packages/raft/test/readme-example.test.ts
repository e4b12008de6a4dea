import { expect, it } from "vitest";
import { createSeededRandom, RawNode } from "../src/index.js";
import { encodeKvPut, KvStateMachine, MemoryLog } from "../src/testing/index.js";

// The README example, verbatim apart from imports and the final assertion.
it("README example: a single-node cluster commits and applies a proposal", () => {
  const storage = new MemoryLog();
  const sm = new KvStateMachine();
  const node = new RawNode({
    id: "n1",
    storage,
    random: createSeededRandom(1),
    bootstrap: { voters: ["n1"], learners: [] },
  });
  function handleReady(): void {
    while (node.hasReady()) {
      const rd = node.ready();
      if (rd.snapshot) storage.applySnapshot(rd.snapshot);
      storage.append(rd.entries);
      if (rd.hardState) storage.setHardState(rd.hardState);
      if (rd.snapshot) sm.restore(rd.snapshot.data);
      for (const e of rd.committedEntries) if (e.type === "normal") sm.apply(e.data, e.index);
      node.advance();
    }
  }
  node.campaign();
  handleReady();
  const ticket = node.propose(encodeKvPut({ key: "subnet", value: "10.0.0.0/24" }));
  handleReady();
  expect(ticket).toEqual({ index: 2, term: 1 });
  expect(sm.get("subnet")).toBe("10.0.0.0/24");
});
