import {
  type Block,
  type ClusterClient,
  Family,
  StatsLevel,
  type SubnetHolder,
} from "@ipam/grpc-server";
import { parseTopology, type Topology } from "@ipam/topology";

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
 * What the cluster counts for one subnet (GetStats, level subnet: exact decimal counts of one
 * family). `capacity`: addresses that can ever be handed out (size minus reserved); `leased`:
 * handed to nodes (the non-reserved addresses of leased blocks, plus direct allocations);
 * `held` and `cooling`: exact in direct mode, in block mode what the holders last reported to
 * the answering server (`heldUnreportedBlocks` blocks not counted; `heldReportAgeMs` the oldest
 * report's age): ipamctl measures block-mode held on the agents instead when it can.
 */
export interface SubnetCounts {
  readonly capacity: bigint;
  readonly leased: bigint;
  readonly reserved: bigint;
  readonly held: bigint;
  readonly cooling: bigint;
  readonly blocksLeased: bigint;
  readonly heldUnreportedBlocks: number;
  readonly heldReportAgeMs: number;
  /** The strategy that governs the subnet (`tor`, `pod` or `zone`). */
  readonly strategy: string;
  /** Who manages it: `file`, `api` or `carved` (cut from a supernet by the cluster). */
  readonly origin: string;
}

const decimal = (text: string | undefined) =>
  BigInt(text === undefined || text === "" ? "0" : text);

/**
 * The counts of every subnet, by subnet id, as the servers report them (GetStats level subnet,
 * linearizable): the one place that reads them.
 */
export async function subnetCounts(cluster: ClusterClient): Promise<Map<string, SubnetCounts>> {
  const r = await cluster.getStats({ level: StatsLevel.SUBNET, family: Family.UNSPECIFIED });
  const out = new Map<string, SubnetCounts>();
  for (const e of r.entries) {
    out.set(e.id, {
      capacity: decimal(e.counts?.capacity),
      leased: decimal(e.counts?.leased),
      reserved: decimal(e.counts?.reserved),
      held: decimal(e.counts?.held),
      cooling: decimal(e.counts?.coolingDown),
      blocksLeased: e.blocksLeased,
      heldUnreportedBlocks: Number(e.counts?.heldUnreportedBlocks ?? 0n),
      heldReportAgeMs: Number(e.counts?.heldReportAgeMs ?? 0n),
      strategy: e.strategy,
      origin: e.origin,
    });
  }
  return out;
}

/** The strategy of every purpose (GetStats level purpose), by purpose. */
export async function purposeStrategies(cluster: ClusterClient): Promise<Map<string, string>> {
  const r = await cluster.getStats({ level: StatsLevel.PURPOSE, family: Family.UNSPECIFIED });
  return new Map(r.entries.map((e) => [e.id, e.strategy]));
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
