// A model-based property test of the block life cycle (docs/subnet-pool.md, "Block life
// cycle"): random operator and node commands (leases, releases, drains, forced and plain
// removals of subnets, deregistrations in every mode, API subnets, topology-file reloads, direct
// allocations) against the invariants that keep every address single-held:
// - a block is leased (in any state) to at most one node, and never changes hands without being
//   given back first;
// - a revoked block stays with its holder, revoked, until that holder returns it or is declared
//   dead;
// - nothing new is leased from a draining or removing subnet, or to a deregistering node;
// - a removing subnet or deregistering node goes only once it holds nothing;
// and replicas (through the command encoding, and restored from a snapshot) agree byte for byte.
import { exampleTopology, type TopologyConfig, toCanonicalConfig } from "@ipam/topology";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BlockLease,
  type ClusterCommand,
  ClusterState,
  type CommandResult,
  decodeCommand,
  encodeCommand,
} from "../src/index.js";
import { observe } from "./snapshot-scenarios.js";

const NODES = ["node-a1", "node-a2", "node-a3", "node-b1", "extra"];
const TOR_OF: Record<string, string> = {
  "node-a1": "tor-a1-1",
  "node-a2": "tor-a1-1",
  "node-a3": "tor-a1-2",
  "node-b1": "tor-b1-1",
  extra: "tor-a1-1",
};
const SUBNETS = [
  "tor-a1-1-storage-v4",
  "tor-a1-1-default-v6",
  "pod-a1-default-v4-spill",
  "tor-a1-1-management-v4",
  "api-blue",
  "api-mgmt",
];

/** The API subnets the test may add (small, so that they fill up). */
const API_SUBNETS = {
  "api-blue": {
    id: "api-blue",
    cidr: "10.99.10.0/26",
    purpose: "storage",
    blockPrefix: 28,
    priority: -1,
    scope: { kind: "tor" as const, id: "tor-a1-1" },
  },
  "api-mgmt": {
    id: "api-mgmt",
    cidr: "10.99.11.0/29",
    purpose: "management",
    blockPrefix: 32,
    priority: -1,
    scope: { kind: "tor" as const, id: "tor-a1-1" },
  },
};

/** The example config, without some subnets. */
function fileConfig(drop: readonly string[]): TopologyConfig {
  const config = structuredClone(toCanonicalConfig(exampleTopology())) as unknown as {
    zones: {
      pods: {
        subnets: { id: string }[];
        tors: { subnets: { id: string }[]; nodes: { id: string }[] }[];
      }[];
    }[];
  };
  for (const zone of config.zones)
    for (const pod of zone.pods) {
      pod.subnets = pod.subnets.filter((s) => !drop.includes(s.id));
      for (const tor of pod.tors) tor.subnets = tor.subnets.filter((s) => !drop.includes(s.id));
    }
  return config as unknown as TopologyConfig;
}

type Make = (s: ClusterState) => ClusterCommand;

const node = fc.constantFrom(...NODES);
const subnet = fc.constantFrom(...SUBNETS);
const family = fc.constantFrom(4 as const, 6 as const);

const leaseT = fc.record({ node, purpose: fc.constantFrom("default", "storage"), family }).map(
  (r): Make =>
    () => ({ type: "lease-block", at: 0, ...r }),
);
const leaseInT = fc.record({ node, subnet }).map(
  (r): Make =>
    () => ({ type: "lease-block", at: 0, ...r }),
);
const releaseT = fc.record({ node, pick: fc.nat() }).map(
  (r): Make =>
    (s) => {
      const leases = s.nodeLeases(r.node);
      const cidr = leases[r.pick % Math.max(1, leases.length)]?.cidr ?? "10.99.8.0/28";
      return { type: "release-block", at: 0, node: r.node, cidr };
    },
);
const drainT = fc.record({ subnet, draining: fc.boolean() }).map(
  (r): Make =>
    () => ({ type: "drain-subnet", at: 0, ...r }),
);
const removeT = fc.record({ subnet, force: fc.boolean() }).map(
  (r): Make =>
    () => ({ type: "remove-subnet", at: 0, ...r }),
);
const deregisterT = fc
  .record({
    node,
    mode: fc.constantFrom("if-empty" as const, "revoke" as const, "dead" as const, undefined),
  })
  .map(
    (r): Make =>
      () =>
        r.mode === undefined
          ? { type: "deregister-node", at: 0, node: r.node }
          : { type: "deregister-node", at: 0, node: r.node, mode: r.mode },
  );
