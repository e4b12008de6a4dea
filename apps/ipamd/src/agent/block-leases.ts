import type { IpamMetrics } from "@ipam/metrics";
import type { BlockLease, NodeAllocator } from "@ipam/subnet-pool";
import type { Logger } from "pino";
import type { ClusterApi } from "../cluster/cluster-api.js";
import type { NodeSubnets } from "./node-subnets.js";
import type { AgentStore } from "./stored-records.js";

/** Options of {@link BlockLeases}. */
export interface BlockLeasesOptions {
  readonly nodeId: string;
  readonly allocator: NodeAllocator;
  readonly store: AgentStore;
  readonly cluster: ClusterApi;
  readonly subnets: NodeSubnets;
  readonly log: Logger;
  /** Pre-allocation metrics (`leased`, `returned`), when the daemon counts them. */
  readonly metrics?: IpamMetrics | undefined;
}

function leasedBlock(lease: BlockLease) {
  return { subnet: lease.subnet.id, cidr: lease.cidr, leasedAt: lease.leasedAt };
}

/**
 * The node's blocks and the cluster: leases what the allocator asks for (one request in flight
 * per request key, concurrent callers share it), adopts blocks the cluster lists for the node
 * that it does not hold, and returns idle ones. Every held block is also in the store's
 * leased-block table.
 */
export class BlockLeases {
  readonly #o: BlockLeasesOptions;
  readonly #leasing = new Map<string, Promise<void>>();

  constructor(options: BlockLeasesOptions) {
    this.#o = options;
  }

  /**
   * Leases blocks for what the allocator needs at `now`, and waits for the leases already in
   * flight too (so that concurrent allocations on a node without blocks all wait for the one
   * lease instead of failing). Rejects with the first failed lease.
   */
  async lease(now: number): Promise<void> {
    const { allocator, cluster, nodeId, log } = this.#o;
    const needs = allocator.needs(now);
    const inFlight = [...this.#leasing.values()];
    await Promise.all([
      ...inFlight,
      ...needs.map((need) => {
        const running = this.#leasing.get(need.requestKey);
        if (running !== undefined) return running;
        allocator.markRequested(need.requestKey);
        const p = cluster
          .execute({
            type: "lease-block",
            at: now,
            node: nodeId,
            purpose: need.purpose,
            family: need.family,
            ...(need.subnetId === undefined ? {} : { subnet: need.subnetId }),
          })
          .then((result) => {
            const lease = result.value;
            allocator.addBlock(lease);
            this.#o.store.putLeasedBlock(leasedBlock(lease));
            this.#o.subnets.learn(lease.subnet);
            log.info({ block: lease.cidr, subnet: lease.subnet.id }, "block leased");
            this.#count("leased", lease);
          })
          .finally(() => {
            allocator.markFulfilled(need.requestKey);
            this.#leasing.delete(need.requestKey);
          });
        this.#leasing.set(need.requestKey, p);
        return p;
      }),
    ]);
  }

  /**
   * Leases (through the cluster) the block of `purpose` that contains the static `address` and
   * adds it to the allocator and the store, unless held already. Rejects with the cluster's
   * refusal: `CONFLICT` naming the node that holds that block, `INVALID_ARGUMENT` for an
   * address outside the node's subnets of `purpose`, reserved, or in a direct-mode subnet.
   */
  async leaseContaining(purpose: string, address: string, now: number): Promise<void> {
    const { allocator, cluster, nodeId, log } = this.#o;
    const result = await cluster.execute({
      type: "lease-block",
      at: now,
      node: nodeId,
      purpose,
      address,
    });
    const lease = result.value;
    if (!allocator.addBlock(lease)) return;
    this.#o.store.putLeasedBlock(leasedBlock(lease));
    this.#o.subnets.learn(lease.subnet);
    log.info(
      { block: lease.cidr, subnet: lease.subnet.id, address },
      "block leased for a static address",
    );
    this.#count("leased", lease);
  }

  /**
   * Re-reads the subnets and the leases the cluster lists for this node and takes the blocks
   * not held here (a lease whose answer was lost: a timed-out LeaseBlock retried on a new
   * leader can lease a second block); skipped for each lease while a lease is in flight (it may
   * be that lease's answer). Idle ones go back through {@link returnIdle}. Blocks held here that
   * the cluster does not list are logged (their records stay valid locally).
   */
  async adopt(): Promise<void> {
    const { allocator, cluster, nodeId, log } = this.#o;
    const leases = await cluster.nodeLeases(nodeId);
    this.#o.subnets.set(await cluster.nodeSubnets(nodeId));
    const held = new Set(allocator.blocks().map((b) => b.cidr));
    for (const lease of leases) {
      if (held.delete(lease.cidr)) continue;
      if (this.#leasing.size > 0) continue;
      allocator.addBlock(lease);
      this.#o.store.putLeasedBlock(leasedBlock(lease));
      log.warn({ block: lease.cidr }, "adopted a block the cluster leased to this node");
    }
    if (held.size > 0) {
      log.error(
        { blocks: [...held] },
        "blocks held by this node are not leased to it in the cluster",
      );
    }
  }

  /**
   * Returns the allocator's idle blocks at `now` (empty past the grace period, keeping one per
   * subnet): each leaves the allocator and the store first, then is released in the cluster; a
   * failed release is logged (the next {@link adopt} takes the block back).
   */
  async returnIdle(now: number): Promise<void> {
    const { allocator, cluster, nodeId, log } = this.#o;
    for (const lease of allocator.idleBlocks(now)) {
      allocator.removeBlock(lease.cidr);
      this.#o.store.deleteLeasedBlock(lease.cidr);
      try {
        await cluster.execute({ type: "release-block", at: now, node: nodeId, cidr: lease.cidr });
        this.#count("returned", lease);
        log.info({ block: lease.cidr }, "idle block returned");
      } catch (err) {
        log.warn({ err, block: lease.cidr }, "returning an idle block failed");
      }
    }
  }

  #count(event: "leased" | "returned", lease: BlockLease): void {
    this.#o.metrics?.countPreallocation(event, {
      subnet: lease.subnet.id,
      purpose: lease.subnet.purpose,
      family: lease.subnet.family,
    });
  }
}
