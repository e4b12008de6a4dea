import {
  type Family,
  isDirectMode,
  type Subnet,
  subnetsForNode,
  type Topology,
} from "@ipam/topology";
import { IpamdError } from "../ipamd-error.js";

/** One subnet's usage as GetStats (level subnet) reports it. */
export interface SubnetStatsRow {
  readonly id: string;
  /** Free addresses (decimal), for direct-mode subnets. */
  readonly free: string;
  /** Blocks leased from the subnet. */
  readonly blocksLeased: bigint;
}

/**
 * The node's subnets of `purpose` and `family` its strategy reaches, in allocation order (never
 * empty).
 * @throws IpamdError `INVALID_ARGUMENT` (purpose unknown to the topology: `details.purposes`),
 * `NOT_FOUND` (none on the node's path).
 */
export function capacityCandidates(
  topology: Topology,
  node: string,
  purpose: string,
  family: Family,
): Subnet[] {
  const purposes = [...new Set([...topology.subnets.values()].map((s) => s.purpose))].sort();
  if (!purposes.includes(purpose)) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `unknown purpose ${purpose}: no subnet of the topology has it (purposes: ${purposes.join(", ") || "none"})`,
      { details: { field: "purpose", purpose, purposes } },
    );
  }
  // The subnets the node's strategy reaches (the purpose's, or a subnet's own override).
  const mine = topology.nodes.has(node) ? subnetsForNode(topology, node, { purpose, family }) : [];
  if (mine.length === 0) {
    throw new IpamdError("NOT_FOUND", `node ${node} has no IPv${family} ${purpose} subnet`, {
      details: { node, purpose, family },
    });
  }
  return mine;
}

/**
 * Whether `node` can get one more address from `candidates` (see {@link capacityCandidates}),
 * decided from the subnets' usage (an agent's view of `ClusterState.capacity`): block mode when
 * any candidate is block-mode (some block not leased), else direct mode (some free address).
 * It does not see draining, reserved-only blocks or cooling addresses whose time has come; the
 * lease or allocation itself has the last word.
 * @throws IpamdError `POOL_EXHAUSTED` (no room).
 */
export function capacityFromStats(
  node: string,
  candidates: readonly Subnet[],
  rows: readonly SubnetStatsRow[],
): void {
  const direct = candidates.every(isDirectMode);
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const s of candidates) {
    if (isDirectMode(s) !== direct) continue;
    const row = byId.get(s.id);
    if (row === undefined) return; // not reported: let the allocation decide
    const prefix = Number(s.cidr.slice(s.cidr.indexOf("/") + 1));
    const room = direct
      ? row.free !== "0"
      : row.blocksLeased < 1n << BigInt(s.blockPrefix - prefix);
    if (room) return;
  }
  const first = candidates[0] as Subnet;
  const { purpose, family } = first;
  const ids = candidates.map((s) => s.id).join(", ");
  throw new IpamdError(
    "POOL_EXHAUSTED",
    direct
      ? `no free IPv${family} ${purpose} address for node ${node} in ${ids}`
      : `no free block for node ${node} in ${ids}`,
    { details: { node, purpose, family, mode: direct ? "direct" : "block" } },
  );
}
