import {
  type ClusterCommand,
  ClusterState,
  type CommandResult,
  decodeCommand,
  encodeCommand,
} from "@ipam/subnet-pool";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import { describe, expect, it } from "vitest";
import { IpamdError } from "../ipamd-error.js";
import { ProposalBatcher } from "./proposal-batcher.js";

/** A log of one replica: every proposal is one entry, encoded and applied in order. */
function replica() {
  const state = new ClusterState();
  const entries: ClusterCommand[] = [];
  const apply = (c: ClusterCommand) => state.apply(decodeCommand(encodeCommand(c)));
  expect(
    apply({ type: "apply-topology", at: 0, config: toCanonicalConfig(exampleTopology()) }).ok,
  ).toBe(true);
  return {
    state,
    entries,
    propose: async (c: ClusterCommand): Promise<CommandResult> => {
      entries.push(c);
      return apply(c);
    },
  };
}

const direct = (containerId: string, node = "node-a1"): ClusterCommand => ({
  type: "allocate-direct",
  at: 1,
  node,
  purpose: "management",
  family: 6,
  key: { network: "k8s", containerId, ifname: "eth0" },
});

describe("ProposalBatcher", () => {
  it("puts the allocations of one turn in one entry and answers each caller with its own result", async () => {
    const log = replica();
    const batcher = new ProposalBatcher({ propose: log.propose });
    const calls = [
      batcher.submit(direct("c1")),
      batcher.submit({ type: "batch", at: 1, commands: [direct("c2"), direct("c3")] }),
      // Fails on its own (no such node) inside a batch of good ones.
      batcher.submit(direct("c4", "no-such-node")),
      batcher.submit({
        type: "lease-block",
        at: 1,
        node: "node-a2",
        purpose: "default",
        family: 4,
        requestId: "r1",
      }),
    ];
    const [one, pair, failed, lease] = await Promise.all(calls);
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]?.type).toBe("batch");

    const addressOf = (r: CommandResult | undefined) =>
      r?.ok === true ? (r.value as { address: string }).address : undefined;
    expect(addressOf(one)).toMatch(/^fd99:0:0:2::/);
    expect(pair?.ok).toBe(true);
    const items = (pair as { value: CommandResult[] }).value;
    expect(items).toHaveLength(2);
    const addresses = [addressOf(one), ...items.map(addressOf)];
    expect(new Set(addresses).size).toBe(3);
    expect(failed).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(lease?.ok).toBe(true);

    // Exactly what the state holds: each key once, with the address its caller was told.
    const held = log.state.directAllocations("node-a1");
    expect(held.map((d) => d.key.containerId).sort()).toEqual(["c1", "c2", "c3"]);
    for (const d of held) expect(addresses).toContain(d.address);
    expect(log.state.nodeLeases("node-a2")).toHaveLength(1);
  });

  it("proposes a command alone in its turn, an atomic batch and other commands as they are", async () => {
    const log = replica();
    const batcher = new ProposalBatcher({ propose: log.propose });
    expect((await batcher.submit(direct("alone"))).ok).toBe(true);
    expect(log.entries.map((e) => e.type)).toEqual(["allocate-direct"]);
    const atomic: ClusterCommand = { type: "batch", at: 2, atomic: true, commands: [direct("a")] };
    const register: ClusterCommand = { type: "register-node", at: 2, node: "n9", tor: "tor-a1-1" };
    await Promise.all([
      batcher.submit(atomic),
      batcher.submit(register),
      batcher.submit(direct("b")),
    ]);
    expect(log.entries.slice(1)).toEqual([atomic, register, direct("b")]);
  });

  it("gives every caller of a shared entry the log's error when the entry fails", async () => {
    const error = new IpamdError("NOT_LEADER", "not the leader");
    const batcher = new ProposalBatcher({ propose: () => Promise.reject(error) });
    const results = await Promise.allSettled([
      batcher.submit(direct("x")),
      batcher.submit(direct("y")),
    ]);
    expect(results).toEqual([
      { status: "rejected", reason: error },
      { status: "rejected", reason: error },
    ]);
  });

  it("splits a turn into entries of at most maxCommands commands", async () => {
    const log = replica();
    const batcher = new ProposalBatcher({ propose: log.propose, maxCommands: 3 });
    const results = await Promise.all(
      Array.from({ length: 7 }, (_, i) => batcher.submit(direct(`k${i}`))),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(log.entries.map((e) => (e.type === "batch" ? e.commands.length : 1))).toEqual([3, 3, 1]);
    expect(log.state.directAllocations("node-a1")).toHaveLength(7);
  });
});
