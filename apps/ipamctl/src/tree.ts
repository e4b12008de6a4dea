import type { Block } from "@ipam/grpc-server";
import type { Subnet, Topology } from "@ipam/topology";
import type { AgentBlocks } from "./agent-reads.js";
import type { SubnetCounts } from "./cluster-reads.js";

/** An address family as ipamctl names it. */
export type FamilyName = "ipv4" | "ipv6";

/**
 * Counts of one family at one level, exact decimal strings. `leased`: handed to nodes (whole
 * blocks in block mode, addresses in direct mode); `held`: addresses pods hold, measured on the
 * agents (null when a holder's agent was not read: give it with --node); `cooling`: released
 * addresses waiting out the cool-down (null likewise).
 */
export interface FamilyCounts {
  readonly capacity: string;
  readonly leased: string;
  readonly held: string | null;
  readonly cooling: string | null;
}

/** Counts per family; a family appears only when the level has subnets of it. */
export type Counts = Partial<Record<FamilyName, FamilyCounts>>;

export interface BlockNode {
  readonly cidr: string;
  readonly node: string;
  /** The lease's state in the cluster state: `leased`, `draining` or `revoked`. */
  readonly state: string;
  /** How its holder's agent serves it (`leased`, `draining`, `revoked`, `lost`); null: not read. */
  readonly agentState: string | null;
  readonly capacity: string | null;
  readonly held: string | null;
  readonly cooling: string | null;
}

export interface SubnetNode {
  readonly id: string;
  readonly cidr: string;
  readonly purpose: string;
  readonly family: FamilyName;
  readonly mode: "block" | "direct";
  readonly blockPrefix: number;
  /** The strategy that governs it (its own override, else its purpose's). */
  readonly strategy: string;
  /** True when the subnet sets its own strategy (overriding its purpose's). */
  readonly strategyOverride: boolean;
  /** Who manages it: `file`, `api`, or `carved` (cut from a supernet by the cluster). */
  readonly origin: string;
  readonly counts: FamilyCounts;
  readonly blocksLeased: number;
  /** With --blocks: its leased blocks, in address order. */
  readonly blocks?: readonly BlockNode[];
}

export interface NodeEntry {
  readonly id: string;
  readonly blocks: number;
  /** Held per family as its agent reports it; null when its agent was not read. */
  readonly held: Partial<Record<FamilyName, string>> | null;
}

export interface TorNode {
  readonly id: string;
  readonly counts: Counts;
  readonly subnets: readonly SubnetNode[];
  readonly nodes: readonly NodeEntry[];
}
export interface PodNode {
  readonly id: string;
  readonly counts: Counts;
  readonly subnets: readonly SubnetNode[];
  readonly tors: readonly TorNode[];
}
export interface ZoneNode {
  readonly id: string;
  readonly counts: Counts;
  readonly subnets: readonly SubnetNode[];
  readonly pods: readonly PodNode[];
}

/** A purpose and the allocation strategy it uses. */
export interface PurposeEntry {
  readonly purpose: string;
  readonly strategy: string;
}

/** The `show` tree: zones → pods → TORs, subnets at the level they are scoped to. */
export interface Tree {
  /** Every purpose of the shown subnets and its strategy, by purpose. */
  readonly purposes: readonly PurposeEntry[];
  readonly zones: readonly ZoneNode[];
  /** Whole-cluster counts of what the filters kept. */
  readonly total: Counts;
  /** Nodes holding blocks whose agent was not read (their held counts are unknown). */
  readonly unreadNodes: readonly string[];
}

/** What {@link buildTree} shows: filters (all optional) and whether to list blocks. */
export interface TreeOptions {
  readonly zone?: string | undefined;
  readonly tor?: string | undefined;
  readonly purpose?: string | undefined;
  readonly family?: FamilyName | undefined;
  readonly blocks?: boolean | undefined;
}

interface Sum {
  capacity: bigint;
  leased: bigint;
  held: bigint | null;
  cooling: bigint | null;
}

