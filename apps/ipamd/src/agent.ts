import {
  type AllocateRequest,
  FamilySelection,
  type IpamHandlers,
  ReadyState,
  type ReleaseRequest,
  Family as WireFamily,
} from "@ipam/grpc-server";
import { type IpamMetrics, resultOf } from "@ipam/metrics";
import type { Store, AllocationRecord as StoredRecord } from "@ipam/store";
import {
  type AllocateDirectCommand,
  type AllocatedAddress,
  type AllocationKey,
  type AllocationRecord,
  type BlockLease,
  type CommandResult,
  type DirectAllocateValue,
  type DirectAllocation,
  isPoolError,
  keyString,
  NodeAllocator,
  type ReleaseDirectCommand,
} from "@ipam/subnet-pool";
import { isDirectMode, type Labels, type Subnet } from "@ipam/topology";
import type { Logger } from "pino";
import { allocationMode } from "./agent/allocation-mode.js";
import type { ClusterApi } from "./cluster/cluster-api.js";
import { toIpamdCode } from "./cluster/cluster-errors.js";
import { IpamdError } from "./ipamd-error.js";

/** Store meta key holding the node's path subnets (JSON Subnet[]), for a start without the cluster. */
const SUBNETS_META = "agent.node-subnets";
/** How often the node's path subnets and leases are re-read from the cluster, ms. */
const SUBNET_REFRESH_MS = 30_000;

type Family = 4 | 6;

export interface AgentOptions {
  readonly nodeId: string;
  readonly store: Store;
  readonly cluster: ClusterApi;
  readonly logger: Logger;
  readonly preallocateThreshold: number;
  /** Clock, ms since the epoch (injected for tests). */
  readonly now?: () => number;
  /**
   * Register the node under this TOR (with these labels) when the cluster is reached; undefined
   * = the node is expected in the topology already.
   */
  readonly register?: { readonly tor: string; readonly labels: Labels };
  /**
   * When the cluster cannot be reached at start, start from the blocks and subnets the store
   * remembers (and reconcile once it answers) instead of failing. Agents set it; role all,
   * whose cluster is in-process, does not need it.
   */
  readonly startFromStore?: boolean;
  /** Most direct-mode allocations sent in one batch command; default 256. */
  readonly directBatchMax?: number;
}

interface QueuedDirect {
  readonly command: AllocateDirectCommand | ReleaseDirectCommand;
  readonly resolve: (r: CommandResult) => void;
  readonly reject: (e: unknown) => void;
}

function hostPrefixOf(address: string): string {
  return `${address}/${address.includes(":") ? 128 : 32}`;
}

function outage(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "UNAVAILABLE" || code === "TIMEOUT" || code === "NOT_LEADER";
}

function familiesOf(selection: FamilySelection): Family[] | undefined {
  switch (selection) {
    case FamilySelection.IPV4:
      return [4];
    case FamilySelection.IPV6:
      return [6];
    case FamilySelection.DUAL_STACK:
      return [4, 6];
    default:
      return undefined;
  }
}

function wireAddress(a: AllocatedAddress, purpose: string) {
  return {
    address: a.address,
    prefixLength: a.prefixLength,
    gateway: a.gateway ?? "",
    family: a.family === 4 ? WireFamily.IPV4 : WireFamily.IPV6,
    subnetId: a.subnet,
    blockCidr: a.block,
    purpose,
  };
}

function directAddress(d: DirectAllocation): AllocatedAddress {
  return {
    address: d.address,
    family: d.family,
    prefixLength: d.prefixLength,
    gateway: d.gateway,
    subnet: d.subnet,
    block: hostPrefixOf(d.address),
  };
}

function requireText(field: string, value: string): string {
  if (value === "") throw new IpamdError("INVALID_ARGUMENT", `${field}: must not be empty`);
  return value;
}

/**
 * The node-local allocator (L2) behind the Ipam API: answers from the blocks this node holds,
 * leases more through the cluster when a subnet runs dry (one lease in flight per subnet), and
 * makes every allocation durable in the store before answering.
 *
 * Purposes whose subnets on the node's path are all direct-mode (block size one address) are
 * allocated per address in L1: requests arriving together go out as one `batch` command, and
 * the record is still saved in the store before the answer. Those need the cluster; block-mode
 * purposes keep working from the held blocks while the cluster is unreachable (Status says so).
 */
