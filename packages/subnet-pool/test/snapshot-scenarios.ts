// The states behind the snapshot fixtures in test/fixtures/ (see snapshot-compat.test.ts): each
// scenario builds a ClusterState, lists follow-up commands to run on it, and `observe` reads
// every query as JSON-able data. The fixtures were written by generate-snapshot-fixtures.ts
// with the code of their snapshot version; they are never regenerated, only added to.
import { exampleTopology, type TopologyConfig, toCanonicalConfig } from "@ipam/topology";
import type { AllocationKey, ClusterCommand, CommandResult } from "../src/index.js";
import { ClusterState } from "../src/index.js";

/** A scenario: the state it builds and commands to run on that state (or a restored copy). */
export interface SnapshotScenario {
  readonly name: string;
  build(): ClusterState;
  readonly followUps: readonly ClusterCommand[];
}

/** What a fixture's `.expected.json` holds. */
export interface SnapshotExpectation {
  /** {@link observe} of the state the snapshot was taken from. */
  readonly queries: unknown;
  /** Each follow-up command with its result (as JSON), run in order on that state. */
  readonly followUps: readonly { readonly command: ClusterCommand; readonly result: unknown }[];
  /** Base64 of the snapshot after the follow-ups. */
  readonly snapshotAfterFollowUps: string;
}

/**
 * A value as JSON would carry it (undefined fields dropped, undefined array items null, a
 * bigint as its decimal text: exact counts).
 */