const familyOf = (s: Subnet): FamilyName => (s.family === 6 ? "ipv6" : "ipv4");
const addOpt = (a: bigint | null, b: bigint | null) => (a === null || b === null ? null : a + b);

function countsOf(sums: ReadonlyMap<FamilyName, Sum>): Counts {
  const out: Counts = {};
  for (const family of ["ipv4", "ipv6"] as const) {
    const s = sums.get(family);
    if (s === undefined) continue;
    out[family] = {
      capacity: String(s.capacity),
      leased: String(s.leased),
      held: s.held === null ? null : String(s.held),
      cooling: s.cooling === null ? null : String(s.cooling),
    };
  }
  return out;
}

function sumInto(sums: Map<FamilyName, Sum>, s: SubnetNode): void {
  const prev = sums.get(s.family) ?? { capacity: 0n, leased: 0n, held: 0n, cooling: 0n };
  sums.set(s.family, {
    capacity: prev.capacity + BigInt(s.counts.capacity),
    leased: prev.leased + BigInt(s.counts.leased),
    held: addOpt(prev.held, s.counts.held === null ? null : BigInt(s.counts.held)),
    cooling: addOpt(prev.cooling, s.counts.cooling === null ? null : BigInt(s.counts.cooling)),
  });
}

const sumOf = (subnets: readonly SubnetNode[]) => {
  const sums = new Map<FamilyName, Sum>();
  for (const s of subnets) sumInto(sums, s);
  return countsOf(sums);
};

/**
 * Builds the tree from the cluster's topology, per-subnet counts (GetStats: capacity and
 * leased exact), purpose strategies and leased blocks, and the agents' per-block counts
 * (GetNodeBlocks). Pure; the caller owns the inputs, the result is new.
 * Held and cooling in block mode = the sums over the subnet's blocks of what their holders'
 * agents count in their stores (null as soon as one holder was not read); in direct mode the
 * cluster's counts are exact.
 */
