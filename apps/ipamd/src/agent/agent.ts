import type { IpamMetrics } from "@ipam/metrics";
import {
  type AllocatedAddress,
  type AllocationKey,
  type AllocationRecord,
  isPoolError,
  NodeAllocator,
} from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";
import type { Logger } from "pino";
import type { ClusterApi } from "../cluster/cluster-api.js";
import { isOutage } from "../cluster/cluster-errors.js";
import { VERSION } from "../daemon-kit.js";
import { IpamdError } from "../ipamd-error.js";
import type { AllocationRequest, Attachment, PodRef } from "./allocation-request.js";
import { BlockLeases } from "./block-leases.js";
import { DirectAllocations } from "./direct-allocations.js";
import { type Registration, registerNode, startNode } from "./node-start.js";
import { NodeSubnets } from "./node-subnets.js";
import {
  type AllocationView,
  allocationViews,
  type BlockFilter,
  heldFree,
  type NodeBlockView,
  type NodePoolView,
  type NodeStatus,
  nodeBlocks,
  poolStats,
  type StatusQuery,
  type UsageFilter,
} from "./node-views.js";
import { type RuntimeView, RuntimeViews } from "./runtime-views.js";
import { requireSameStatic, staticByFamily } from "./static-addresses.js";
import { type AgentStore, toStoredRecord } from "./stored-records.js";

/** How often the node's path subnets are re-read from the cluster, ms. */
const SUBNET_REFRESH_MS = 30_000;
/**
 * How often the node's leases (and their states) are re-read, ms: a block the cluster drains or
 * revokes stops serving within this time (plus one maintenance interval).
 */
const LEASE_REFRESH_MS = 2_000;
/** How often the node reports what its pods hold to the servers, ms. */
const REPORT_MS = 5_000;

export interface AgentOptions {
  readonly nodeId: string;
  readonly store: AgentStore;
  readonly cluster: ClusterApi;
  readonly logger: Logger;
  readonly preallocateThreshold: number;
  /** Clock, ms since the epoch (injected for tests). */
  readonly now?: () => number;
  /**
   * Register the node under this TOR (with these labels) when the cluster is reached; undefined
   * = the node is expected in the topology already.
   */
  readonly register?: Registration;
  /**
   * When the cluster cannot be reached at start, start from the blocks and subnets the store
   * remembers (and reconcile once it answers) instead of failing. Agents set it; role all,
   * whose cluster is in-process, does not need it.
   */
  readonly startFromStore?: boolean;
  /** Most direct-mode allocations sent in one batch command; default 256. */
  readonly directBatchMax?: number;
  /** Pre-allocation metrics (blocks leased and returned); none in most tests. */
  readonly metrics?: IpamMetrics;
  /**
   * Why the node must not be called ready although its allocator runs (`--kubernetes`: a
   * missing TOR label, a move between TORs), or undefined. Status and `/readyz` report it.
   */
  readonly notReady?: () => string | undefined;
}

/** What an allocation answers: the purpose served and one address per family. */
export interface AllocationResult {
  readonly purpose: string;
  readonly addresses: readonly AllocatedAddress[];
}

/** What a CHECK answers: whether the key holds every address asked about. */
export interface CheckResult {
  readonly ok: boolean;
  /** Why not, when not ok. */
  readonly reason: string;
  /** The key's record, when it holds one. */
  readonly record?: AllocationRecord;
}

/**
 * The node-local allocator (L2): answers from the blocks this node holds, leases more through
 * the cluster when a subnet runs dry, and makes every allocation durable in the store before
 * answering. Plain TypeScript: the gRPC edge is `ipamHandlers(agent)`.
 *
 * Purposes whose subnets on the node's path are all direct-mode (block size one address) are
 * allocated per address in L1 ({@link DirectAllocations}). Those need the cluster; block-mode
 * purposes keep working from the held blocks while the cluster is unreachable (Status says so).
 */
export class Agent {
  readonly allocator: NodeAllocator;
  readonly #store: AgentStore;
  readonly #cluster: ClusterApi;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #options: AgentOptions;
  readonly #subnets: NodeSubnets;
  readonly #direct: DirectAllocations;
  readonly #blocks: BlockLeases;
  readonly #runtimeViews: RuntimeViews;
  #ready = false;
  /** False after a start from the store, until the cluster has been re-read. */
  #reconciled = false;
  #timer: NodeJS.Timeout | undefined;
  #maintaining = false;
  #leasesReadAt = Number.NEGATIVE_INFINITY;
  #reportedAt = Number.NEGATIVE_INFINITY;
  #register: Registration | undefined;
  /** A registration asked for after the start, tried at each maintenance pass until taken. */
  #pendingRegister: Registration | undefined;
  #registerRefusal: string | undefined;

