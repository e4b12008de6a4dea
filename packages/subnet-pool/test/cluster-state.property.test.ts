import { Cidr } from "@ipam/bitmap";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ClusterCommand,
  ClusterState,
  type CommandResult,
  decodeCommand,
  encodeCommand,
} from "../src/index.js";

const config = toCanonicalConfig(exampleTopology());
const NODES = ["node-a1", "node-a2", "node-a3", "node-b1", "extra"];
const PURPOSES = ["default", "storage", "management", "gpu"];

/** A command template; `cidrPick` chooses among the blocks leased so far when the command runs. */
type Step =
  | { kind: "cmd"; dt: number; make: (s: ClusterState) => ClusterCommand }
  | {
      kind: "batch";
      dt: number;
      atomic: boolean;
      items: Array<(s: ClusterState) => ClusterCommand>;
    };

const node = fc.constantFrom(...NODES);
const purpose = fc.constantFrom(...PURPOSES);
const family = fc.constantFrom(4 as const, 6 as const);
const container = fc
  .integer({ min: 0, max: 12 })
  .map((i) => ({ network: "k8s", containerId: `c${i}`, ifname: "eth0" }));

const leaseT = fc
  .record({ node, purpose, family, strategy: fc.constantFrom("tor" as const, "spill" as const) })
  .map(
    (r) =>
      (_: ClusterState): ClusterCommand => ({ type: "lease-block", at: 0, ...r }),
  );
const releaseT = fc
  .record({ node, pick: fc.nat() })
  .map((r) => (s: ClusterState): ClusterCommand => {
    const leases = s.nodeLeases(r.node);
    const cidr =
      leases.length === 0 ? "10.99.0.0/26" : (leases[r.pick % leases.length]?.cidr ?? "");
    return { type: "release-block", at: 0, node: r.node, cidr };
  });
const directT = fc.record({ node, purpose, family, key: container }).map(
  (r) =>
    (_: ClusterState): ClusterCommand => ({ type: "allocate-direct", at: 0, ...r }),
);
const directAtT = fc
  .record({ node, family, key: container, host: fc.integer({ min: 0, max: 63 }) })
  .map(
    (r) =>
      (_: ClusterState): ClusterCommand => ({
        type: "allocate-direct",
        at: 0,
        node: r.node,
        purpose: "management",
        family: r.family,
        key: r.key,
        address: r.family === 4 ? `10.99.9.${r.host}` : `fd99:0:0:2::${r.host.toString(16)}`,
      }),
  );
const releaseDirectT = fc
  .record({ key: container, family: fc.option(family, { nil: undefined }) })
  .map(
    (r) =>
      (_: ClusterState): ClusterCommand =>
        r.family === undefined
          ? { type: "release-direct", at: 0, key: r.key }
          : { type: "release-direct", at: 0, key: r.key, family: r.family },
  );
const subnetId = fc.constantFrom(
  "tor-a1-1-management-v4",
  "tor-a1-1-storage-v4",
  "tor-a1-1-default-v6",
  "pod-a1-default-v4-spill",
);
const drainT = fc.record({ subnet: subnetId, draining: fc.boolean() }).map(
  (r) =>
    (_: ClusterState): ClusterCommand => ({ type: "drain-subnet", at: 0, ...r }),
);
const reserveT = fc
  .record({
    host: fc.integer({ min: 2, max: 60 }),
    len: fc.integer({ min: 0, max: 3 }),
    un: fc.boolean(),
  })
  .map((r) => (_: ClusterState): ClusterCommand => {
    const range = `10.99.9.${r.host}-10.99.9.${Math.min(63, r.host + r.len)}`;
    return r.un
      ? { type: "unreserve", at: 0, subnet: "tor-a1-1-management-v4", range }
      : { type: "reserve", at: 0, subnet: "tor-a1-1-management-v4", range, reason: "test" };
  });
const nodeT = fc.boolean().map(
  (reg) =>
    (_: ClusterState): ClusterCommand =>
      reg
        ? { type: "register-node", at: 0, node: "extra", tor: "tor-a1-1" }
        : { type: "deregister-node", at: 0, node: "extra" },
);
const anyT = fc.oneof(
  { weight: 5, arbitrary: leaseT },
  { weight: 3, arbitrary: releaseT },
  { weight: 5, arbitrary: directT },
  { weight: 2, arbitrary: directAtT },
  { weight: 3, arbitrary: releaseDirectT },
  { weight: 1, arbitrary: drainT },
  { weight: 1, arbitrary: reserveT },
  { weight: 1, arbitrary: nodeT },
);
const dt = fc.integer({ min: 0, max: 20_000 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("cmd" as const), dt, make: anyT }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("batch" as const),
      dt,
      atomic: fc.boolean(),
      items: fc.array(anyT, { maxLength: 4 }),
    }),
  },
);