export function buildTree(
  topology: Topology,
  counts: ReadonlyMap<string, SubnetCounts>,
  strategies: ReadonlyMap<string, string>,
  blocks: readonly Block[],
  agents: ReadonlyMap<string, AgentBlocks>,
  options: TreeOptions = {},
): Tree {
  const agentBlock = new Map<string, AgentBlocks["blocks"][number]>();
  for (const a of agents.values()) for (const b of a.blocks) agentBlock.set(b.cidr, b);
  const blocksOf = new Map<string, Block[]>();
  const unread = new Set<string>();
  for (const b of blocks) {
    const list = blocksOf.get(b.subnetId) ?? [];
    list.push(b);
    blocksOf.set(b.subnetId, list);
  }

  const subnetNode = (s: Subnet): SubnetNode => {
    const n = counts.get(s.id);
    const direct = s.blockPrefix === (s.family === 6 ? 128 : 32);
    const own = blocksOf.get(s.id) ?? [];
    let held: bigint | null = direct ? (n?.held ?? 0n) : 0n;
    let cooling: bigint | null = direct ? (n?.cooling ?? 0n) : 0n;
    const blockNodes: BlockNode[] = [];
    if (!direct) {
      for (const b of own) {
        const seen = agentBlock.get(b.cidr);
        if (seen === undefined) unread.add(b.nodeId);
        held = addOpt(held, seen?.held ?? null);
        cooling = addOpt(cooling, seen?.cooling ?? null);
        blockNodes.push({
          cidr: b.cidr,
          node: b.nodeId,
          state: b.state === "" ? "leased" : b.state,
          agentState: seen?.state ?? null,
          capacity: seen === undefined ? null : String(seen.capacity),
          held: seen === undefined ? null : String(seen.held),
          cooling: seen === undefined ? null : String(seen.cooling),
        });
      }
    }
    return {
      id: s.id,
      cidr: s.cidr,
      purpose: s.purpose,
      family: familyOf(s),
      mode: direct ? "direct" : "block",
      blockPrefix: s.blockPrefix,
      strategy: n?.strategy ?? s.strategy ?? strategies.get(s.purpose) ?? "",
      strategyOverride: s.strategy !== undefined,
      origin: n?.origin ?? "",
      counts: {
        capacity: String(n?.capacity ?? 0n),
        leased: String(n?.leased ?? 0n),
        held: held === null ? null : String(held),
        cooling: cooling === null ? null : String(cooling),
      },
      blocksLeased: Number(n?.blocksLeased ?? 0n),
      ...(options.blocks === true && !direct ? { blocks: blockNodes } : {}),
    };
  };

  const kept = (s: Subnet) =>
    (options.purpose === undefined || s.purpose === options.purpose) &&
    (options.family === undefined || familyOf(s) === options.family);
  const scoped = (kind: "zone" | "pod" | "tor", id: string) =>
    [...topology.subnets.values()]
      .filter((s) => s.scope.kind === kind && s.scope.id === id && kept(s))
      .sort((a, b) => a.id.localeCompare(b.id))
      .map(subnetNode);

  const blocksByNode = new Map<string, number>();
  for (const b of blocks) blocksByNode.set(b.nodeId, (blocksByNode.get(b.nodeId) ?? 0) + 1);
  const nodeEntry = (id: string): NodeEntry => {
    const a = agents.get(id);
    // A node without blocks holds nothing, whether or not its agent was read.
    let held: NodeEntry["held"] = (blocksByNode.get(id) ?? 0) === 0 ? {} : null;
    if (a !== undefined) {
      const per: Partial<Record<FamilyName, bigint>> = {};
      for (const b of a.blocks) per[b.family] = (per[b.family] ?? 0n) + b.held;
      held = Object.fromEntries(Object.entries(per).map(([f, v]) => [f, String(v)]));
    }
    return { id, blocks: blocksByNode.get(id) ?? 0, held };
  };

  const byId = <T extends { id: string }>(a: T, b: T) => a.id.localeCompare(b.id);
  const zones: ZoneNode[] = [];
  for (const zone of [...topology.zones.values()].sort(byId)) {
    if (options.zone !== undefined && zone.id !== options.zone) continue;
    const pods: PodNode[] = [];
    const zoneSubnets = options.tor === undefined ? scoped("zone", zone.id) : [];
    const zoneAll = [...zoneSubnets];
    for (const pod of [...topology.pods.values()].filter((p) => p.zone === zone.id).sort(byId)) {
      const tors: TorNode[] = [];
      const podSubnets = options.tor === undefined ? scoped("pod", pod.id) : [];
      const podAll = [...podSubnets];
      for (const tor of [...topology.tors.values()].filter((t) => t.pod === pod.id).sort(byId)) {
        if (options.tor !== undefined && tor.id !== options.tor) continue;
        const subnets = scoped("tor", tor.id);
        podAll.push(...subnets);
        const nodes = [...topology.nodes.values()]
          .filter((n) => n.tor === tor.id)
          .map((n) => n.id)
          .sort()
          .map(nodeEntry);
        tors.push({ id: tor.id, counts: sumOf(subnets), subnets, nodes });
      }
      if (options.tor !== undefined && tors.length === 0) continue;
      zoneAll.push(...podAll);
      pods.push({ id: pod.id, counts: sumOf(podAll), subnets: podSubnets, tors });
    }
    if (options.tor !== undefined && pods.length === 0) continue;
    zones.push({ id: zone.id, counts: sumOf(zoneAll), subnets: zoneSubnets, pods });
  }
  const all: SubnetNode[] = [];
  for (const z of zones) {
    all.push(...z.subnets);
    for (const p of z.pods) {
      all.push(...p.subnets);
      for (const t of p.tors) all.push(...t.subnets);
    }
  }
  const purposes = [...new Set(all.map((s) => s.purpose))]
    .sort()
    .map((purpose) => ({ purpose, strategy: strategies.get(purpose) ?? "" }));
  return { purposes, zones, total: sumOf(all), unreadNodes: [...unread].sort() };
}
