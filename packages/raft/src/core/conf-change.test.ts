import { describe, expect, it } from "vitest";
import {
  applyConfChange,
  decodeConfChangeEntry,
  EMPTY_CONF,
  encodeConfChangeEntry,
} from "./conf-change.js";
import { RaftError } from "./raft-error.js";

describe("applyConfChange", () => {
  const base = { voters: ["a", "b"], learners: [] };

  it("adds, promotes and removes one server at a time, keeping lists sorted", () => {
    const withLearner = applyConfChange(base, { type: "add-learner", node: "c", address: "x:1" });
    expect(withLearner).toEqual({ voters: ["a", "b"], learners: ["c"], addresses: { c: "x:1" } });
    const promoted = applyConfChange(withLearner, { type: "promote", node: "c" });
    expect(promoted.voters).toEqual(["a", "b", "c"]);
    expect(promoted.learners).toEqual([]);
    const removed = applyConfChange(promoted, { type: "remove", node: "c" });
    expect(removed).toEqual({ voters: ["a", "b"], learners: [] });
    expect(applyConfChange(base, { type: "add-voter", node: "0" }).voters).toEqual(["0", "a", "b"]);
  });

  it("rejects changes that make no sense, naming the node", () => {
    const cases = [
      { type: "add-voter", node: "a" },
      { type: "promote", node: "a" },
      { type: "remove", node: "z" },
      { type: "remove", node: "a", voters: ["a"] },
      { type: "add-learner", node: "" },
    ] as const;
    for (const c of cases) {
      const conf = "voters" in c ? { voters: [...c.voters], learners: [] } : base;
      try {
        applyConfChange(conf, { type: c.type, node: c.node });
        expect.fail(`${c.type} ${c.node} should throw`);
      } catch (error) {
        expect(error).toBeInstanceOf(RaftError);
        expect((error as RaftError).code).toBe("INVALID_ARGUMENT");
        expect((error as RaftError).message).toContain("change.node");
      }
    }
    expect(base).toEqual({ voters: ["a", "b"], learners: [] }); // input untouched
  });

  it("round-trips config entries and rejects garbage as CORRUPT", () => {
    const record = { change: { type: "add-learner" as const, node: "c" }, conf: EMPTY_CONF };
    expect(decodeConfChangeEntry(encodeConfChangeEntry(record))).toEqual(record);
    expect(() => decodeConfChangeEntry(new Uint8Array([1, 2, 3]))).toThrow(
      expect.objectContaining({ code: "CORRUPT" }),
    );
  });
});