const registerT = node.map(
  (n): Make =>
    () => ({ type: "register-node", at: 0, node: n, tor: TOR_OF[n] as string }),
);
const addApiT = fc.constantFrom("api-blue" as const, "api-mgmt" as const).map(
  (id): Make =>
    () => ({ type: "add-subnet", at: 0, origin: "api", subnet: API_SUBNETS[id] }),
);
const reloadT = fc
  .subarray(["tor-a1-1-storage-v4", "tor-a1-1-default-v6", "tor-a1-1-management-v4"])
  .map(
    (drop): Make =>
      () => ({ type: "apply-topology", at: 0, source: "file", config: fileConfig(drop) }),
  );
const directT = fc.record({ node, c: fc.integer({ min: 0, max: 9 }) }).map(
  (r): Make =>
    () => ({
      type: "allocate-direct",
      at: 0,
      node: r.node,
      purpose: "management",
      family: 4,
      key: { network: "k8s", containerId: `c${r.c}`, ifname: "eth0" },
    }),
);
const releaseDirectT = fc.integer({ min: 0, max: 9 }).map(
  (c): Make =>
    () => ({
      type: "release-direct",
      at: 0,
      key: { network: "k8s", containerId: `c${c}`, ifname: "eth0" },
    }),
);

const anyT = fc.oneof(
  { weight: 6, arbitrary: leaseT },
  { weight: 2, arbitrary: leaseInT },
  { weight: 5, arbitrary: releaseT },
  { weight: 2, arbitrary: drainT },
  { weight: 2, arbitrary: removeT },
  { weight: 2, arbitrary: deregisterT },
  { weight: 2, arbitrary: registerT },
  { weight: 1, arbitrary: addApiT },
  { weight: 1, arbitrary: reloadT },
  { weight: 3, arbitrary: directT },
  { weight: 2, arbitrary: releaseDirectT },
);
const steps = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 5000 }), make: anyT }), {
  maxLength: 80,
});

function setup(): ClusterState {
  const s = new ClusterState();
  const r = s.apply({ type: "apply-topology", at: 0, source: "file", config: fileConfig([]) });
  if (!r.ok) throw new Error(r.error.message);
  return s;
}

/** Every leased block (any state) by CIDR. */
function blocksOf(state: ClusterState): Map<string, BlockLease> {
  const out = new Map<string, BlockLease>();
  for (const n of state.nodes()) {
    for (const l of state.nodeLeases(n.id)) {
      expect(out.has(l.cidr), `${l.cidr} leased twice`).toBe(false);
      out.set(l.cidr, l);
    }
  }
  return out;
}

interface Before {
  readonly blocks: Map<string, BlockLease>;
  readonly deregistering: Set<string>;
  readonly closed: Set<string>;
  readonly holding: Map<string, number>;
  readonly nodes: Set<string>;
}

function before(state: ClusterState): Before {
  const views = state.subnets();
  const holding = new Map<string, number>();
  for (const v of views) {
    const h = state.subnetHoldings(v.subnet.id);
    holding.set(v.subnet.id, (h?.blocks.length ?? 0) + (h?.direct.length ?? 0));
  }
  return {
    blocks: blocksOf(state),
    deregistering: new Set(
      state
        .nodes()
        .filter((n) => state.node(n.id)?.deregistering)
        .map((n) => n.id),
    ),
    closed: new Set(views.filter((v) => v.draining || v.removing).map((v) => v.subnet.id)),
    holding,
    nodes: new Set(state.nodes().map((n) => n.id)),
  };
}

