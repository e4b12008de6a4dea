import type { ClusterState, StatsLevel } from "@ipam/subnet-pool";
import { statsKeyOf } from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";
import type { NodeBlockReport, NodeReports } from "./node-reports.js";

// What the cluster knows about addresses held inside leased blocks. The cluster state (L1)
// knows which node holds each block, never which addresses of it containers hold: only the
// holder does, and it tells the servers in its ReportNode reports (soft state, every few
// seconds). These sums say how complete they are: blocks whose holder has not reported them,
// and the time of the oldest report counted.

/** Held and cooling addresses of leased blocks, summed from their holders' last reports. */
export interface ReportedUsage {
  /** Addresses held by containers in the reported blocks. */
  held: bigint;
  /** Released addresses cooling down in the reported blocks. */
  cooling: bigint;
  /** Leased blocks whose holder's last report does not list them (their counts are unknown). */
  unreportedBlocks: number;
  /** When the oldest report counted was received (ms since the epoch); undefined: none. */
  oldestReportAt: number | undefined;
}

/** An empty {@link ReportedUsage} (a fresh object). */
export function noReportedUsage(): ReportedUsage {
  return { held: 0n, cooling: 0n, unreportedBlocks: 0, oldestReportAt: undefined };
}

/** Adds `b` into `a` (mutates and returns `a`). */
export function addReportedUsage(a: ReportedUsage, b: ReportedUsage): ReportedUsage {
  a.held += b.held;
  a.cooling += b.cooling;
  a.unreportedBlocks += b.unreportedBlocks;
  if (b.oldestReportAt !== undefined && (a.oldestReportAt ?? Infinity) > b.oldestReportAt)
    a.oldestReportAt = b.oldestReportAt;
  return a;
}

/**
 * Per block-mode subnet of `state` (by id), what the holders of its leased blocks reported to
 * this server. Direct-mode subnets are not listed (L1 knows their counts exactly). Without
 * `reports` (a process that keeps none) every leased block is unreported. The blocks of `skip`
 * (a node whose counts the caller has first-hand: role all's own agent) are left out.
 */
export function reportedUsageBySubnet(
  state: ClusterState,
  reports: NodeReports | undefined,
  skip?: string,
): Map<string, ReportedUsage> {
  const byNode = new Map<string, { at: number; blocks: Map<string, NodeBlockReport> } | null>();
  const reportOf = (node: string) => {
    let r = byNode.get(node);
    if (r === undefined) {
      const report = reports?.get(node);
      r =
        report === undefined
          ? null
          : { at: report.reportedAt, blocks: new Map(report.blocks.map((b) => [b.cidr, b])) };
      byNode.set(node, r);
    }
    return r;
  };
  const out = new Map<string, ReportedUsage>();
  for (const view of state.subnets()) {
    if (view.mode !== "block") continue;
    const usage = noReportedUsage();
    for (const lease of state.subnetHoldings(view.subnet.id)?.blocks ?? []) {
      if (lease.node === skip) continue;
      const report = reportOf(lease.node);
      const block = report?.blocks.get(lease.cidr);
      if (report === null || block === undefined) {
        usage.unreportedBlocks++;
        continue;
      }
      usage.held += BigInt(block.held);
      usage.cooling += BigInt(block.cooling);
      if ((usage.oldestReportAt ?? Infinity) > report.at) usage.oldestReportAt = report.at;
    }
    out.set(view.subnet.id, usage);
  }
  return out;
}

/** One GetStats entry before the wire: exact counts of one family at one level. */
export interface StatsEntryView {
  readonly id: string;
  readonly family: Family;
  readonly subnets: number;
  readonly capacity: bigint;
  readonly reserved: bigint;
  readonly leased: bigint;
  /** Direct-mode allocations plus reported held addresses of blocks. */
  readonly held: bigint;
  /** Direct-mode cooling plus reported cooling addresses of blocks. */
  readonly cooling: bigint;
  readonly free: bigint;
  readonly leasedBlocks: number;
  readonly unreportedBlocks: number;
  readonly oldestReportAt: number | undefined;
}

/**
 * GetStats' entries: `state.stats` per family (never IPv4 and IPv6 summed), with the held and
 * cooling addresses of blocks from `reports`. Sorted by id, then family (4 first).
 */
export function statsEntries(
  state: ClusterState,
  reports: NodeReports | undefined,
  level: StatsLevel,
  filter: { readonly purpose?: string; readonly family?: Family; readonly id?: string },
): StatsEntryView[] {
  const topology = state.topology();
  const reported = reportedUsageBySubnet(state, reports);
  const out: StatsEntryView[] = [];
  for (const family of filter.family === undefined ? ([4, 6] as const) : [filter.family]) {
    const sums = new Map<string, ReportedUsage>();
    for (const u of state.subnetUsage()) {
      if (u.family !== family || u.mode !== "block") continue;
      if (filter.purpose !== undefined && u.purpose !== filter.purpose) continue;
      const id = statsKeyOf(topology, level, u);
      const r = reported.get(u.subnet);
      if (id === undefined || r === undefined) continue;
      sums.set(id, addReportedUsage(sums.get(id) ?? noReportedUsage(), r));
    }
    for (const row of state.stats(level, { ...filter, family })) {
      const r = sums.get(row.id) ?? noReportedUsage();
      out.push({
        id: row.id,
        family,
        subnets: row.subnets,
        capacity: row.capacity,
        reserved: row.reserved,
        leased: row.leased,
        held: row.held + r.held,
        cooling: row.cooling + r.cooling,
        free: row.free,
        leasedBlocks: row.leasedBlocks,
        unreportedBlocks: r.unreportedBlocks,
        oldestReportAt: r.oldestReportAt,
      });
    }
  }
  return out.sort((a, b) => (a.id === b.id ? a.family - b.family : a.id < b.id ? -1 : 1));
}
