import type { IpamMetrics } from "@ipam/metrics";
import type { BlockLease, NodeAllocator } from "@ipam/subnet-pool";
import type { Logger } from "pino";
import { logCarved } from "../cluster/carve-log.js";
import type { ClusterApi } from "../cluster/cluster-api.js";
import type { NodeReport } from "../cluster/node-reports.js";
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

/** First delay before a refused `claim-block` of a lost block is tried again, ms. */
const CLAIM_RETRY_MS = 30_000;

function leasedBlock(lease: BlockLease) {
  return { subnet: lease.subnet.id, cidr: lease.cidr, leasedAt: lease.leasedAt };
}

/**
 * The node's blocks and the cluster: leases what the allocator asks for (one request in flight
 * per request key, concurrent callers share it), follows the state the cluster gives each held
 * block (see {@link refresh}), adopts blocks the cluster lists for the node that it does not
 * hold, and returns idle and emptied closed ones. Every held block is also in the store's
 * leased-block table.
 *
 * Safety (docs/subnet-pool.md, "Block life cycle"): the agent serves only blocks the cluster
 * lists as `leased` to this node. A draining or revoked block, or one the cluster no longer
 * lists at all (`lost`: the node was declared dead meanwhile), hands out no new address from
 * the first refresh that sees it; what pods hold there stays until they release it.
 */