/** Runs the steps, materialising each command against `state` (before applying it). */
function materialise(state: ClusterState, steps: readonly Step[]): ClusterCommand[] {
  const commands: ClusterCommand[] = [];
  let at = 1;
  for (const s of steps) {
    at += s.dt;
    const t = at;
    const cmd: ClusterCommand =
      s.kind === "cmd"
        ? { ...s.make(state), at: t }
        : {
            type: "batch",
            at: t,
            atomic: s.atomic,
            commands: s.items.map((m) => ({ ...m(state), at: t })),
          };
    commands.push(cmd);
    state.apply(cmd);
  }
  return commands;
}

function setup(): ClusterState {
  const s = new ClusterState();
  const r = s.apply({ type: "apply-topology", at: 0, config });
  if (!r.ok) throw new Error(r.error.message);
  return s;
}

const ALLOWED = new Set([
  "POOL_EXHAUSTED",
  "NO_SUBNET",
  "DRAINING",
  "NOT_FOUND",
  "CONFLICT",
  "INVALID_ARGUMENT",
]);

function checkResult(state: ClusterState, cmd: ClusterCommand, result: CommandResult): void {
  if (!result.ok) {
    expect(ALLOWED.has(result.error.code), `${result.error.code}: ${result.error.message}`).toBe(
      true,
    );
    return;
  }
  if (cmd.type === "lease-block" && cmd.purpose !== undefined) {
    const v = result.value as {
      subnet: { purpose: string; family: number; scope: { kind: string } };
      cidr: string;
    };
    expect(v.subnet.purpose).toBe(cmd.purpose);
    expect(v.subnet.family).toBe(cmd.family);
    if (cmd.strategy === "tor") expect(v.subnet.scope.kind).toBe("tor");
    expect(Cidr.parse(v.cidr).family).toBe(cmd.family);
  }
  if (cmd.type === "allocate-direct") {
    const v = result.value as { purpose: string; family: number; address: string; subnet: string };
    expect(v.purpose).toBe(cmd.purpose);
    expect(v.family).toBe(cmd.family);
    const subnet = state.topology().subnets.get(v.subnet);
    expect(subnet?.purpose).toBe(cmd.purpose);
    expect(
      Cidr.parse(subnet?.cidr ?? "").contains(
        Cidr.parse(`${v.address}/${cmd.family === 4 ? 32 : 128}`),
      ),
    ).toBe(true);
  }
}

/** No block is leased twice, blocks never overlap, no direct address has two owners. */
function checkOwnership(state: ClusterState): void {
  const blocks = state
    .nodes()
    .flatMap((n) => state.nodeLeases(n.id).map((l) => Cidr.parse(l.cidr)));
  blocks.sort(Cidr.compare);
  for (let i = 1; i < blocks.length; i++) {
    expect((blocks[i - 1] as Cidr).overlaps(blocks[i] as Cidr)).toBe(false);
  }
  const addresses = state.directAllocations().map((d) => d.address);
  expect(new Set(addresses).size).toBe(addresses.length);
  for (const d of state.directAllocations()) expect(state.node(d.node)).toBeDefined();
}

describe("ClusterState properties", () => {
  it("replicas agree, and every result respects purpose, family and ownership", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const leader = setup();
        const commands = materialise(setup(), steps);
        const follower = setup();
        for (const cmd of commands) {
          const result = leader.apply(cmd);
          checkResult(leader, cmd, result);
          if (cmd.type === "batch" && result.ok) {
            (result.value as CommandResult[]).forEach((r, i) => {
              checkResult(leader, cmd.commands[i] as ClusterCommand, r);
            });
          }
          checkOwnership(leader);
          // The follower sees the command through the log encoding.
          expect(follower.apply(decodeCommand(encodeCommand(cmd)))).toEqual(result);
        }
        expect(follower.snapshot()).toEqual(leader.snapshot());
      }),
      { numRuns: 60 },
    );
  });

  it("restore(snapshot after k) then the rest equals applying everything", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 50 }), fc.nat(), (steps, cut) => {
        const commands = materialise(setup(), steps);
        const k = commands.length === 0 ? 0 : cut % (commands.length + 1);
        const whole = setup();
        const prefix = setup();
        for (const cmd of commands.slice(0, k)) prefix.apply(cmd);
        const restored = ClusterState.restore(prefix.snapshot());
        for (const cmd of commands.slice(0, k)) whole.apply(cmd);
        for (const cmd of commands.slice(k)) {
          expect(restored.apply(cmd)).toEqual(whole.apply(cmd));
        }
        expect(restored.snapshot()).toEqual(whole.snapshot());
      }),
      { numRuns: 60 },
    );
  });

  it("exhaustion is reported, never a wrong purpose or family", () => {
    const state = setup();
    const seen = new Set<string>();
    for (let i = 0; ; i++) {
      const r = state.apply({
        type: "lease-block",
        at: i,
        node: "node-a1",
        purpose: "storage",
        family: 4,
        strategy: "tor",
      });
      if (!r.ok) {
        expect(r.error.code).toBe("POOL_EXHAUSTED");
        break;
      }
      expect(r.value.subnet.id).toBe("tor-a1-1-storage-v4");
      seen.add(r.value.cidr);
    }
    expect(seen.size).toBe(16); // a /24 in /28 blocks
  });
});
