import { exampleTopology } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import { capacityCandidates, capacityFromStats } from "./remote-capacity.js";

// An agent's view of whether a node can get one more address, from the topology and GetStats.

const topology = exampleTopology();
const codeOf = (fn: () => unknown): unknown => {
  try {
    fn();
    return "ok";
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
};

describe("capacityCandidates / capacityFromStats", () => {
  it("names the known purposes for a typo, and NOT_FOUND for a family the path lacks", () => {
    expect(() => capacityCandidates(topology, "node-a1", "storge", 4)).toThrow(
      "unknown purpose storge: no subnet of the topology has it (purposes: default, management, storage)",
    );
    expect(codeOf(() => capacityCandidates(topology, "node-a1", "storge", 4))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(codeOf(() => capacityCandidates(topology, "ghost", "default", 4))).toBe("NOT_FOUND");
    expect(
      capacityCandidates(topology, "node-a1", "default", 4)
        .map((s) => s.id)
        .sort(),
    ).toEqual(["pod-a1-default-v4-spill", "tor-a1-1-default-v4"]);
  });

  it("block mode: room while some candidate has a block not leased; direct mode: a free address", () => {
    const v4 = capacityCandidates(topology, "node-a1", "default", 4);
    // 10.99.0.0/21 in /26 blocks: 32; the spill /20: 64.
    const full = [
      { id: "tor-a1-1-default-v4", free: "0", blocksLeased: 32n },
      { id: "pod-a1-default-v4-spill", free: "0", blocksLeased: 64n },
    ];
    expect(codeOf(() => capacityFromStats("node-a1", v4, full))).toBe("POOL_EXHAUSTED");
    const oneLeft = [
      full[0] as (typeof full)[0],
      { ...(full[1] as (typeof full)[0]), blocksLeased: 63n },
    ];
    expect(codeOf(() => capacityFromStats("node-a1", v4, oneLeft))).toBe("ok");
    const mgmt = capacityCandidates(topology, "node-a1", "management", 4);
    const none = [{ id: "tor-a1-1-management-v4", free: "0", blocksLeased: 61n }];
    expect(() => capacityFromStats("node-a1", mgmt, none)).toThrow(
      "no free IPv4 management address for node node-a1 in tor-a1-1-management-v4",
    );
    expect(
      codeOf(() =>
        capacityFromStats("node-a1", mgmt, [{ ...(none[0] as (typeof none)[0]), free: "1" }]),
      ),
    ).toBe("ok");
  });
});
