import { Cidr } from "@ipam/bitmap";
import {
  type Block,
  type ClusterClient,
  Family,
  StatsLevel,
  type SubnetHolder,
} from "@ipam/grpc-server";
import { parseTopology, reservedIntervals, type Topology } from "@ipam/topology";

/** The cluster's topology (zones, pods, TORs, nodes, subnets), linearizable read. */
export async function readTopology(cluster: ClusterClient): Promise<Topology> {
  const r = await cluster.getTopology({});
  return parseTopology(r.topologyJson, "json");
}

/** Every leased block (optionally of one node or subnet), all pages, in (subnet, address) order. */
export async function listAllBlocks(
  cluster: ClusterClient,
  filter: { readonly nodeId?: string; readonly subnetId?: string } = {},
): Promise<Block[]> {
  const out: Block[] = [];
  let pageToken = "";
  do {
    const page = await cluster.listBlocks({
      nodeId: filter.nodeId ?? "",
      subnetId: filter.subnetId ?? "",
      pageSize: 1000,
      pageToken,
    });
    out.push(...page.blocks);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

/**
 * What the cluster state counts for one subnet, exact (decimal strings, IPv6-safe).
 * `leased`: addresses handed to nodes — whole leased blocks in block mode, the allocated
 * addresses in direct mode. The cluster does not know how many addresses of a leased block
 * pods hold: that is read from the agents (GetNodeBlocks).
 */
export interface SubnetCounts {
  readonly capacity: bigint;
  readonly leased: bigint;
  readonly reserved: bigint;
  readonly cooling: bigint;
  readonly blocksLeased: bigint;
  /** Who manages it (`file`, `api`, `carved`) and the strategy that governs it ("" if unknown). */
  readonly origin: string;
  readonly strategy: string;
}

/**
 * The counts of every subnet of `topology`, by subnet id: the one place that reads them, so
 * that exact per-family counts from a newer server can replace it alone. Capacity (size minus
 * reserved addresses) and, in block mode, leased (leased blocks × block size) are computed here
 * exactly from the topology and the block count; the server's decimal counts of this version
 * pass through a float and lose IPv6 precision. Direct-mode allocations and cool-downs are the
 * server's (small numbers).
 */
export async function subnetCounts(
  cluster: ClusterClient,
  topology: Topology,
): Promise<Map<string, SubnetCounts>> {
  const r = await cluster.getStats({ level: StatsLevel.SUBNET, family: Family.UNSPECIFIED });
  const byId = new Map(r.entries.map((e) => [e.id, e]));
  const out = new Map<string, SubnetCounts>();
  for (const s of topology.subnets.values()) {
    const e = byId.get(s.id);
    const bits = s.family === 6 ? 128 : 32;
    const cidr = Cidr.parse(s.cidr);
    let reserved = 0n;
    for (const i of reservedIntervals(s)) reserved += i.end - i.start + 1n;
    const blocksLeased = e?.blocksLeased ?? 0n;
    const direct = s.blockPrefix === bits;
    out.set(s.id, {
      capacity: cidr.end - cidr.start + 1n - reserved,
      leased: direct
        ? BigInt(e?.counts?.allocated ?? "0")
        : blocksLeased * (1n << BigInt(bits - s.blockPrefix)),
      reserved,
      cooling: BigInt(e?.counts?.coolingDown ?? "0"),
      blocksLeased,
      origin: e?.origin || "file",
      strategy: e?.strategy ?? "",
    });
  }
  return out;
}

/** A subnet holder (DrainSubnet/RemoveSubnet) as ipamctl prints it. */
export interface HolderView {
  readonly node: string;
  readonly blocks: readonly string[];
  readonly directAddresses: number;
  /** Addresses its pods hold there, from its last report; null when it has not reported. */
  readonly addressesHeld: number | null;
  readonly addressesCooling: number | null;
  readonly reportedAt: string | null;
  readonly addresses: readonly string[];
}

/** The holders of a DrainSubnet/RemoveSubnet answer as {@link HolderView}s. */
export function holderViews(list: readonly SubnetHolder[]): HolderView[] {
  return list.map((h) => ({
    node: h.nodeId,
    blocks: [...h.blocks],
    directAddresses: h.directAddresses,
    addressesHeld: h.reported ? Number(h.addressesHeld) : null,
    addressesCooling: h.reported ? Number(h.addressesCooling) : null,
    reportedAt: h.reported ? new Date(Number(h.reportedAtUnixMs)).toISOString() : null,
    addresses: [...h.addresses],
  }));
}