/** The invariants between the state before and after one command. */
function check(was: Before, state: ClusterState, cmd: ClusterCommand, result: CommandResult): void {
  const now = blocksOf(state);
  const dead =
    result.ok && cmd.type === "deregister-node" && (cmd.mode === undefined || cmd.mode === "dead");
  for (const [cidr, lease] of was.blocks) {
    const after = now.get(cidr);
    if (after !== undefined) {
      // Never changes hands without being given back first.
      expect(after.node, `${cidr} changed hands`).toBe(lease.node);
      if (lease.state === "revoked") expect(after.state, `${cidr} un-revoked`).toBe("revoked");
      continue;
    }
    if (lease.state !== "revoked") continue;
    // A revoked block goes only by its holder's release or the holder declared dead.
    const returned =
      result.ok && cmd.type === "release-block" && cmd.node === lease.node && cmd.cidr === cidr;
    const declaredDead = dead && cmd.type === "deregister-node" && cmd.node === lease.node;
    expect(returned || declaredDead, `revoked ${cidr} of ${lease.node} freed by ${cmd.type}`).toBe(
      true,
    );
  }
  for (const [cidr, lease] of now) {
    if (was.blocks.has(cidr)) continue;
    // A new lease: never to a deregistering node, never from a closed subnet.
    expect(cmd.type).toBe("lease-block");
    expect(was.deregistering.has(lease.node), `lease to deregistering ${lease.node}`).toBe(false);
    expect(was.closed.has(lease.subnet.id), `lease from closed ${lease.subnet.id}`).toBe(false);
    expect(lease.state).toBe("leased");
  }
  // A removing subnet or deregistering node goes only once it holds nothing.
  const subnetsNow = new Set(state.subnets().map((v) => v.subnet.id));
  for (const v of was.holding.keys()) {
    if (subnetsNow.has(v)) continue;
    const h = [...was.blocks.values()].filter((l) => l.subnet.id === v);
    for (const l of h)
      expect(now.has(l.cidr), `${l.cidr} of deleted ${v} still leased`).toBe(false);
  }
  for (const n of was.deregistering) {
    if (state.node(n) !== undefined) continue;
    expect(dead || [...now.values()].every((l) => l.node !== n)).toBe(true);
  }
  for (const d of state.directAllocations()) expect(state.node(d.node)).toBeDefined();
}

function materialise(steps: readonly { dt: number; make: Make }[]): ClusterCommand[] {
  const state = setup();
  const out: ClusterCommand[] = [];
  let at = 1;
  for (const s of steps) {
    at += s.dt;
    const cmd = { ...s.make(state), at } as ClusterCommand;
    out.push(cmd);
    state.apply(cmd);
  }
  return out;
}

describe("block life cycle (model-based)", () => {
  it("keeps every block single-held, revoked blocks with their holder, replicas equal", () => {
    fc.assert(
      fc.property(steps, (s) => {
        const commands = materialise(s);
        const leader = setup();
        const follower = setup();
        for (const cmd of commands) {
          const was = before(leader);
          const result = leader.apply(cmd);
          check(was, leader, cmd, result);
          expect(follower.apply(decodeCommand(encodeCommand(cmd)))).toEqual(result);
        }
        expect(Buffer.from(follower.snapshot()).equals(Buffer.from(leader.snapshot()))).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it("a snapshot taken at any point restores the same state and continues the same", () => {
    fc.assert(
      fc.property(steps, fc.nat(), (s, cut) => {
        const commands = materialise(s);
        const k = commands.length === 0 ? 0 : cut % (commands.length + 1);
        const whole = setup();
        for (const cmd of commands.slice(0, k)) whole.apply(cmd);
        const bytes = whole.snapshot();
        const restored = ClusterState.restore(bytes);
        expect(Buffer.from(restored.snapshot()).equals(Buffer.from(bytes))).toBe(true);
        expect(observe(restored)).toEqual(observe(whole));
        for (const cmd of commands.slice(k)) expect(restored.apply(cmd)).toEqual(whole.apply(cmd));
        expect(Buffer.from(restored.snapshot()).equals(Buffer.from(whole.snapshot()))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});
