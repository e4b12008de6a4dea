import type { Family } from "@ipam/topology";
import type { ClusterParts } from "./cluster-parts.js";
import { fail, requireFamily, requireString } from "./command-args.js";
import type { DirectPool } from "./direct-pool.js";

/** Where a node's next address of a purpose and family would come from in L1 (a read). */
export interface NodeCapacity {
  /** How the node gets these addresses: leased blocks, or one address at a time in L1. */
  readonly mode: "block" | "direct";
  /** The first subnet, in allocation order, with a block free for the node (block mode) or a free address (direct mode). */
  readonly subnet: string;
}

/**
 * Whether `node` can get one more `purpose` address of `family` from L1 at `at` (ms): in block
 * mode, whether a block can be leased to it (`lease-block` would succeed); in direct mode,
 * whether an address is free, counting cooled-down ones whose time has come
 * (`allocate-direct` would succeed). A read: nothing changes. The mode is block when any of the
 * node's subnets of that purpose and family is block-mode (as ipamd's agent decides).
 * @throws PoolError `NOT_FOUND` (node not registered), `INVALID_ARGUMENT` (unknown purpose:
 * `details.purposes`), `NO_SUBNET` (none of that purpose and family on the node's path),
 * `DRAINING` (all draining), `POOL_EXHAUSTED` (no free block / address).
 */
export function nodeCapacity(
  parts: ClusterParts,
  nodeId: unknown,
  purposeText: unknown,
  familyValue: unknown,
  at: number,
): NodeCapacity {
  const node = parts.registry.requireNode(nodeId, "capacity.node").id;
  const purpose = requireString(purposeText, "capacity.purpose");
  const family: Family = requireFamily(familyValue, "capacity.family");
  const all = parts.candidates.all(node, purpose, family, undefined);
  const direct = all.every((st) => st.direct);
  const open = parts.candidates.open(node, purpose, family, undefined, direct);
  for (const st of open) {
    const room = direct
      ? (parts.direct.pool(st.subnet.id) as DirectPool).freeAt(at) > 0
      : parts.leases.hasFreeBlock(st, node);
    if (room) return { mode: direct ? "direct" : "block", subnet: st.subnet.id };
  }
  const subnets = open.map((st) => st.subnet.id);
  return fail(
    "POOL_EXHAUSTED",
    direct
      ? `no free IPv${family} ${purpose} address for node ${node} in ${subnets.join(", ")}`
      : `no free block for node ${node} in ${subnets.join(", ")} (${parts.candidates.exhaustedNote(purpose, undefined)})`,
    {
      node,
      purpose,
      family,
      subnets,
      mode: direct ? "direct" : "block",
      strategy: parts.candidates.strategy(purpose, undefined),
    },
  );
}
