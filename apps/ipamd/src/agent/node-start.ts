import {
  type AllocationRecord,
  type BlockLease,
  type DirectAllocation,
  keyString,
  type NodeAllocator,
} from "@ipam/subnet-pool";
import type { Labels } from "@ipam/topology";
import type { Logger } from "pino";
import type { ClusterApi } from "../cluster/cluster-api.js";
import { isOutage } from "../cluster/cluster-errors.js";
import { IpamdError } from "../ipamd-error.js";
import type { DirectAllocations } from "./direct-allocations.js";
import type { NodeSubnets } from "./node-subnets.js";
import {
  type AgentStore,
  blockRecordFromStore,
  directRecordFromStore,
  storedSubnetIds,
} from "./stored-records.js";

/** Where a node registers itself: its TOR and labels. */
export interface Registration {
  readonly tor: string;
  readonly labels: Labels;
}

/** What {@link startNode} rebuilds and reads from. */
export interface NodeStartParts {
  readonly nodeId: string;
  readonly store: AgentStore;
  readonly cluster: ClusterApi;
  readonly allocator: NodeAllocator;
  readonly subnets: NodeSubnets;
  readonly direct: DirectAllocations;
  readonly log: Logger;
  readonly now: () => number;
  readonly register: Registration | undefined;
  /** Start from the store's blocks when the cluster cannot be reached (agents). */
  readonly startFromStore: boolean;
}

/**
 * Registers the node under `reg.tor` (idempotent). A refusal (unknown TOR, node under another
 * TOR, bad labels) rejects with its code and a message naming `--tor`; outages pass through.
 */
export async function registerNode(
  cluster: Pick<ClusterApi, "execute">,
  node: string,
  reg: Registration | undefined,
  now: number,
): Promise<void> {
  if (reg === undefined) return;
  try {
    await cluster.execute({
      type: "register-node",
      at: now,
      node,
      tor: reg.tor,
      ...(Object.keys(reg.labels).length === 0 ? {} : { labels: reg.labels }),
    });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== "NOT_FOUND" && code !== "CONFLICT" && code !== "INVALID_ARGUMENT") throw err;
    throw new IpamdError(
      code,
      `--tor: registering ${node} under ${reg.tor}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

const pairKey = (key: AllocationRecord["key"], address: string) =>
  `${keyString(key)}\u0000${address}`;

/**
 * Rebuilds the node allocator: registers the node, reads its leases, path subnets and direct
 * allocations from the cluster (and records the leases in the store), then rebuilds from the
 * store's records. When the cluster cannot be reached and `startFromStore` is set, starts from
 * the blocks and subnets the store remembers instead (without stored blocks that fails
 * UNAVAILABLE). Stored direct records that L1 no longer holds are dropped; direct allocations L1
 * holds without a stored record are released (in the background). Resolves with whether the
 * cluster was read (false: the caller reconciles later).
 */
export async function startNode(p: NodeStartParts): Promise<{ reconciled: boolean }> {
  const { store, cluster, nodeId, log } = p;
  let leases: BlockLease[];
  let direct: DirectAllocation[] | undefined;
  let reconciled = false;
  try {
    await registerNode(cluster, nodeId, p.register, p.now());
    leases = await cluster.nodeLeases(nodeId);
    p.subnets.set(await cluster.nodeSubnets(nodeId));
    direct = await cluster.nodeDirect(nodeId);
    store.replaceLeasedBlocks(
      leases.map((l) => ({ subnet: l.subnet.id, cidr: l.cidr, leasedAt: l.leasedAt })),
    );
    reconciled = true;
  } catch (err) {
    if (!p.startFromStore || !isOutage(err)) throw err;
    leases = p.subnets.restore(nodeId, log);
    if (leases.length === 0) {
      throw new IpamdError(
        "UNAVAILABLE",
        `cluster unreachable and the store holds no blocks for ${nodeId}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    log.warn(
      { err, blocks: leases.length },
      "cluster unreachable at start: allocating from the blocks the store holds",
    );
  }
  const directIds = p.subnets.directIds();
  const subnetsById = p.subnets.byId();
  const blockRecords: AllocationRecord[] = [];
  const inCluster = new Map((direct ?? []).map((d) => [pairKey(d.key, d.address), d]));
  p.direct.clear();
  for (const stored of store.listByNode(nodeId)) {
    const ids = storedSubnetIds(stored);
    if (ids.length === 0 || !ids.every((id) => directIds.has(id))) {
      blockRecords.push(blockRecordFromStore(stored, leases));
      continue;
    }
    const record = directRecordFromStore(stored, subnetsById);
    const missing =
      direct !== undefined &&
      record.addresses.some((a) => !inCluster.has(pairKey(record.key, a.address)));
    if (missing) {
      log.warn(
        { key: record.key, addresses: stored.addresses },
        "direct allocation the cluster no longer holds: record dropped",
      );
      await store.deleteAllocation(record.key);
      continue;
    }
    p.direct.add(record);
  }
  // Released addresses still cooling down stay out of use across the restart.
  const startedAt = p.now();
  store.pruneCooling(startedAt);
  const report = p.allocator.rebuild(blockRecords, leases, store.listCooling(startedAt));
  if (report.orphaned.length > 0) {
    log.warn(
      { orphaned: report.orphaned.map((r) => r.key) },
      "allocations outside the held blocks were dropped",
    );
  }
  releaseStrays(p, inCluster);
  log.info(
    {
      restored: report.restored,
      cooling: report.cooling,
      direct: p.direct.size,
      blocks: leases.length,
      fromStore: !reconciled,
    },
    "node allocator rebuilt",
  );
  return { reconciled };
}

/**
 * Direct addresses L1 holds for this node without a stored record (an answer that never
 * reached the store): given back in one batch, in the background (logged either way).
 */
function releaseStrays(p: NodeStartParts, inCluster: ReadonlyMap<string, DirectAllocation>): void {
  const known = new Set(
    p.direct.records().flatMap((r) => r.addresses.map((a) => pairKey(r.key, a.address))),
  );
  const strays = [...inCluster.entries()].filter(([k]) => !known.has(k)).map(([, d]) => d.key);
  if (strays.length === 0) return;
  void p.cluster
    .execute({
      type: "batch",
      at: p.now(),
      commands: strays.map((key) => ({ type: "release-direct" as const, at: p.now(), key })),
    })
    .then(
      () => p.log.info({ released: strays.length }, "stray direct allocations released"),
      (err: unknown) => p.log.warn({ err }, "releasing stray direct allocations failed"),
    );
}