export class BlockLeases {
  readonly #o: BlockLeasesOptions;
  readonly #leasing = new Map<string, Promise<void>>();
  /** Held blocks the cluster no longer lists for this node (served no more), by CIDR. */
  readonly #lost = new Set<string>();
  /** Per lost block whose claim was refused: when to try again (ms) and the last delay. */
  readonly #claimRetry = new Map<string, { at: number; delay: number }>();

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
        const leaseFrom = (subnet: string | undefined) =>
          cluster.execute({
            type: "lease-block",
            at: now,
            node: nodeId,
            purpose: need.purpose,
            family: need.family,
            ...(subnet === undefined ? {} : { subnet }),
            order: "least-used",
          });
        const p = leaseFrom(need.subnetId)
          .catch((err: unknown) => {
            // The held subnet has no free block (or drains): any subnet of the purpose and
            // family will do, in the cluster's order (TOR, then the pod's spill, then the
            // zone's). Without this, a rack whose blocks are all in use or cooling down refused
            // pods while the spill subnet sat unused.
            const code = (err as { code?: unknown }).code;
            if (need.subnetId === undefined || (code !== "POOL_EXHAUSTED" && code !== "DRAINING"))
              throw err;
            log.info(
              { subnet: need.subnetId, purpose: need.purpose, family: need.family },
              "no free block in the held subnet: leasing from the next subnet of the purpose",
            );
            return leaseFrom(undefined);
          })
          .then((result) => {
            const lease = result.value;
            logCarved(log, nodeId, lease.carved);
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
   * Re-reads (linearizably) the leases the cluster lists for this node (and, with `subnets`, the
   * node's path subnets) and applies them: each held block takes the state the cluster gives it
   * (a draining or revoked block stops serving, one leased again serves again); a held block
   * the cluster does not list any more is `lost` (serves nothing new, its records stay, logged
   * as an error once and counted in {@link lostBlocks}); a listed block not held here is adopted
   * in its state (a lease whose answer was lost: a timed-out LeaseBlock retried on a new leader
   * can lease a second block), skipped while a lease is in flight (it may be that lease's
   * answer). Emptied closed blocks go back through {@link returnIdle}.
   */
  async refresh(subnets: boolean): Promise<void> {
    const { allocator, cluster, nodeId, log } = this.#o;
    // Blocks held before the read: a block leased while it runs may be missing from it.
    const before = new Set(allocator.blocks().map((b) => b.cidr));
    const leases = await cluster.nodeLeases(nodeId);
    if (subnets) this.#o.subnets.set(await cluster.nodeSubnets(nodeId));
    const held = new Set(allocator.blocks().map((b) => b.cidr));
    const listed = new Set<string>();
    for (const lease of leases) {
      listed.add(lease.cidr);
      const state = lease.state ?? "leased";
      if (held.has(lease.cidr)) {
        const was = allocator.blocks().find((b) => b.cidr === lease.cidr)?.state ?? "leased";
        allocator.setBlockState(lease.cidr, state);
        if (this.#lost.delete(lease.cidr) || was !== state) {
          log.info({ block: lease.cidr, state }, `block ${state}`);
        }
        continue;
      }
      if (this.#leasing.size > 0) continue;
      allocator.addBlock(lease);
      this.#o.store.putLeasedBlock(leasedBlock(lease));
      log.warn({ block: lease.cidr, state }, "adopted a block the cluster leased to this node");
    }
    const lost: string[] = [];
    for (const cidr of before) {
      if (listed.has(cidr) || !held.has(cidr)) continue;
      allocator.setBlockState(cidr, "revoked");
      if (!this.#lost.has(cidr)) lost.push(cidr);
      this.#lost.add(cidr);
    }
    if (lost.length > 0) {
      log.error(
        { blocks: lost },
        "blocks held by this node are not leased to it in the cluster (declared dead?): serving nothing new from them, keeping their records",
      );
    }
    await this.#reclaim(listed, new Set(lost));
  }

  /**
   * Claims back every lost block (held here, not listed for this node) that the cluster has
   * free: after a disaster restore from an older backup the cluster may not know blocks whose
   * pods still run here. `claim-block` leases exactly that block iff nobody holds it, so the
   * pods keep their addresses and the cluster learns them; a block another node holds, or a
   * node the cluster does not know (declared dead), stays lost (no new address from it).
   */
  async #reclaim(listed: ReadonlySet<string>, fresh: ReadonlySet<string>): Promise<void> {
    const { allocator, cluster, nodeId, log } = this.#o;
    const now = Date.now();
    for (const [cidr] of this.#claimRetry) if (!this.#lost.has(cidr)) this.#claimRetry.delete(cidr);
    for (const cidr of [...this.#lost].sort()) {
      if (listed.has(cidr)) continue;
      // A refused claim is a log entry too: retry after 30 s, doubling up to 10 min.
      const retry = this.#claimRetry.get(cidr);
      if (retry !== undefined && now < retry.at) continue;
      const delay = Math.min(retry === undefined ? CLAIM_RETRY_MS : retry.delay * 2, 600_000);
      this.#claimRetry.set(cidr, { at: now + delay, delay });
      try {
        const r = await cluster.execute({
          type: "claim-block",
          at: Date.now(),
          node: nodeId,
          cidr,
        });
        const state = r.value.state ?? "leased";
        allocator.setBlockState(cidr, state);
        this.#lost.delete(cidr);
        this.#claimRetry.delete(cidr);
        log.warn(
          { block: cidr, state },
          "re-claimed a block this node serves that the cluster had free (restored from an older backup?)",
        );
      } catch (err) {
        // Logged with the lost-blocks error the first time; at debug level on every retry.
        const code = (err as { code?: unknown }).code;
        const level = fresh.has(cidr) ? "warn" : "debug";
        log[level]({ block: cidr, code, err }, "lost block not re-claimed");
      }
    }
  }

  /** Held blocks the cluster no longer lists for this node, sorted (see {@link refresh}). */
  lostBlocks(): string[] {
    return [...this.#lost].sort();
  }

  /**
   * Returns the allocator's idle blocks at `now` (empty past the grace period, keeping one per
   * subnet) and its closed blocks as soon as nothing in them is held or cooling (a subnet's
   * last one too): each leaves the allocator and the store first, then is released in the
   * cluster; a failed release is logged (the next {@link refresh} takes the block back). A lost
   * block the cluster does not know any more (NOT_FOUND) is simply dropped.
   */
  async returnIdle(now: number): Promise<void> {
    const { allocator, cluster, nodeId, log } = this.#o;
    for (const lease of allocator.idleBlocks(now)) {
      allocator.removeBlock(lease.cidr);
      this.#o.store.deleteLeasedBlock(lease.cidr);
      const lost = this.#lost.delete(lease.cidr);
      const why = lost ? "lost" : (lease.state ?? "leased") === "leased" ? "idle" : lease.state;
      try {
        await cluster.execute({ type: "release-block", at: now, node: nodeId, cidr: lease.cidr });
        this.#count("returned", lease);
        log.info({ block: lease.cidr, state: lease.state ?? "leased" }, `${why} block returned`);
      } catch (err) {
        if (lost && (err as { code?: unknown }).code === "NOT_FOUND") {
          log.info({ block: lease.cidr }, "lost block emptied and dropped");
          continue;
        }
        log.warn({ err, block: lease.cidr }, `returning a ${why} block failed`);
      }
    }
  }

  /**
   * What this node's pods hold per block, for the servers (see node-reports.ts): counts for
   * every block, the addresses too for blocks that are closed or lost.
   */
  report(now: number): Omit<NodeReport, "reportedAt" | "node" | "agentVersion">["blocks"] {
    const { allocator } = this.#o;
    const closed = new Map<string, string[]>();
    for (const u of allocator.blockUsage(now)) {
      if ((u.lease.state ?? "leased") !== "leased" || this.#lost.has(u.lease.cidr))
        closed.set(u.lease.cidr, []);
    }
    if (closed.size > 0) {
      for (const r of allocator.records())
        for (const a of r.addresses) closed.get(a.block)?.push(a.address);
    }
    return allocator.blockUsage(now).map((u) => ({
      cidr: u.lease.cidr,
      state: this.#lost.has(u.lease.cidr) ? "lost" : (u.lease.state ?? "leased"),
      held: u.held,
      cooling: u.cooling,
      addresses: closed.get(u.lease.cidr) ?? [],
    }));
  }

  #count(event: "leased" | "returned", lease: BlockLease): void {
    this.#o.metrics?.countPreallocation(event, {
      subnet: lease.subnet.id,
      purpose: lease.subnet.purpose,
      family: lease.subnet.family,
    });
  }
}
