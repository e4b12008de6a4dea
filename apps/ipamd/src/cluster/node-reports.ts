import type { SubnetHoldings } from "@ipam/subnet-pool";

// What agents report about their blocks (docs/operations.md, "Drain and remove"): soft state
// that every server keeps in memory, refreshed by each agent every few seconds and lost on a
// restart. It never decides what is leased to whom (the replicated cluster state does); it
// lets DrainSubnet and RemoveSubnet say how many addresses are still held, per node, and since
// when that is known.

/** One block in a node report. */
export interface NodeBlockReport {
  readonly cidr: string;
  /** `leased`, `draining`, `revoked`, or `lost` (no longer listed for the node). */
  readonly state: string;
  /** Addresses held by pods. */
  readonly held: number;
  /** Released addresses still cooling down. */
  readonly cooling: number;
  /** The held addresses (closed blocks only). */
  readonly addresses: readonly string[];
}

/** An agent's report of what its pods hold. */
export interface NodeReport {
  readonly node: string;
  readonly agentVersion: string;
  /** When the server received it, ms since the epoch. */
  readonly reportedAt: number;
  readonly blocks: readonly NodeBlockReport[];
}

/** The last report of each node (in memory, per server). */
export class NodeReports {
  readonly #byNode = new Map<string, NodeReport>();

  put(report: NodeReport): void {
    this.#byNode.set(report.node, report);
  }

  get(node: string): NodeReport | undefined {
    return this.#byNode.get(node);
  }
}

/** What one node still holds in a subnet (the wire SubnetHolder). */
export interface SubnetHolderView {
  readonly nodeId: string;
  readonly blocks: string[];
  readonly directAddresses: number;
  readonly reported: boolean;
  readonly addressesHeld: bigint;
  readonly addressesCooling: bigint;
  readonly reportedAtUnixMs: bigint;
  readonly addresses: string[];
}

/**
 * Per node, what it holds in a subnet: blocks and direct addresses from the cluster state,
 * held and cooling counts from its last report (a block the report does not list counts as
 * unknown: `reported` false). Sorted by node id. `held` totals the direct addresses and the
 * reported held addresses, counting a block of an unreported holder as `blockSize` addresses
 * (the upper bound); `empty` is true when nothing at all is held.
 */
export function subnetHolders(
  holdings: SubnetHoldings,
  reports: NodeReports | undefined,
  blockSize: bigint,
): { holders: SubnetHolderView[]; held: bigint; empty: boolean } {
  const byNode = new Map<string, { blocks: string[]; direct: number }>();
  const entry = (node: string) => {
    let e = byNode.get(node);
    if (e === undefined) {
      e = { blocks: [], direct: 0 };
      byNode.set(node, e);
    }
    return e;
  };
  for (const b of holdings.blocks) entry(b.node).blocks.push(b.cidr);
  for (const d of holdings.direct) entry(d.node).direct++;
  let held = 0n;
  const holders: SubnetHolderView[] = [];
  for (const node of [...byNode.keys()].sort()) {
    const { blocks, direct } = byNode.get(node) as { blocks: string[]; direct: number };
    const report = reports?.get(node);
    const reportedBlocks = new Map((report?.blocks ?? []).map((b) => [b.cidr, b]));
    let reported = report !== undefined;
    let addressesHeld = 0n;
    let addressesCooling = 0n;
    const addresses: string[] = [];
    for (const cidr of blocks) {
      const r = reportedBlocks.get(cidr);
      if (r === undefined) {
        reported = false;
        held += blockSize;
        continue;
      }
      addressesHeld += BigInt(r.held);
      addressesCooling += BigInt(r.cooling);
      addresses.push(...r.addresses);
    }
    held += addressesHeld + BigInt(direct);
    holders.push({
      nodeId: node,
      blocks,
      directAddresses: direct,
      reported,
      addressesHeld,
      addressesCooling,
      reportedAtUnixMs: BigInt(report?.reportedAt ?? 0),
      addresses,
    });
  }
  return { holders, held, empty: holdings.blocks.length === 0 && holdings.direct.length === 0 };
}