export class Agent {
  readonly allocator: NodeAllocator;
  readonly #store: Store;
  readonly #cluster: ClusterApi;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #options: AgentOptions;
  readonly #leasing = new Map<string, Promise<void>>();
  /** Direct-mode allocation records by key string (their addresses live in L1). */
  readonly #direct = new Map<string, AllocationRecord>();
  /** Direct-mode commands waiting to leave as one batch, per command type (one batch in flight each). */
  readonly #directQueues = {
    "allocate-direct": { queue: [] as QueuedDirect[], flushing: false },
    "release-direct": { queue: [] as QueuedDirect[], flushing: false },
  };
  /** The subnets on this node's path (from the cluster, or the store when started without it). */
  #subnets: Subnet[] = [];
  #subnetsAt = 0;
  #ready = false;
  /** False after a start from the store, until the cluster has been re-read. */
  #reconciled = false;
  #timer: NodeJS.Timeout | undefined;
  #maintaining = false;
  /** Allocation/release/pre-allocation metrics; set by the daemon (optional in tests). */
  metrics: IpamMetrics | undefined;

  constructor(options: AgentOptions) {
    this.allocator = new NodeAllocator({
      node: options.nodeId,
      preallocate: { thresholdRatio: options.preallocateThreshold },
    });
    this.#store = options.store;
    this.#cluster = options.cluster;
    this.#options = options;
    this.#log = options.logger.child({ component: "agent" });
    this.#now = options.now ?? Date.now;
  }

  get nodeId(): string {
    return this.allocator.node;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** True after a start from the store while the cluster has not been re-read yet. */
  get degraded(): boolean {
    return this.#ready && (!this.#reconciled || !this.#cluster.available());
  }

  /** What `/readyz` reports: ready once rebuilt; the reason says when the cluster is out of reach. */
  readiness(): { ready: boolean; reason?: string } {
    if (!this.#ready) return { ready: false, reason: "node allocator not rebuilt yet" };
    if (this.degraded) {
      return { ready: true, reason: "cluster unreachable, allocating from held blocks" };
    }
    return { ready: true };
  }

  /**
   * Rebuilds the allocator from the store's records and the cluster's leases (registering the
   * node first when `register` is set). When the cluster cannot be reached and
   * `startFromStore` is set, starts from the blocks and subnets the store remembers instead
   * (reconciled later by the maintenance timer); without stored blocks that fails UNAVAILABLE.
   */
  async start(): Promise<void> {
    let leases: BlockLease[];
    let direct: DirectAllocation[] | undefined;
    try {
      await this.#register();
      leases = await this.#cluster.nodeLeases(this.nodeId);
      if (this.#cluster.nodeSubnets !== undefined) {
        this.#setSubnets(await this.#cluster.nodeSubnets(this.nodeId));
      } else {
        this.#setSubnets(this.#mergeSubnets(leases.map((l) => l.subnet)));
      }
      direct = (await this.#cluster.nodeDirect?.(this.nodeId)) ?? [];
      this.#store.replaceLeasedBlocks(
        leases.map((l) => ({ subnet: l.subnet.id, cidr: l.cidr, leasedAt: l.leasedAt })),
      );
      this.#reconciled = true;
    } catch (err) {
      if (this.#options.startFromStore !== true || !outage(err)) throw err;
      leases = this.#storedLeases();
      if (leases.length === 0) {
        throw new IpamdError(
          "UNAVAILABLE",
          `cluster unreachable and the store holds no blocks for ${this.nodeId}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      this.#log.warn(
        { err, blocks: leases.length },
        "cluster unreachable at start: allocating from the blocks the store holds",
      );
    }
    const directIds = new Set(this.#subnets.filter(isDirectMode).map((s) => s.id));
    const blockRecords: AllocationRecord[] = [];
    const inCluster = new Map(
      (direct ?? []).map((d) => [`${keyString(d.key)}\u0000${d.address}`, d]),
    );
    this.#direct.clear();
    for (const stored of this.#store.listByNode(this.nodeId)) {
      const ids = stored.addresses.map((_, i) => stored.subnets?.[i] ?? stored.subnet ?? "");
      if (ids.length === 0 || !ids.every((id) => directIds.has(id))) {
        blockRecords.push(this.#fromStored(stored, leases));
        continue;
      }
      const record = this.#fromStoredDirect(stored);
      const missing =
        direct !== undefined &&
        record.addresses.some((a) => !inCluster.has(`${keyString(record.key)}\u0000${a.address}`));
      if (missing) {
        this.#log.warn(
          { key: record.key, addresses: stored.addresses },
          "direct allocation the cluster no longer holds: record dropped",
        );
        await this.#store.deleteAllocation(record.key);
        continue;
      }
      this.#direct.set(keyString(record.key), record);
    }
    // Released addresses still cooling down stay out of use across the restart.
    const startedAt = this.#now();
    this.#store.pruneCooling(startedAt);
    const report = this.allocator.rebuild(blockRecords, leases, this.#store.listCooling(startedAt));
    if (report.orphaned.length > 0) {
      this.#log.warn(
        { orphaned: report.orphaned.map((r) => r.key) },
        "allocations outside the held blocks were dropped",
      );
    }
    // Direct addresses L1 holds for this node without a stored record (an answer that never
    // reached the store): give them back.
    const known = new Set(
      [...this.#direct.values()].flatMap((r) =>
        r.addresses.map((a) => `${keyString(r.key)}\u0000${a.address}`),
      ),
    );
    const strays = [...inCluster.entries()].filter(([k]) => !known.has(k)).map(([, d]) => d.key);
    if (strays.length > 0) {
      void this.#cluster
        .execute({
          type: "batch",
          at: this.#now(),
          commands: strays.map((key) => ({
            type: "release-direct" as const,
            at: this.#now(),
            key,
          })),
        })
        .then(
          () => this.#log.info({ released: strays.length }, "stray direct allocations released"),
          (err: unknown) => this.#log.warn({ err }, "releasing stray direct allocations failed"),
        );
    }
    this.#log.info(
      {
        restored: report.restored,
        cooling: report.cooling,
        direct: this.#direct.size,
        blocks: leases.length,
        fromStore: !this.#reconciled,
      },
      "node allocator rebuilt",
    );
    this.#ready = true;
  }

  async #register(): Promise<void> {
    const reg = this.#options.register;
    if (reg === undefined) return;
    try {
      await this.#cluster.execute({
        type: "register-node",
        at: this.#now(),
        node: this.nodeId,
        tor: reg.tor,
        ...(Object.keys(reg.labels).length === 0 ? {} : { labels: reg.labels }),
      });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== "NOT_FOUND" && code !== "CONFLICT" && code !== "INVALID_ARGUMENT") throw err;
      throw new IpamdError(
        code,
        `--tor: registering ${this.nodeId} under ${reg.tor}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  #setSubnets(subnets: readonly Subnet[]): void {
    this.#subnets = [...subnets];
    this.#subnetsAt = this.#now();
    this.#store.setMeta(SUBNETS_META, JSON.stringify(this.#subnets));
  }

  /** The known subnets plus `more` (by id; later definitions win). */
  #mergeSubnets(more: readonly Subnet[]): Subnet[] {
    const byId = new Map(this.#subnets.map((s) => [s.id, s]));
    for (const s of more) byId.set(s.id, s);
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The leases the store remembers, with the subnet definitions it remembers. */
  #storedLeases(): BlockLease[] {
    const text = this.#store.getMeta(SUBNETS_META);
    this.#subnets = text === undefined ? [] : (JSON.parse(text) as Subnet[]);
    const byId = new Map(this.#subnets.map((s) => [s.id, s]));
    const out: BlockLease[] = [];
    for (const b of this.#store.listLeasedBlocks()) {
      const subnet = byId.get(b.subnet);
      if (subnet === undefined) {
        this.#log.warn({ block: b.cidr, subnet: b.subnet }, "stored block of an unknown subnet");
        continue;
      }
      out.push({ node: this.nodeId, cidr: b.cidr, leasedAt: b.leasedAt, subnet });
    }
    return out;
  }

  /**
   * After a start from the store: registers the node, re-reads the leases and direct
   * allocations and adds the blocks the cluster says this node holds; blocks held here that the
   * cluster does not list are logged (their records stay valid locally).
   */
  async #reconcile(): Promise<void> {
    await this.#register();
    await this.#adoptLeases();
    this.#reconciled = true;
    this.#log.info("reconciled with the cluster");
  }

  /**
   * Re-reads the subnets and the leases the cluster lists for this node and takes the blocks
   * not held here (a lease whose answer was lost: a timed-out LeaseBlock retried on a new
   * leader can lease a second block). Idle ones go back through the idle-block return.
   */
  async #adoptLeases(): Promise<void> {
    const leases = await this.#cluster.nodeLeases(this.nodeId);
    if (this.#cluster.nodeSubnets !== undefined) {
      this.#setSubnets(await this.#cluster.nodeSubnets(this.nodeId));
    }
    const held = new Set(this.allocator.blocks().map((b) => b.cidr));
    for (const lease of leases) {
      if (held.delete(lease.cidr)) continue;
      if (this.#leasing.size > 0) continue; // may be the answer of a lease in flight
      this.allocator.addBlock(lease);
      this.#store.putLeasedBlock({
        subnet: lease.subnet.id,
        cidr: lease.cidr,
        leasedAt: lease.leasedAt,
      });
      this.#log.warn({ block: lease.cidr }, "adopted a block the cluster leased to this node");
    }
    if (held.size > 0) {
      this.#log.error(
        { blocks: [...held] },
        "blocks held by this node are not leased to it in the cluster",
      );
    }
  }

  /**
   * Every `intervalMs`: reconcile after a start from the store, lease blocks for subnets below
   * the pre-allocation threshold and return idle blocks (empty past the grace period, keeping
   * one per subnet). Skipped while the cluster is unreachable. Stopped by {@link stop}.
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

  /** Cancels the maintenance timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #maintain(): Promise<void> {
    if (!this.#cluster.available()) return;
    if (!this.#reconciled) await this.#reconcile();
    const now = this.#now();
    if (now - this.#subnetsAt >= SUBNET_REFRESH_MS) {
      this.#subnetsAt = now;
      await this.#adoptLeases();
    }
    await this.#lease(now);
    for (const lease of this.allocator.idleBlocks(now)) {
      this.allocator.removeBlock(lease.cidr);
      this.#store.deleteLeasedBlock(lease.cidr);
      try {
        await this.#cluster.execute({
          type: "release-block",
          at: now,
          node: this.nodeId,
          cidr: lease.cidr,
        });
        this.metrics?.countPreallocation("returned", {
          subnet: lease.subnet.id,
          purpose: lease.subnet.purpose,
          family: lease.subnet.family,
        });
        this.#log.info({ block: lease.cidr }, "idle block returned");
      } catch (err) {
        this.#log.warn({ err, block: lease.cidr }, "returning an idle block failed");
      }
    }
  }

  #fromStored(r: StoredRecord, leases: readonly BlockLease[]): AllocationRecord {
    const addresses: AllocatedAddress[] = r.addresses.map((address, i) => {
      const subnetId = r.subnets?.[i] ?? r.subnet;
      const lease = leases.find((l) => l.subnet.id === subnetId) ?? leases[0];
      const family: Family = address.includes(":") ? 6 : 4;
      const prefixLength = Number(lease?.subnet.cidr.split("/")[1] ?? (family === 4 ? 32 : 128));
      return {
        address,
        family,
        prefixLength,
        gateway: lease?.subnet.gateway ?? null,
        subnet: subnetId ?? "",
        block: lease?.cidr ?? "",
      };
    });
    return {
      key: { network: r.network, containerId: r.containerId, ifname: r.ifname },
      purpose: r.purpose,
      addresses,
      createdAt: r.createdAt,
    };
  }

  #fromStoredDirect(r: StoredRecord): AllocationRecord {
    const byId = new Map(this.#subnets.map((s) => [s.id, s]));
    const addresses: AllocatedAddress[] = r.addresses.map((address, i) => {
      const subnet = byId.get(r.subnets?.[i] ?? r.subnet ?? "") as Subnet;
      return {
        address,
        family: subnet.family,
        prefixLength: Number(subnet.cidr.split("/")[1]),
        gateway: subnet.gateway === "none" ? null : subnet.gateway,
        subnet: subnet.id,
        block: hostPrefixOf(address),
      };
    });
    return {
      key: { network: r.network, containerId: r.containerId, ifname: r.ifname },
      purpose: r.purpose,
      addresses,
      createdAt: r.createdAt,
    };
  }

  /** Leases blocks for what the allocator asks for; one request in flight per request key. */
  async #lease(now: number): Promise<void> {
    const needs = this.allocator.needs(now);
    // Leases already in flight are not in `needs`: wait for them too, so that concurrent
    // allocations on a node without blocks all wait for the one lease instead of failing.
    const inFlight = [...this.#leasing.values()];
    await Promise.all([
      ...inFlight,
      ...needs.map((need) => {
        const running = this.#leasing.get(need.requestKey);
        if (running !== undefined) return running;
        this.allocator.markRequested(need.requestKey);
        const p = this.#cluster
          .execute({
            type: "lease-block",
            at: now,
            node: this.nodeId,
            purpose: need.purpose,
            family: need.family,
            ...(need.subnetId === undefined ? {} : { subnet: need.subnetId }),
          })
          .then((result) => {
            const lease = result.value;
            this.allocator.addBlock(lease);
            this.#store.putLeasedBlock({
              subnet: lease.subnet.id,
              cidr: lease.cidr,
              leasedAt: lease.leasedAt,
            });
            if (!this.#subnets.some((s) => s.id === lease.subnet.id)) {
              this.#setSubnets(this.#mergeSubnets([lease.subnet]));
            }
            this.#log.info({ block: lease.cidr, subnet: lease.subnet.id }, "block leased");
            this.metrics?.countPreallocation("leased", {
              subnet: lease.subnet.id,
              purpose: lease.subnet.purpose,
              family: lease.subnet.family,
            });
          })
          .finally(() => {
            this.allocator.markFulfilled(need.requestKey);
            this.#leasing.delete(need.requestKey);
          });
        this.#leasing.set(need.requestKey, p);
        return p;
      }),
    ]);
  }

  /**
   * Queues one direct-mode command; the ones queued while the previous batch of the same type
   * is in flight (or in the same event-loop turn) leave together as one `batch` command.
   */
  #queueDirect(command: AllocateDirectCommand | ReleaseDirectCommand): Promise<CommandResult> {
    const q = this.#directQueues[command.type];
    return new Promise((resolve, reject) => {
      q.queue.push({ command, resolve, reject });
      if (!q.flushing) {
        q.flushing = true;
        setImmediate(() => void this.#flushDirect(q));
      }
    });
  }

  async #flushDirect(q: { queue: QueuedDirect[]; flushing: boolean }): Promise<void> {
    const max = this.#options.directBatchMax ?? 256;
    while (q.queue.length > 0) {
      const batch = q.queue.splice(0, max);
      try {
        const r = await this.#cluster.execute({
          type: "batch",
          at: this.#now(),
          commands: batch.map((x) => x.command),
        });
        batch.forEach((x, i) => {
          const one = r.value[i];
          if (one === undefined) x.reject(new IpamdError("INTERNAL", "batch: missing result"));
          else x.resolve(one);
        });
      } catch (err) {
        for (const x of batch) x.reject(err);
      }
    }
    q.flushing = false;
  }

  /** Allocates `families` of `purpose` for `key` in direct-mode subnets (all or nothing). */
  async #allocateDirect(
    key: AllocationKey,
    purpose: string,
    families: readonly Family[],
    pod: { podNamespace: string; podName: string },
  ): Promise<AllocationRecord> {
    if (!this.#cluster.available()) {
      throw new IpamdError(
        "UNAVAILABLE",
        `purpose ${purpose} is direct-mode and the cluster is unreachable; try again`,
      );
    }
    const at = this.#now();
    let results: CommandResult[];
    try {
      results = await Promise.all(
        families.map((family) =>
          this.#queueDirect({
            type: "allocate-direct",
            at,
            node: this.nodeId,
            purpose,
            family,
            key,
          }),
        ),
      );
    } catch (err) {
      if (!outage(err)) throw err;
      throw new IpamdError(
        "UNAVAILABLE",
        `purpose ${purpose} is direct-mode and the cluster is unreachable; try again`,
        { cause: err },
      );
    }
    const failed = results.find((r) => !r.ok);
    if (failed !== undefined && !failed.ok) {
      if (results.some((r) => r.ok)) {
        await this.#cluster
          .execute({ type: "release-direct", at: this.#now(), key })
          .catch((err: unknown) => this.#log.warn({ err, key }, "direct rollback failed"));
      }
      throw new IpamdError(toIpamdCode(failed.error.code), failed.error.message, {
        details: failed.error.details,
      });
    }
    const addresses = results.map((r) =>
      directAddress((r as { value: DirectAllocateValue }).value),
    );
    const record: AllocationRecord = { key, purpose, addresses, createdAt: at };
    try {
      await this.#store.saveAllocation({
        ...key,
        addresses: addresses.map((a) => a.address),
        subnets: addresses.map((a) => a.subnet),
        node: this.nodeId,
        purpose,
        createdAt: at,
        ...(pod.podNamespace === "" ? {} : { podNamespace: pod.podNamespace }),
        ...(pod.podName === "" ? {} : { podName: pod.podName }),
      });
    } catch (err) {
      await this.#cluster
        .execute({ type: "release-direct", at: this.#now(), key })
        .catch((e: unknown) => this.#log.warn({ err: e, key }, "direct rollback failed"));
      throw err;
    }
    this.#direct.set(keyString(key), record);
    return record;
  }

  /** Releases direct records through the cluster (batched with concurrent releases), then forgets them locally. */
  async #releaseDirect(records: readonly AllocationRecord[]): Promise<void> {
    if (records.length === 0) return;
    const at = this.#now();
    try {
      const results = await Promise.all(
        records.map((r) => this.#queueDirect({ type: "release-direct", at, key: r.key })),
      );
      const failed = results.find((r) => !r.ok);
      if (failed !== undefined && !failed.ok) {
        throw new IpamdError(toIpamdCode(failed.error.code), failed.error.message);
      }
    } catch (err) {
      if (!outage(err)) throw err;
      throw new IpamdError(
        "UNAVAILABLE",
        "direct-mode addresses are released in the cluster, which is unreachable; try again",
        { cause: err },
      );
    }
    for (const r of records) {
      await this.#store.deleteAllocation(r.key);
      this.#direct.delete(keyString(r.key));
    }
  }

  /** True when, for some family, the held `default` blocks have no free address left. */
  #defaultExhausted(): boolean {
    const free = new Map<Family, number>();
    for (const u of this.allocator.usage(this.#now())) {
      if (u.purpose === "default") free.set(u.family, (free.get(u.family) ?? 0) + u.free);
    }
    return [...free.values()].some((n) => n === 0);
  }

  /** One GC pass: a run, and its reclaimed records per purpose (each was a candidate). */
  #countGc(reclaimed: readonly AllocationRecord[]): void {
    const metrics = this.metrics;
    if (metrics === undefined) return;
    metrics.gcRuns.inc({ result: "ok" });
    const perPurpose = new Map<string, number>();
    for (const r of reclaimed) perPurpose.set(r.purpose, (perPurpose.get(r.purpose) ?? 0) + 1);
    for (const [purpose, n] of perPurpose) {
      metrics.gcCandidates.inc({ purpose }, n);
      metrics.gcReclaimed.inc({ purpose }, n);
    }
  }

  #get(key: AllocationKey): AllocationRecord | undefined {
    return this.allocator.get(key) ?? this.#direct.get(keyString(key));
  }

  /**
   * Allocate: the key's existing addresses, else direct-mode addresses through the cluster, else
   * addresses from the held blocks (leasing more when they run dry); durable before it returns.
   */
  async #allocate(
    req: AllocateRequest,
  ): Promise<{ purpose: string; addresses: readonly AllocatedAddress[] }> {
    if (!this.#ready) {
      throw new IpamdError("UNAVAILABLE", "starting: the node allocator is not rebuilt yet");
    }
    const key = {
      network: requireText("network", req.network),
      containerId: requireText("container_id", req.containerId),
      ifname: req.ifname === "" ? "eth0" : req.ifname,
    };
    const families = familiesOf(req.families);
    const purpose = req.purpose === "" ? "default" : req.purpose;
    const existingDirect = this.#direct.get(keyString(key));
    const modes = (families ?? [4]).map((f) => allocationMode(this.#subnets, purpose, f));
    let addresses: readonly AllocatedAddress[];
    if (
      existingDirect !== undefined ||
      (modes.every((m) => m === "direct") && this.allocator.get(key) === undefined)
    ) {
      if (existingDirect !== undefined && existingDirect.purpose !== purpose) {
        throw new IpamdError(
          "CONFLICT",
          `key ${key.containerId}/${key.ifname} holds ${existingDirect.purpose} addresses, not ${purpose}`,
        );
      }
      addresses = (
        existingDirect ??
        (await this.#allocateDirect(key, purpose, families ?? [4], {
          podNamespace: req.podNamespace,
          podName: req.podName,
        }))
      ).addresses;
    } else {
      if (modes.includes("direct") && modes.includes("block")) {
        throw new IpamdError(
          "INVALID_ARGUMENT",
          `families: purpose ${purpose} is direct-mode in one family and block-mode in the other; ask for each family separately`,
        );
      }
      addresses = await this.#allocateFromBlocks(key, purpose, families, req);
    }
    return { purpose, addresses };
  }

  /** Release: the record the key held (undefined when it held nothing), durably removed. */
  async #release(req: ReleaseRequest): Promise<AllocationRecord | undefined> {
    const key = {
      network: requireText("network", req.network),
      containerId: requireText("container_id", req.containerId),
      ifname: req.ifname === "" ? "eth0" : req.ifname,
    };
    const direct = this.#direct.get(keyString(key));
    if (direct !== undefined) {
      await this.#releaseDirect([direct]);
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

  /**
   * Counts one allocation per requested family (`ok` with the subnet, or the error code) and
   * one release per released address (or one for a key that held nothing).
   */
  readonly handlers: Partial<IpamHandlers> = {
    allocate: async (req) => {
      const started = performance.now();
      try {
        const { purpose, addresses } = await this.#allocate(req);
        const seconds = (performance.now() - started) / 1000;
        for (const a of addresses) {
          this.metrics?.observeAllocation(
            "ok",
            { purpose, family: a.family, subnet: a.subnet },
            seconds,
          );
        }
        return { addresses: addresses.map((a) => wireAddress(a, purpose)) };
      } catch (err) {
        const seconds = (performance.now() - started) / 1000;
        const purpose = req.purpose === "" ? "default" : req.purpose;
        for (const family of familiesOf(req.families) ?? [4]) {
          this.metrics?.observeAllocation(resultOf(err), { purpose, family }, seconds);
        }
        throw err;
      }
    },
    release: async (req) => {
      const started = performance.now();
      try {
        const record = await this.#release(req);
        const seconds = (performance.now() - started) / 1000;
        if (record === undefined) this.metrics?.observeRelease("ok", {}, seconds);
        for (const a of record?.addresses ?? []) {
          this.metrics?.observeRelease(
            "ok",
            { purpose: record?.purpose ?? "", family: a.family, subnet: a.subnet },
            seconds,
          );
        }
        return {
          released: record !== undefined,
          addresses: record?.addresses.map((a) => a.address) ?? [],
        };
      } catch (err) {
        this.metrics?.observeRelease(resultOf(err), {}, (performance.now() - started) / 1000);
        throw err;
      }
    },
    check: (req) => {
      const key = {
        network: requireText("network", req.network),
        containerId: requireText("container_id", req.containerId),
        ifname: req.ifname === "" ? "eth0" : req.ifname,
      };
      const record = this.#get(key);
      if (record === undefined) return { ok: false, reason: "no allocation for this key" };
      const held = new Set(record.addresses.map((a) => a.address));
      const missing = req.addresses.filter((a) => !held.has(a));
      return {
        ok: missing.length === 0,
        reason: missing.length === 0 ? "" : `not allocated to this key: ${missing.join(", ")}`,
        addresses: record.addresses.map((a) => wireAddress(a, record.purpose)),
      };
    },
    garbageCollect: async (req) => {
      const network = requireText("network", req.network);
      const valid = new Set(
        req.validAttachments.map(
          (v) => `${v.containerId}\u0000${v.ifname === "" ? "eth0" : v.ifname}`,
        ),
      );
      const staleDirect = [...this.#direct.values()].filter(
        (r) => r.key.network === network && !valid.has(`${r.key.containerId}\u0000${r.key.ifname}`),
      );
      let released: AllocationRecord[] = [];
      try {
        await this.#releaseDirect(staleDirect);
        const now = this.#now();
        released = this.allocator.gc(network, req.validAttachments, now);
        await Promise.all(
          released.map((r) =>
            this.#store.deleteAllocation(r.key, this.allocator.coolingFor(r, now)),
          ),
        );
      } catch (err) {
        this.metrics?.gcRuns.inc({ result: resultOf(err) });
        throw err;
      }
      this.#countGc([...staleDirect, ...released]);
      this.#log.info(
        { network, released: released.length + staleDirect.length },
        "garbage collected",
      );
      return { released: [...staleDirect, ...released].map((r) => r.key) };
    },
    getNodeBlocks: (req) => {
      const usage = new Map(this.allocator.usage(this.#now()).map((u) => [u.subnet, u]));
      const blocks = this.allocator
        .blocks()
        .filter((b) => req.subnetId === "" || b.subnet.id === req.subnetId)
        .filter((b) => req.purpose === "" || b.subnet.purpose === req.purpose);
      return {
        nodeId: this.nodeId,
        blocks: blocks.map((b) => ({
          cidr: b.cidr,
          subnetId: b.subnet.id,
          purpose: b.subnet.purpose,
          family: b.subnet.family === 4 ? WireFamily.IPV4 : WireFamily.IPV6,
          capacity: String(usage.get(b.subnet.id)?.capacity ?? 0),
          leasedAtUnixMs: BigInt(b.leasedAt),
        })),
      };
    },
    getPoolStats: (req) => {
      const family = req.family === WireFamily.IPV4 ? 4 : req.family === WireFamily.IPV6 ? 6 : 0;
      return {
        subnets: this.allocator
          .usage(this.#now())
          .filter((u) => req.purpose === "" || u.purpose === req.purpose)
          .filter((u) => family === 0 || u.family === family)
          .map((u) => ({
            subnetId: u.subnet,
            purpose: u.purpose,
            family: u.family === 4 ? WireFamily.IPV4 : WireFamily.IPV6,
            counts: {
              capacity: String(u.capacity),
              allocated: String(u.allocated),
              coolingDown: String(u.cooling),
              free: String(u.free),
            },
            nodeBlocks: u.blocks,
          })),
      };
    },
    status: () => {
      if (!this.#ready) {
        return {
          state: ReadyState.UNAVAILABLE,
          reason: this.#cluster.available()
            ? "starting"
            : "starting: waiting for a cluster server to answer (no blocks stored yet)",
          nodeId: this.nodeId,
        };
      }
      if (this.degraded && this.#defaultExhausted()) {
        return {
          state: ReadyState.EXHAUSTED,
          reason:
            "cluster unreachable and the held default blocks are full: no block can be leased",
          nodeId: this.nodeId,
        };
      }
      if (this.degraded) {
        return {
          state: ReadyState.READY,
          reason: "cluster unreachable: allocating from held blocks",
          nodeId: this.nodeId,
        };
      }
      return { state: ReadyState.READY, reason: "", nodeId: this.nodeId };
    },
    listAllocations: (req) => {
      const rows = (
        req.network === ""
          ? this.#store.listByNode(this.nodeId)
          : this.#store.listByNetwork(req.network)
      ).filter((r) => req.purpose === "" || r.purpose === req.purpose);
      return {
        allocations: rows.map((r) => {
          const rec = this.#get(r);
          return {
            key: { network: r.network, containerId: r.containerId, ifname: r.ifname },
            addresses: rec?.addresses.map((a) => wireAddress(a, r.purpose)) ?? [],
            podNamespace: r.podNamespace ?? "",
            podName: r.podName ?? "",
            purpose: r.purpose,
            createdAtUnixMs: BigInt(r.createdAt),
            nodeId: r.node,
          };
        }),
      };
    },
  };

  /** The block-mode path: local allocation from held blocks, leasing more when they run dry. */
  async #allocateFromBlocks(
    key: AllocationKey,
    purpose: string,
    families: Family[] | undefined,
    req: { podNamespace: string; podName: string },
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
        });
      } catch (err) {
        if (!isPoolError(err) || err.code !== "POOL_EXHAUSTED" || attempt >= 3) throw err;
        if (!this.#cluster.available()) {
          throw new IpamdError(
            "UNAVAILABLE",
            `${err.message}, and the cluster is unreachable to lease another; try again`,
            { cause: err, details: err.details ?? {} },
          );
        }
        await this.#lease(now);
      }
    }
    if (!result.existing) {
      try {
        await this.#store.saveAllocation({
          ...key,
          addresses: result.addresses.map((a) => a.address),
          subnets: result.addresses.map((a) => a.subnet),
          node: this.nodeId,
          purpose,
          createdAt: result.record.createdAt,
          ...(req.podNamespace === "" ? {} : { podNamespace: req.podNamespace }),
          ...(req.podName === "" ? {} : { podName: req.podName }),
        });
      } catch (err) {
        this.allocator.release(key, this.#now());
        throw err;
      }
      if (this.#cluster.available()) {
        void this.#lease(this.#now()).catch((err: unknown) =>
          this.#log.warn({ err }, "background block lease failed"),
        );
      }
    }
    return result.addresses;
  }
}