  constructor(options: AgentOptions) {
    this.allocator = new NodeAllocator({
      node: options.nodeId,
      preallocate: { thresholdRatio: options.preallocateThreshold },
    });
    this.#store = options.store;
    this.#cluster = options.cluster;
    this.#options = options;
    this.#register = options.register;
    this.#log = options.logger.child({ component: "agent" });
    this.#now = options.now ?? Date.now;
    this.#subnets = new NodeSubnets(options.store, this.#now);
    this.#runtimeViews = new RuntimeViews(options.store);
    this.#direct = new DirectAllocations({
      nodeId: options.nodeId,
      store: options.store,
      cluster: options.cluster,
      now: this.#now,
      log: this.#log,
      ...(options.directBatchMax === undefined ? {} : { batchMax: options.directBatchMax }),
    });
    this.#blocks = new BlockLeases({
      nodeId: options.nodeId,
      allocator: this.allocator,
      store: options.store,
      cluster: options.cluster,
      subnets: this.#subnets,
      log: this.#log,
      metrics: options.metrics,
    });
  }

  get nodeId(): string {
    return this.allocator.node;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** True while ready but the cluster is unreachable or not re-read since a start from the store. */
  get degraded(): boolean {
    return this.#ready && (!this.#reconciled || !this.#cluster.available());
  }

  /** What `/readyz` reports: ready once rebuilt; the reason says when the cluster is out of reach. */
  readiness(): { ready: boolean; reason?: string } {
    const held = this.#options.notReady?.();
    if (held !== undefined) return { ready: false, reason: held };
    if (!this.#ready) return { ready: false, reason: "node allocator not rebuilt yet" };
    if (this.degraded) {
      return { ready: true, reason: "cluster unreachable, allocating from held blocks" };
    }
    return { ready: true };
  }

  /**
   * Rebuilds the allocator from the store's records and the cluster's leases (registering the
   * node first when `register` is set); see {@link startNode}. Allocate answers UNAVAILABLE
   * until it resolves.
   */
  async start(): Promise<void> {
    const { reconciled } = await startNode({
      nodeId: this.nodeId,
      store: this.#store,
      cluster: this.#cluster,
      allocator: this.allocator,
      subnets: this.#subnets,
      direct: this.#direct,
      log: this.#log,
      now: this.#now,
      register: this.#register,
      startFromStore: this.#options.startFromStore === true,
    });
    this.#reconciled = reconciled;
    this.#ready = true;
  }

  /**
   * Every `intervalMs`: reconcile after a start from the store (register, adopt the cluster's
   * leases), re-read subnets and leases every 30 s, lease blocks for subnets below the
   * pre-allocation threshold and return idle blocks. Skipped while the cluster is unreachable;
   * one pass at a time. Stopped by {@link stop}.
   */
  startMaintenance(intervalMs: number): void {
    this.#timer = setInterval(() => {
      if (this.#maintaining) return;
      this.#maintaining = true;
      this.#maintain()
        .catch((err: unknown) => this.#log.warn({ err }, "block maintenance failed"))
        .finally(() => {
          this.#maintaining = false;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  /**
   * Registers the node under `reg` (its TOR or labels changed): before {@link start}, what the
   * start registers; after it, tried at each maintenance pass until the cluster takes it. A
   * node registered under another TOR is refused (`CONFLICT`) until the cluster has removed it
   * from the old TOR (deregistered with its blocks revoked, then returned as its pods release
   * them: issue 15), so no block of the old TOR is ever served under the new one.
   */
  reregister(reg: Registration): void {
    if (!this.#ready) {
      this.#register = reg;
      return;
    }
    this.#pendingRegister = reg;
  }

  /** The registration asked for by {@link reregister} that the cluster has not taken yet. */
  get pendingRegistration(): Registration | undefined {
    return this.#pendingRegister;
  }

  /** Why the last pending registration was refused (undefined when none is pending or refused). */
  get registrationRefusal(): string | undefined {
    return this.#pendingRegister === undefined ? undefined : this.#registerRefusal;
  }

  async #registerPending(): Promise<void> {
    const reg = this.#pendingRegister as Registration;
    try {
      await registerNode(this.#cluster, this.nodeId, reg, this.#now());
    } catch (err) {
      if (isOutage(err)) throw err;
      const message = (err as Error).message;
      if (message !== this.#registerRefusal) {
        this.#log.warn({ err, tor: reg.tor }, `registering under ${reg.tor} refused (retrying)`);
      }
      this.#registerRefusal = message;
      return;
    }
    if (this.#pendingRegister === reg) this.#pendingRegister = undefined;
    this.#register = reg;
    this.#registerRefusal = undefined;
    await this.#blocks.refresh(true);
    this.#leasesReadAt = this.#now();
    this.#log.info({ tor: reg.tor }, `registered under ${reg.tor}`);
  }

  /** Cancels the maintenance timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #maintain(): Promise<void> {
    if (!this.#cluster.available()) return;
    if (!this.#reconciled) {
      await registerNode(this.#cluster, this.nodeId, this.#register, this.#now());
      await this.#blocks.refresh(true);
      this.#leasesReadAt = this.#now();
      this.#reconciled = true;
      this.#log.info("reconciled with the cluster");
    }
    if (this.#pendingRegister !== undefined) await this.#registerPending();
    const now = this.#now();
    const subnets = this.#subnets.due(now, SUBNET_REFRESH_MS);
    if (subnets || now - this.#leasesReadAt >= LEASE_REFRESH_MS) {
      await this.#blocks.refresh(subnets);
      this.#leasesReadAt = now;
    }
    await this.#blocks.lease(now);
    await this.#blocks.returnIdle(now);
    if (now - this.#reportedAt >= REPORT_MS) {
      this.#reportedAt = now;
      await this.#cluster.reportNode({
        node: this.nodeId,
        agentVersion: VERSION,
        blocks: this.#blocks.report(now),
      });
    }
  }

  /** Held blocks the cluster no longer lists for this node (served no more), sorted. */
  lostBlocks(): string[] {
    return this.#blocks.lostBlocks();
  }

  /** The record `key` holds (block or direct mode), or undefined. */
  get(key: AllocationKey): AllocationRecord | undefined {
    return this.allocator.get(key) ?? this.#direct.get(key);
  }

  /**
   * Allocate: the key's existing addresses, else direct-mode addresses through the cluster, else
   * addresses from the held blocks (leasing more when they run dry); durable before it resolves.
   * `requestedAddresses` (static addresses, one per family at most) are given exactly or
   * refused; a key asking again for what it holds gets it again (see {@link #allocateFromBlocks}
   * and docs/ipamd.md "Static addresses").
   * Rejects UNAVAILABLE before {@link start}; CONFLICT when the key holds another purpose's
   * addresses or other addresses than the static ones asked for; INVALID_ARGUMENT for a purpose
   * that no subnet has (`details.field` `purpose`, naming the known ones), a purpose that is
   * direct-mode in one requested family and block-mode in the other, or a bad static address;
   * NOT_FOUND for a purpose with no subnet of a requested family on this node's path.
   */
  async allocate(request: AllocationRequest): Promise<AllocationResult> {
    if (!this.#ready) {
      throw new IpamdError("UNAVAILABLE", "starting: the node allocator is not rebuilt yet");
    }
    const { key, purpose, pod } = request;
    const families = request.families ?? [4];
    const statics = staticByFamily(request.requestedAddresses, families);
    const existingDirect = this.#direct.get(key);
    if (existingDirect !== undefined) {
      if (existingDirect.purpose !== purpose) {
        throw new IpamdError(
          "CONFLICT",
          `key ${key.containerId}/${key.ifname} holds ${existingDirect.purpose} addresses, not ${purpose}`,
        );
      }
      requireSameStatic(existingDirect, statics);
      return { purpose, addresses: existingDirect.addresses };
    }
    const existingBlock = this.allocator.get(key);
    let modes = families.map((f) => this.#subnets.modeOf(purpose, f));
    if (existingBlock === undefined && modes.includes("none")) {
      // No subnet of this purpose and family is known here: ask the cluster why (a typo, a
      // purpose not on this node's path) or learn subnets added since the last refresh.
      for (const [i, family] of families.entries()) {
        if (modes[i] === "none") await this.#requireCapacity(purpose, family);
      }
      await this.#blocks.refresh(true);
      modes = families.map((f) => this.#subnets.modeOf(purpose, f));
    }
    if (existingBlock === undefined && modes.every((m) => m === "direct")) {
      const record = await this.#direct.allocate(key, purpose, families, pod, statics);
      return { purpose, addresses: record.addresses };
    }
    if (modes.includes("direct") && modes.includes("block")) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `families: purpose ${purpose} is direct-mode in one family and block-mode in the other; ask for each family separately`,
      );
    }
    return {
      purpose,
      addresses: await this.#allocateFromBlocks(key, purpose, request.families, pod, statics),
    };
  }

  /**
   * Resolves when the cluster says the node can get a `purpose` address of `family`; rejects
   * with its refusal (INVALID_ARGUMENT unknown purpose, NOT_FOUND, POOL_EXHAUSTED) or
   * UNAVAILABLE when it cannot be asked.
   */
  async #requireCapacity(purpose: string, family: Family): Promise<void> {
    if (!this.#cluster.available()) {
      throw new IpamdError(
        "UNAVAILABLE",
        `this node knows no IPv${family} ${purpose} subnet and the cluster is unreachable to ask; try again`,
        { details: { purpose, family } },
      );
    }
    await this.#cluster.checkCapacity(this.nodeId, purpose, family);
  }

  /**
   * The block-mode path: local allocation from held blocks, leasing more when they run dry. A
   * static address in no held block has the block containing it leased through the cluster
   * first (refused with CONFLICT naming the node when another node holds that block: a block
   * is never split between two holders).
   */
  async #allocateFromBlocks(
    key: AllocationKey,
    purpose: string,
    families: readonly Family[] | undefined,
    pod: PodRef | undefined,
    statics: ReadonlyMap<Family, string>,
  ): Promise<readonly AllocatedAddress[]> {
    let result: ReturnType<NodeAllocator["allocate"]> | undefined;
    for (let attempt = 0; result === undefined; attempt++) {
      const now = this.#now();
      try {
        result = this.allocator.allocate({
          key,
          purpose,
          now,
          ...(families === undefined ? {} : { families }),
          ...(statics.size === 0 ? {} : { addresses: [...statics.values()] }),
        });
      } catch (err) {
        if (!isPoolError(err) || attempt >= 3) throw err;
        const notHeld = err.code === "NOT_FOUND" && err.details?.reason === "not-held";
        if (err.code !== "POOL_EXHAUSTED" && !notHeld) throw err;
        if (!this.#cluster.available()) {
          throw new IpamdError(
            "UNAVAILABLE",
            `${err.message}, and the cluster is unreachable to lease ${notHeld ? "it" : "another"}; try again`,
            { cause: err, details: err.details ?? {} },
          );
        }
        if (notHeld) {
          await this.#blocks.leaseContaining(purpose, String(err.details?.address), now);
        } else {
          await this.#blocks.lease(now);
        }
      }
    }
    if (!result.existing) {
      try {
        await this.#store.saveAllocation(toStoredRecord(result.record, this.nodeId, pod));
      } catch (err) {
        this.allocator.release(key, this.#now());
        throw err;
      }
      if (this.#cluster.available()) {
        void this.#blocks
          .lease(this.#now())
          .catch((err: unknown) => this.#log.warn({ err }, "background block lease failed"));
      }
    }
    return result.addresses;
  }

  /** Release: the record the key held (undefined when it held nothing), durably removed. */
  async release(key: AllocationKey): Promise<AllocationRecord | undefined> {
    const direct = this.#direct.get(key);
    if (direct !== undefined) {
      await this.#direct.release([direct]);
      return direct;
    }
    const now = this.#now();
    const held = this.allocator.get(key);
    // The cool-down goes to the store with the delete, so a restart keeps it.
    await this.#store.deleteAllocation(
      key,
      held === undefined ? [] : this.allocator.coolingFor(held, now),
    );
    return this.allocator.release(key, now);
  }

  /** CHECK: whether `key` holds each of `addresses`. */
  check(key: AllocationKey, addresses: readonly string[]): CheckResult {
    const record = this.get(key);
    if (record === undefined) return { ok: false, reason: "no allocation for this key" };
    const held = new Set(record.addresses.map((a) => a.address));
    const missing = addresses.filter((a) => !held.has(a));
    return {
      ok: missing.length === 0,
      reason: missing.length === 0 ? "" : `not allocated to this key: ${missing.join(", ")}`,
      record,
    };
  }

  /**
   * Releases every record of `network` whose interface is not in `alive`, durably; resolves with
   * the released records. Block-mode records go first (local, they need no cluster), then
   * direct-mode ones through the cluster: a cluster that cannot be reached fails the call (the
   * runtime retries its GC) but no longer keeps the local releases from happening. `alive` is
   * first kept durably as the network's runtime view ({@link runtimeViews}), so that a record the
   * release leaves behind (it failed) is still known to be one the runtime no longer has.
   */
  async gc(network: string, alive: readonly Attachment[]): Promise<AllocationRecord[]> {
    this.#runtimeViews.record({ network, receivedAt: this.#now(), validAttachments: alive });
    const staleDirect = this.#direct.stale(network, alive);
    const now = this.#now();
    const released = this.allocator.gc(network, alive, now);
    await Promise.all(
      released.map((r) => this.#store.deleteAllocation(r.key, this.allocator.coolingFor(r, now))),
    );
    await this.#direct.release(staleDirect);
    const all = [...staleDirect, ...released];
    this.#log.info({ network, released: all.length }, "garbage collected");
    return all;
  }

  /** The last CNI GC view of each network (or of `network`), in network order. */
  runtimeViews(network?: string): RuntimeView[] {
    return this.#runtimeViews.list(network);
  }

  /** The blocks this node holds, matching `filter`. */
  nodeBlocks(filter: BlockFilter = {}): NodeBlockView[] {
    return nodeBlocks(this.allocator, this.#now(), filter, new Set(this.#blocks.lostBlocks()));
  }

  /** The node's usage per held subnet, matching `filter`. */
  poolStats(filter: UsageFilter = {}): NodePoolView[] {
    return poolStats(this.allocator, this.#now(), filter);
  }

  /** The stored allocations of this node (or of `network`, any node), matching `purpose`. */
  allocations(filter: { readonly network?: string; readonly purpose?: string }): AllocationView[] {
    const rows =
      filter.network === undefined
        ? this.#store.listByNode(this.nodeId)
        : this.#store.listByNetwork(filter.network);
    return allocationViews(rows, filter.purpose, (key) => this.get(key));
  }

  /**
   * What Status answers for a network of `query.purpose` and `query.families`: UNAVAILABLE while
   * starting; EXHAUSTED when, for some requested family, ADD cannot succeed now (the reason names
   * the purpose and family): block mode with the held blocks full and no block to lease (the
   * cluster unreachable, or no free block for this node: a cheap read), direct mode with no free
   * address or the cluster unreachable, or no subnet of that family on this node's path; else
   * READY (with a reason while the cluster is unreachable). A purpose no subnet has is rejected
   * INVALID_ARGUMENT (`details.field` `purpose`) as Allocate would.
   */
  async status(query: StatusQuery = { purpose: "default", families: [4] }): Promise<NodeStatus> {
    const held = this.#options.notReady?.();
    if (held !== undefined) return { state: "UNAVAILABLE", reason: held };
    if (!this.#ready) {
      return {
        state: "UNAVAILABLE",
        reason: this.#cluster.available()
          ? "starting"
          : "starting: waiting for a cluster server to answer (no blocks stored yet)",
      };
    }
    const { purpose } = query;
    const usage = this.allocator.usage(this.#now());
    for (const family of query.families) {
      const what = `IPv${family} ${purpose}`;
      const mode = this.#subnets.modeOf(purpose, family);
      if (mode === "block" && heldFree(usage, purpose, family) > 0) continue;
      const held = mode === "block" ? `the held ${what} blocks are full` : undefined;
      if (!this.#cluster.available()) {
        const why =
          held ?? (mode === "direct" ? `${what} is direct-mode` : `no ${what} subnet is known`);
        return {
          state: "EXHAUSTED",
          reason: `cluster unreachable and ${why}: no ${mode === "direct" ? "address" : "block"} can be had`,
        };
      }
      try {
        await this.#cluster.checkCapacity(this.nodeId, purpose, family);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === "INVALID_ARGUMENT") throw err;
        const message = err instanceof Error ? err.message : String(err);
        if (isOutage(err)) {
          return {
            state: "EXHAUSTED",
            reason: `${held ?? `no free ${what} address held`} and the cluster cannot be asked for more: ${message}`,
          };
        }
        return {
          state: "EXHAUSTED",
          reason: held === undefined ? `${what}: ${message}` : `${held} and ${message}`,
        };
      }
    }
    if (this.degraded) {
      return { state: "READY", reason: "cluster unreachable: allocating from held blocks" };
    }
    return { state: "READY", reason: "" };
  }
}