export function asJson(value: unknown): unknown {
  return value === undefined
    ? null
    : JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/** Every query of the state, for every node, key and level, as JSON-able data. */
export function observe(state: ClusterState): unknown {
  const nodes = state.nodes().map((n) => n.id);
  const direct = state.directAllocations();
  const keys: AllocationKey[] = [];
  for (const d of direct) {
    if (!keys.some((k) => k.network === d.key.network && k.containerId === d.key.containerId))
      keys.push(d.key);
  }
  return asJson({
    topology: toCanonicalConfig(state.topology()),
    nodes: state.nodes(),
    nodeViews: nodes.map((id) => state.node(id)),
    unknownNode: state.node("no-such-node") ?? null,
    leases: nodes.map((id) => ({ node: id, leases: state.nodeLeases(id) })),
    directAll: direct,
    directByNode: nodes.map((id) => ({ node: id, direct: state.directAllocations(id) })),
    directByKey: keys.map((key) => ({
      key,
      v4: state.directAllocation(key, 4) ?? null,
      v6: state.directAllocation(key, 6) ?? null,
    })),
    subnets: state.subnets(),
    usage: state.subnetUsage(),
    stats: (["zone", "pod", "tor", "subnet", "purpose"] as const).map((level) => ({
      level,
      rows: state.stats(level),
    })),
    statsFiltered: state.stats("tor", { purpose: "management", family: 4, id: "tor-a1-1" }),
    holdings: state.subnets().map((v) => state.subnetHoldings(v.subnet.id) ?? null),
    sticky: state.stickyBindings(),
  });
}

/** Applies a command that must succeed; returns its value. */
function run<C extends ClusterCommand>(state: ClusterState, command: C): unknown {
  const result: CommandResult = state.apply(command);
  if (!result.ok) {
    throw new Error(
      `${command.type} at ${command.at}: ${result.error.code} ${result.error.message}`,
    );
  }
  return result.value;
}

/** Applies a command that must fail with `code`. */
function refused(state: ClusterState, command: ClusterCommand, code: string): void {
  const result: CommandResult = state.apply(command);
  if (result.ok || result.error.code !== code) {
    throw new Error(`${command.type} at ${command.at}: expected ${code}, got ${asJson(result)}`);
  }
}

const T0 = 1_700_000_000_000;
const key = (containerId: string, network = "k8s", ifname = "eth0"): AllocationKey => ({
  network,
  containerId,
  ifname,
});

/** The example topology with a changed management subnet (reserved range, longer cool-down). */
function editedConfig(): TopologyConfig {
  const config = structuredClone(toCanonicalConfig(exampleTopology())) as unknown as {
    zones: {
      pods: { tors: { id: string; subnets: { id: string; reserved: string[] }[] }[] }[];
    }[];
  };
  for (const zone of config.zones)
    for (const pod of zone.pods)
      for (const tor of pod.tors)
        for (const subnet of tor.subnets) {
          if (subnet.id === "tor-b1-1-management-v4") {
            subnet.reserved = ["10.99.137.50-10.99.137.55"];
            (subnet as { cooldownSeconds?: number }).cooldownSeconds = 120;
          }
        }
  return config as unknown as TopologyConfig;
}

/**
 * A state with a bit of everything: v4 and v6 block and direct subnets, a run-time node and
 * subnet, leases with and without requestIds (one at a block index above 2^53), blocks skipped
 * for reservations, direct allocations in both families and two networks, cooling addresses
 * (part of the queue already expired), run-time reservations in block and direct subnets, a
 * config-reserved range from a topology change, and a draining subnet that still has a lease.
 */
function buildRich(): ClusterState {
  const s = new ClusterState();
  run(s, { type: "apply-topology", at: T0, config: toCanonicalConfig(exampleTopology()) });
  run(s, { type: "apply-topology", at: T0 + 1, config: editedConfig() });
  run(s, {
    type: "register-node",
    at: T0 + 2,
    node: "n-extra",
    tor: "tor-a1-1",
    name: "extra node",
    labels: { rack: "r9", role: "edge" },
  });
  run(s, { type: "register-node", at: T0 + 3, node: "n-b-extra", tor: "tor-b1-2" });
  const reserve = (at: number, subnet: string, range: string, reason: string) =>
    run(s, { type: "reserve", at: T0 + at, subnet, range, reason });
  reserve(4, "tor-a1-1-default-v4", "10.99.0.64/26", "legacy gear");
  reserve(5, "tor-a1-1-default-v6", "fd99::/65", "first half kept for static hosts");
  reserve(6, "tor-a1-1-management-v4", "10.99.9.10-10.99.9.12", "switch management");
  reserve(7, "tor-a1-1-management-v6", "fd99:0:0:2::20", "one address");
  reserve(8, "tor-a1-1-storage-v4", "10.99.8.0/28", "first block");

  const lease = (
    at: number,
    node: string,
    purpose: string,
    family: 4 | 6,
    extra: { requestId?: string; strategy?: "tor" | "spill" } = {},
  ) => run(s, { type: "lease-block", at: T0 + at, node, purpose, family, ...extra });
  lease(10, "node-a1", "default", 4, { requestId: "a1-r1" });
  lease(11, "node-a1", "default", 4, { requestId: "a1-r2" });
  const a2v4 = lease(12, "node-a2", "default", 4) as { cidr: string };
  lease(13, "node-a2", "default", 4, { requestId: "a2-r1" });
  lease(14, "node-a1", "default", 6);
  lease(15, "node-a2", "default", 6, { requestId: "a2-v6" });
  lease(16, "node-a1", "storage", 6);
  lease(17, "node-a1", "storage", 4);
  lease(18, "node-a3", "default", 4, { strategy: "tor" });
  lease(19, "node-b1", "default", 4, { requestId: "b1-r1" });
  lease(20, "node-b3", "default", 6);
  lease(21, "n-b-extra", "storage", 6);
  run(s, {
    type: "lease-block",
    at: T0 + 22,
    node: "n-extra",
    subnet: "pod-a1-default-v4-spill",
  });
  run(s, { type: "lease-block", at: T0 + 23, node: "node-a2", subnet: "pod-a1-default-v4-spill" });
  run(s, { type: "release-block", at: T0 + 24, node: "node-a2", cidr: a2v4.cidr });

  const allocate = (
    at: number,
    node: string,
    family: 4 | 6,
    k: AllocationKey,
    extra: { address?: string; purpose?: string } = {},
  ) =>
    run(s, {
      type: "allocate-direct",
      at: T0 + at,
      node,
      purpose: extra.purpose ?? "management",
      family,
      key: k,
      ...(extra.address === undefined ? {} : { address: extra.address }),
    });
  for (let i = 1; i <= 5; i++) allocate(30 + i, "node-a1", 4, key(`c${i}`));
  allocate(36, "node-a1", 4, key("c-fixed"), { address: "10.99.9.40" });
  allocate(37, "node-a2", 4, key("c6"));
  allocate(38, "node-a2", 6, key("c6"));
  allocate(39, "node-a2", 6, key("c6b", "k8s", "net1"));
  allocate(40, "n-extra", 4, key("c7"));
  allocate(41, "n-extra", 6, key("c7"));
  allocate(42, "node-b1", 4, key("c8", "underlay", "eth1"));
  allocate(43, "node-b1", 4, key("c8", "k8s", "eth0"));
  allocate(44, "node-a3", 4, key("c9"));
  allocate(45, "node-b2", 6, key("c10"));

  run(s, { type: "release-direct", at: T0 + 10_000, key: key("c3") });
  run(s, { type: "release-direct", at: T0 + 20_000, key: key("c6"), family: 4 });
  run(s, { type: "release-direct", at: T0 + 21_000, key: key("c8", "underlay", "eth1") });
  run(s, { type: "deregister-node", at: T0 + 25_000, node: "n-extra" });
  // Expires c3's cool-down (until T0 + 40,000) but not the later ones.
  allocate(45_000, "node-a1", 4, key("c11"));

  run(s, {
    type: "add-subnet",
    at: T0 + 46_000,
    subnet: {
      id: "tor-a1-1-underlay-v4",
      cidr: "10.99.10.0/27",
      purpose: "underlay",
      blockPrefix: 32,
      cooldownSeconds: 60,
      scope: { kind: "tor", id: "tor-a1-1" },
    },
  });
  run(s, {
    type: "add-subnet",
    at: T0 + 46_001,
    subnet: {
      id: "pod-b1-storage-v6",
      cidr: "fd99:0:0:4800::/64",
      purpose: "storage",
      blockPrefix: 112,
      priority: 5,
      scope: { kind: "pod", id: "pod-b1" },
    },
  });
  allocate(46_002, "node-a2", 4, key("u1", "underlay", "eth1"), { purpose: "underlay" });
  allocate(46_003, "node-a1", 4, key("u2", "underlay", "eth1"), { purpose: "underlay" });
  run(s, { type: "release-direct", at: T0 + 46_004, key: key("u1", "underlay", "eth1") });
  lease(46_005, "node-b3", "storage", 6, { requestId: "b3-storage" });

  run(s, { type: "drain-subnet", at: T0 + 47_000, subnet: "pod-a1-default-v4-spill" });
  run(s, { type: "drain-subnet", at: T0 + 47_001, subnet: "tor-b1-1-storage-v4" });
  run(s, {
    type: "drain-subnet",
    at: T0 + 47_002,
    subnet: "tor-b1-1-storage-v4",
    draining: false,
  });
  run(s, {
    type: "reserve",
    at: T0 + 47_003,
    subnet: "tor-b1-1-management-v4",
    range: "10.99.137.60/30",
    reason: "to be removed",
  });
  run(s, {
    type: "unreserve",
    at: T0 + 47_004,
    subnet: "tor-b1-1-management-v4",
    range: "10.99.137.60/30",
  });
  // A failed atomic batch changes nothing; a plain batch keeps what succeeded.
  refused(
    s,
    {
      type: "batch",
      at: T0 + 48_000,
      atomic: true,
      commands: [
        { type: "lease-block", at: T0 + 48_000, node: "node-a4", purpose: "default", family: 4 },
        { type: "release-block", at: T0 + 48_000, node: "node-a4", cidr: "10.99.250.0/26" },
      ],
    },
    "NOT_FOUND",
  );
  run(s, {
    type: "batch",
    at: T0 + 48_001,
    commands: [
      {
        type: "allocate-direct",
        at: T0 + 48_001,
        node: "node-a4",
        purpose: "management",
        family: 4,
        key: key("c12"),
      },
      {
        type: "allocate-direct",
        at: T0 + 48_001,
        node: "node-a4",
        purpose: "no-such-purpose",
        family: 4,
        key: key("c13"),
      },
    ],
  });
  return s;
}

/** {@link editedConfig} plus the rich state's run-time subnets, minus the pod-a1 spill subnet. */
function richFinalConfig(): TopologyConfig {
  const config = editedConfig() as unknown as {
    zones: {
      pods: {
        id: string;
        subnets: { id: string; [field: string]: unknown }[];
        tors: { id: string; subnets: object[] }[];
      }[];
    }[];
  };
  for (const zone of config.zones)
    for (const pod of zone.pods) {
      if (pod.id === "pod-a1")
        pod.subnets = pod.subnets.filter((s) => s.id !== "pod-a1-default-v4-spill");
      if (pod.id === "pod-b1")
        pod.subnets.push({
          id: "pod-b1-storage-v6",
          cidr: "fd99:0:0:4800::/64",
          purpose: "storage",
          blockPrefix: 112,
          priority: 5,
        });
      for (const tor of pod.tors)
        if (tor.id === "tor-a1-1")
          tor.subnets.push({
            id: "tor-a1-1-underlay-v4",
            cidr: "10.99.10.0/27",
            purpose: "underlay",
            blockPrefix: 32,
            cooldownSeconds: 60,
          });
    }
  return config as unknown as TopologyConfig;
}

/** A topology of one TOR with a block and a direct subnet. */
const smallConfig = {
  version: 1,
  zones: [
    {
      id: "z",
      pods: [
        {
          id: "p",
          tors: [
            {
              id: "t",
              subnets: [
                { id: "t-v4", cidr: "10.99.0.0/24", blockPrefix: 28 },
                { id: "t-m6", cidr: "fd99::/120", purpose: "management", blockPrefix: 128 },
              ],
              nodes: [{ id: "n1" }],
            },
          ],
        },
      ],
    },
  ],
} as unknown as TopologyConfig;

/** Commands run after restoring the rich snapshot; results and final bytes must match. */
const richFollowUps: ClusterCommand[] = [
  // A retry of a held request gets its block back with the first lease time.
  {
    type: "lease-block",
    at: T0 + 50_000,
    node: "node-a1",
    purpose: "default",
    family: 4,
    requestId: "a1-r1",
  },
  { type: "lease-block", at: T0 + 50_001, node: "node-b1", purpose: "default", family: 4 },
  { type: "lease-block", at: T0 + 50_002, node: "node-a1", purpose: "default", family: 4 },
  { type: "lease-block", at: T0 + 50_003, node: "node-a1", purpose: "default", family: 6 },
  { type: "lease-block", at: T0 + 50_004, node: "node-a2", subnet: "pod-a1-default-v4-spill" },
  { type: "lease-block", at: T0 + 50_005, node: "node-b3", subnet: "pod-b1-storage-v6" },
  {
    type: "lease-block",
    at: T0 + 50_006,
    node: "node-b3",
    purpose: "storage",
    family: 6,
    requestId: "b3-storage",
  },
  // c6's v4 address cooled down at +50,000; n-extra's (10.99.9.8) cools until +55,000.
  {
    type: "allocate-direct",
    at: T0 + 50_007,
    node: "node-a1",
    purpose: "management",
    family: 4,
    key: key("f1"),
  },
  {
    type: "allocate-direct",
    at: T0 + 50_008,
    node: "node-a1",
    purpose: "management",
    family: 4,
    key: key("f2"),
    address: "10.99.9.8",
  },
  {
    type: "allocate-direct",
    at: T0 + 50_009,
    node: "node-a1",
    purpose: "management",
    family: 4,
    key: key("c1"),
  },
  {
    type: "allocate-direct",
    at: T0 + 50_010,
    node: "node-a2",
    purpose: "underlay",
    family: 4,
    key: key("f3", "underlay", "eth1"),
  },
  {
    type: "allocate-direct",
    at: T0 + 107_000,
    node: "node-a2",
    purpose: "underlay",
    family: 4,
    key: key("f4", "underlay", "eth1"),
  },
  {
    type: "allocate-direct",
    at: T0 + 107_001,
    node: "node-b1",
    purpose: "management",
    family: 4,
    key: key("f5", "underlay", "eth1"),
  },
  {
    type: "allocate-direct",
    at: T0 + 107_002,
    node: "node-a2",
    purpose: "management",
    family: 6,
    key: key("f6"),
  },
  {
    type: "allocate-direct",
    at: T0 + 107_003,
    node: "node-a1",
    purpose: "management",
    family: 4,
    key: key("f2"),
    address: "10.99.9.8",
  },
  { type: "release-direct", at: T0 + 107_003, key: key("c8", "k8s", "eth0") },
  { type: "release-block", at: T0 + 107_004, node: "node-a1", cidr: "10.99.0.0/26" },
  { type: "release-block", at: T0 + 107_005, node: "node-a2", cidr: "10.99.0.0/26" },
  {
    type: "reserve",
    at: T0 + 107_006,
    subnet: "tor-a1-1-management-v4",
    range: "10.99.9.40",
    reason: "held address",
  },
  {
    type: "unreserve",
    at: T0 + 107_007,
    subnet: "tor-a1-1-management-v4",
    range: "10.99.9.10-10.99.9.12",
  },
  // Dropping the draining spill subnet frees node-a2's block there.
  { type: "apply-topology", at: T0 + 107_008, config: richFinalConfig() },
  { type: "drain-subnet", at: T0 + 107_008, subnet: "tor-b1-1-storage-v4" },
  { type: "remove-subnet", at: T0 + 107_009, subnet: "tor-a1-1-underlay-v4" },
  { type: "deregister-node", at: T0 + 107_010, node: "node-b1" },
  { type: "lease-block", at: T0 + 107_011, node: "n-b-extra", purpose: "default", family: 4 },
];

/** The example config without one TOR subnet. */
function exampleWithout(subnetId: string, extra: Record<string, unknown>[] = []): TopologyConfig {
  const config = structuredClone(toCanonicalConfig(exampleTopology())) as unknown as {
    zones: { pods: { tors: { id: string; subnets: Record<string, unknown>[] }[] }[] }[];
  };
  for (const zone of config.zones)
    for (const pod of zone.pods)
      for (const tor of pod.tors) {
        tor.subnets = tor.subnets.filter((x) => x.id !== subnetId);
        if (tor.id === "tor-a1-1") tor.subnets.push(...extra);
      }
  return config as unknown as TopologyConfig;
}

/** The API subnet `api-adopt` as a file would declare it. */
const adoptSubnet = {
  id: "api-adopt",
  cidr: "10.99.11.0/24",
  purpose: "green",
  gateway: "10.99.11.1",
  reserved: [],
  blockPrefix: 28,
  priority: 100,
  cooldownSeconds: 30,
};

/**
 * The block life cycle (snapshot version 2): API subnets (one adopted by the file), a subnet
 * removed by force with revoked blocks, a direct subnet removed by force with its addresses
 * kept, a file subnet dropped while draining (removing, its block revoked), a deregistering
 * node with a revoked block, and blocks already returned from removing subnets.
 */
function buildLifecycle(): ClusterState {
  const s = new ClusterState();
  run(s, {
    type: "apply-topology",
    at: T0,
    config: toCanonicalConfig(exampleTopology()),
    source: "file",
  });
  run(s, { type: "register-node", at: T0 + 1, node: "n-run", tor: "tor-a1-1" });
  const api = (at: number, subnet: Record<string, unknown>) =>
    run(s, {
      type: "add-subnet",
      at: T0 + at,
      origin: "api",
      subnet: subnet as never,
    });
  api(2, {
    id: "api-a1-v4",
    cidr: "10.99.10.0/24",
    purpose: "blue",
    blockPrefix: 28,
    scope: { kind: "tor", id: "tor-a1-1" },
  });
  api(3, {
    id: "api-b1-direct",
    cidr: "10.99.138.0/27",
    purpose: "underlay",
    blockPrefix: 32,
    cooldownSeconds: 60,
    scope: { kind: "tor", id: "tor-b1-1" },
  });
  api(4, {
    id: "api-adopt",
    cidr: "10.99.11.0/24",
    purpose: "green",
    blockPrefix: 28,
    scope: { kind: "tor", id: "tor-a1-1" },
  });
  const lease = (at: number, node: string, purpose: string, family: 4 | 6, requestId?: string) =>
    run(s, {
      type: "lease-block",
      at: T0 + at,
      node,
      purpose,
      family,
      ...(requestId === undefined ? {} : { requestId }),
    });
  lease(10, "node-a1", "blue", 4, "a1-blue-1");
  lease(11, "node-a1", "blue", 4);
  lease(12, "node-a2", "blue", 4);
  lease(13, "node-a1", "default", 4);
  lease(14, "node-a2", "default", 4, "a2-default");
  lease(15, "node-b1", "default", 6);
  lease(16, "n-run", "default", 4);
  lease(17, "node-a1", "storage", 4);
  lease(18, "node-a1", "green", 4);
  const direct = (at: number, node: string, containerId: string, purpose = "underlay") =>
    run(s, {
      type: "allocate-direct",
      at: T0 + at,
      node,
      purpose,
      family: 4,
      key: key(containerId, "underlay", "eth1"),
    });
  direct(20, "node-b1", "u1");
  direct(21, "node-b1", "u2");
  direct(22, "node-b2", "u3");
  direct(23, "node-a1", "m1", "management");
  run(s, { type: "drain-subnet", at: T0 + 30, subnet: "tor-a1-1-storage-v4" });
  // The file drops the draining storage subnet (still leased: it stays as removing) and
  // declares the API subnet api-adopt identically (the file manages it from now on).
  run(s, {
    type: "apply-topology",
    at: T0 + 31,
    config: exampleWithout("tor-a1-1-storage-v4", [adoptSubnet]),
    source: "file",
  });
  run(s, { type: "remove-subnet", at: T0 + 32, subnet: "api-a1-v4", force: true });
  run(s, { type: "remove-subnet", at: T0 + 33, subnet: "api-b1-direct", force: true });
  run(s, { type: "deregister-node", at: T0 + 34, node: "n-run", mode: "revoke" });
  // node-a1 returns one of its two revoked blocks (the one leased without a request id).
  const a1Blue = (
    s.nodeLeases("node-a1").filter((l) => l.subnet.id === "api-a1-v4")[1] as {
      cidr: string;
    }
  ).cidr;
  run(s, { type: "release-block", at: T0 + 35, node: "node-a1", cidr: a1Blue });
  run(s, { type: "release-direct", at: T0 + 36, key: key("u1", "underlay", "eth1") });
  refused(
    s,
    { type: "lease-block", at: T0 + 37, node: "n-run", purpose: "default", family: 4 },
    "CONFLICT",
  );
  return s;
}

/** Commands run after restoring the lifecycle snapshot. */
function lifecycleFollowUps(): ClusterCommand[] {
  const state = buildLifecycle();
  const cidrOf = (node: string, subnet: string) =>
    state.nodeLeases(node).find((l) => l.subnet.id === subnet)?.cidr ?? "none";
  return [
    { type: "lease-block", at: T0 + 100, node: "n-run", purpose: "default", family: 4 },
    { type: "register-node", at: T0 + 101, node: "n-run", tor: "tor-a1-1" },
    {
      type: "allocate-direct",
      at: T0 + 102,
      node: "n-run",
      purpose: "management",
      family: 4,
      key: key("m2"),
    },
    { type: "drain-subnet", at: T0 + 103, subnet: "api-a1-v4", draining: false },
    { type: "lease-block", at: T0 + 104, node: "node-a1", subnet: "api-a1-v4" },
    { type: "lease-block", at: T0 + 105, node: "node-a1", purpose: "blue", family: 4 },
    // A retry of a lease whose block is now revoked answers it, revoked.
    {
      type: "lease-block",
      at: T0 + 106,
      node: "node-a1",
      purpose: "blue",
      family: 4,
      requestId: "a1-blue-1",
    },
    { type: "remove-subnet", at: T0 + 107, subnet: "api-b1-direct" },
    {
      type: "apply-topology",
      at: T0 + 108,
      config: exampleWithout("tor-a1-1-storage-v4", [
        adoptSubnet,
        { id: "clash", cidr: "10.99.10.0/25", purpose: "blue", blockPrefix: 28 },
      ]),
      source: "file",
    },
    {
      type: "apply-topology",
      at: T0 + 109,
      config: toCanonicalConfig(exampleTopology()),
      source: "file",
    },
    { type: "deregister-node", at: T0 + 110, node: "node-a2", mode: "if-empty" },
    // The last two blocks of the removing API subnet come back: the second return deletes it.
    { type: "release-block", at: T0 + 111, node: "node-a2", cidr: cidrOf("node-a2", "api-a1-v4") },
    { type: "release-block", at: T0 + 111, node: "node-a1", cidr: cidrOf("node-a1", "api-a1-v4") },
    {
      type: "add-subnet",
      at: T0 + 112,
      origin: "api",
      subnet: {
        id: "api-again",
        cidr: "10.99.10.0/25",
        purpose: "blue",
        blockPrefix: 28,
        scope: { kind: "tor", id: "tor-a1-1" },
      },
    },
    {
      type: "release-block",
      at: T0 + 113,
      node: "n-run",
      cidr: cidrOf("n-run", "tor-a1-1-default-v4"),
    },
    { type: "register-node", at: T0 + 114, node: "n-run", tor: "tor-a1-1" },
    { type: "deregister-node", at: T0 + 115, node: "node-b1", mode: "dead" },
    { type: "release-direct", at: T0 + 116, key: key("u3", "underlay", "eth1") },
    {
      type: "release-block",
      at: T0 + 117,
      node: "node-a1",
      cidr: cidrOf("node-a1", "tor-a1-1-storage-v4"),
    },
    {
      type: "lease-block",
      at: T0 + 118,
      node: "node-a1",
      purpose: "storage",
      family: 4,
      strategy: "tor",
    },
    { type: "deregister-node", at: T0 + 119, node: "node-a4", mode: "if-empty" },
    { type: "deregister-node", at: T0 + 120, node: "node-a2", mode: "revoke" },
    { type: "lease-block", at: T0 + 121, node: "node-a3", purpose: "default", family: 4 },
  ];
}

/** Strategy per purpose and a pod supernet feeding TOR t (snapshot version 3 on). */
const supernetConfig: TopologyConfig = {
  purposes: { default: { strategy: "tor" }, storage: { strategy: "spill" } },
  zones: [
    {
      id: "z",
      subnets: [{ id: "zone-storage", cidr: "10.99.128.0/24", purpose: "storage" }],
      pods: [
        {
          id: "p",
          supernets: [{ cidr: "10.99.64.0/18", prefix: 24, threshold: 0.5 }],
          subnets: [{ id: "pod-default", cidr: "10.99.32.0/24", strategy: "pod" }],
          tors: [
            {
              id: "t",
              subnets: [
                { id: "t-default", cidr: "10.99.64.0/24" },
                { id: "t-storage", cidr: "10.99.0.0/26", purpose: "storage", blockPrefix: 26 },
              ],
              nodes: [{ id: "n1" }, { id: "n2" }],
            },
            { id: "t2", nodes: [{ id: "n3" }] },
          ],
        },
      ],
    },
  ],
};

function buildSupernets(): ClusterState {
  const state = new ClusterState();
  run(state, { type: "apply-topology", at: T0, config: supernetConfig, source: "file" });
  // 2 of t-default's 4 blocks: the threshold (0.5) is reached, 10.99.65.0/24 is carved.
  run(state, { type: "lease-block", at: T0 + 1, node: "n1", purpose: "default", family: 4 });
  run(state, { type: "lease-block", at: T0 + 2, node: "n2", purpose: "default", family: 4 });
  run(state, { type: "lease-block", at: T0 + 3, node: "n1", purpose: "storage", family: 4 });
  run(state, {
    type: "carve-subnet",
    at: T0 + 4,
    tor: "t2",
    purpose: "default",
    family: 4,
    basis: 0,
  });
  refused(
    state,
    { type: "carve-subnet", at: T0 + 5, tor: "t", purpose: "nope", family: 4 },
    "NO_SUBNET",
  );
  return state;
}

function supernetFollowUps(): ClusterCommand[] {
  return [
    {
      type: "lease-block",
      at: T0 + 10,
      node: "n3",
      purpose: "default",
      family: 4,
      order: "least-used",
    },
    { type: "carve-subnet", at: T0 + 11, tor: "t2", purpose: "default", family: 4, basis: 0 },
    { type: "lease-block", at: T0 + 12, node: "n1", purpose: "storage", family: 4 },
    { type: "apply-topology", at: T0 + 13, config: supernetConfig, source: "file" },
    { type: "drain-subnet", at: T0 + 14, subnet: "10.99.65.0/24" },
    { type: "remove-subnet", at: T0 + 15, subnet: "10.99.65.0/24" },
  ];
}

/** Two TORs, StatefulSet pods bound on both, one held, one released, one of them moved. */
function buildSticky(): ClusterState {
  const state = new ClusterState();
  run(state, { type: "apply-topology", at: T0, config: smallConfig });
  run(state, { type: "register-node", at: T0 + 1, node: "n2", tor: "t" });
  const bind = (at: number, ordinal: number, node: string, podUid: string, address: string) =>
    run(state, {
      type: "bind-sticky",
      at,
      namespace: "db",
      statefulSet: "web",
      ordinal,
      purpose: "default",
      addresses: [address],
      node,
      podUid,
    });
  bind(T0 + 2, 0, "n1", "uid-a", "10.99.0.5");
  bind(T0 + 3, 1, "n2", "uid-b", "10.99.0.20");
  bind(T0 + 4, 2, "n1", "uid-c", "10.99.0.6");
  run(state, {
    type: "release-sticky",
    at: T0 + 5,
    namespace: "db",
    statefulSet: "web",
    ordinal: 2,
    podUid: "uid-c",
  });
  run(state, {
    type: "bind-sticky",
    at: T0 + 6,
    namespace: "other",
    statefulSet: "kafka",
    ordinal: 0,
    purpose: "management",
    addresses: ["fd99::10"],
    node: "n2",
    podUid: "uid-k",
  });
  refused(
    state,
    {
      type: "bind-sticky",
      at: T0 + 7,
      namespace: "db",
      statefulSet: "web",
      ordinal: 0,
      purpose: "default",
      addresses: ["10.99.0.5"],
      node: "n2",
      podUid: "uid-a2",
    },
    "CONFLICT",
  );
  return state;
}

/**
 * Carves by hand with request ids, and a direct-mode supernet feeding TOR t's management
 * subnet (snapshot version 4 on).
 */
const carveRequestConfig: TopologyConfig = {
  ...supernetConfig,
  zones: (supernetConfig.zones ?? []).map((z) => ({
    ...z,
    supernets: [
      {
        cidr: "10.99.200.0/24",
        prefix: 29,
        blockPrefix: 32,
        purpose: "management",
        threshold: 0.5,
      },
    ],
    pods: (z.pods ?? []).map((p) => ({
      ...p,
      tors: (p.tors ?? []).map((t) =>
        t.id === "t"
          ? {
              ...t,
              subnets: [
                ...(t.subnets ?? []),
                { id: "t-mgmt", cidr: "10.99.200.0/29", purpose: "management", blockPrefix: 32 },
              ],
            }
          : t,
      ),
    })),
  })),
};

function buildCarveRequests(): ClusterState {
  const state = new ClusterState();
  run(state, { type: "apply-topology", at: T0, config: carveRequestConfig, source: "file" });
  const carve = { type: "carve-subnet", purpose: "default", family: 4 } as const;
  run(state, { ...carve, at: T0 + 1, tor: "t2", requestId: "op-1" });
  run(state, { ...carve, at: T0 + 2, tor: "t", requestId: "op-2", prefix: 25 });
  for (let i = 0; i < 3; i++)
    run(state, {
      type: "allocate-direct",
      at: T0 + 3 + i,
      node: "n1",
      purpose: "management",
      family: 4,
      key: key(`m${i}`),
    });
  return state;
}

function carveRequestFollowUps(): ClusterCommand[] {
  const carve = { type: "carve-subnet", purpose: "default", family: 4 } as const;
  return [
    { ...carve, at: T0 + 10, tor: "t2", requestId: "op-1" },
    { ...carve, at: T0 + 11, tor: "t", requestId: "op-1" },
    { ...carve, at: T0 + 12, tor: "t", requestId: "op-3" },
    {
      type: "allocate-direct",
      at: T0 + 13,
      node: "n1",
      purpose: "management",
      family: 4,
      key: key("m9"),
    },
    { type: "drain-subnet", at: T0 + 14, subnet: "10.99.65.0/24" },
    { type: "remove-subnet", at: T0 + 15, subnet: "10.99.65.0/24" },
    { ...carve, at: T0 + 16, tor: "t2", requestId: "op-1" },
  ];
}

/**
 * The scenarios that have fixtures in test/fixtures/ (file stem
 * `cluster-state-v<version>-<name>`; a scenario added later has fixtures from its version on).
 */
export const SNAPSHOT_SCENARIOS: readonly SnapshotScenario[] = [
  {
    name: "empty",
    build: () => new ClusterState(),
    followUps: [
      { type: "register-node", at: T0, node: "n2", tor: "t" },
      { type: "lease-block", at: T0, node: "n1", purpose: "default", family: 4 },
      { type: "apply-topology", at: T0 + 1, config: smallConfig },
      { type: "lease-block", at: T0 + 2, node: "n1", purpose: "default", family: 4 },
      {
        type: "allocate-direct",
        at: T0 + 3,
        node: "n1",
        purpose: "management",
        family: 6,
        key: key("c1"),
      },
    ],
  },
  { name: "rich", build: buildRich, followUps: richFollowUps },
  { name: "lifecycle", build: buildLifecycle, followUps: lifecycleFollowUps() },
  { name: "supernets", build: buildSupernets, followUps: supernetFollowUps() },
  { name: "carving", build: buildCarveRequests, followUps: carveRequestFollowUps() },
  {
    name: "sticky",
    build: buildSticky,
    followUps: [
      // The old pod goes: the new one (another node, same TOR) takes the same address.
      {
        type: "release-sticky",
        at: T0 + 10,
        namespace: "db",
        statefulSet: "web",
        ordinal: 0,
        podUid: "uid-a",
      },
      {
        type: "bind-sticky",
        at: T0 + 11,
        namespace: "db",
        statefulSet: "web",
        ordinal: 0,
        purpose: "default",
        addresses: ["10.99.0.5"],
        node: "n2",
        podUid: "uid-a2",
      },
      // Scaled down to 1: ordinal 2 (released) goes, ordinal 1 (held) stays.
      { type: "unbind-sticky", at: T0 + 12, namespace: "db", statefulSet: "web", fromOrdinal: 1 },
      { type: "deregister-node", at: T0 + 13, node: "n2", mode: "dead" },
      { type: "unbind-sticky", at: T0 + 14, namespace: "db", statefulSet: "web", fromOrdinal: 0 },
    ],
  },
];
