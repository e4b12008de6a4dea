import {
  FamilySelection,
  type IpamHandlers,
  ReadyState,
  Family as WireFamily,
} from "@ipam/grpc-server";
import type { IpamMetrics } from "@ipam/metrics";
import type { Store, AllocationRecord as StoredRecord } from "@ipam/store";
import {
  type AllocatedAddress,
  type AllocationRecord,
  type BlockLease,
  isPoolError,
  NodeAllocator,
} from "@ipam/subnet-pool";
import type { Logger } from "pino";
import type { ClusterApi } from "./cluster-node.js";
import { IpamdError } from "./ipamd-error.js";

type Family = 4 | 6;

export interface AgentOptions {
  readonly nodeId: string;
  readonly store: Store;
  readonly cluster: ClusterApi;
  readonly logger: Logger;
  readonly preallocateThreshold: number;
  /** Clock, ms since the epoch (injected for tests). */
  readonly now?: () => number;
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

function requireText(field: string, value: string): string {
  if (value === "") throw new IpamdError("INVALID_ARGUMENT", `${field}: must not be empty`);
  return value;
}

/**
 * The node-local allocator (L2) behind the Ipam API: answers from the blocks this node holds,
 * leases more through the cluster when a subnet runs dry (one lease in flight per subnet), and
 * makes every allocation durable in the store before answering.
 */
export class Agent {
  readonly allocator: NodeAllocator;
  readonly #store: Store;
  readonly #cluster: ClusterApi;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #leasing = new Map<string, Promise<void>>();
  #ready = false;
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
    this.#log = options.logger.child({ component: "agent" });
    this.#now = options.now ?? Date.now;
  }

  get nodeId(): string {
    return this.allocator.node;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Rebuilds the allocator from the store's records and the cluster's leases. */
  async start(): Promise<void> {
    const leases = await this.#cluster.nodeLeases(this.nodeId);
    this.#store.replaceLeasedBlocks(
      leases.map((l) => ({ subnet: l.subnet.id, cidr: l.cidr, leasedAt: l.leasedAt })),
    );
    const records = this.#store.listByNode(this.nodeId).map((r) => this.#fromStored(r, leases));
    const report = this.allocator.rebuild(records, leases);
    if (report.orphaned.length > 0) {
      this.#log.warn(
        { orphaned: report.orphaned.map((r) => r.key) },
        "allocations outside the held blocks were dropped",
      );
    }
    this.#log.info({ restored: report.restored, blocks: leases.length }, "node allocator rebuilt");
    this.#ready = true;
  }

  /**
   * Every `intervalMs`: lease blocks for subnets below the pre-allocation threshold and return
   * idle blocks (empty past the grace period, keeping one per subnet). Stopped by {@link stop}.
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
    const now = this.#now();
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

  /** Leases blocks for what the allocator asks for; one request in flight per request key. */
  async #lease(now: number): Promise<void> {
    const needs = this.allocator.needs(now);
    await Promise.all(
      needs.map((need) => {
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
    );
  }

  readonly handlers: Partial<IpamHandlers> = {
    allocate: async (req) => {
      const started = performance.now();
      const key = {
        network: requireText("network", req.network),
        containerId: requireText("container_id", req.containerId),
        ifname: req.ifname === "" ? "eth0" : req.ifname,
      };
      const families = familiesOf(req.families);
      const purpose = req.purpose === "" ? "default" : req.purpose;
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
        void this.#lease(this.#now()).catch((err: unknown) =>
          this.#log.warn({ err }, "background block lease failed"),
        );
      }
      const seconds = (performance.now() - started) / 1000;
      for (const a of result.addresses) {
        this.metrics?.observeAllocation(
          "ok",
          { purpose, family: a.family, subnet: a.subnet },
          seconds,
        );
      }
      return { addresses: result.addresses.map((a) => wireAddress(a, purpose)) };
    },
    release: async (req) => {
      const key = {
        network: requireText("network", req.network),
        containerId: requireText("container_id", req.containerId),
        ifname: req.ifname === "" ? "eth0" : req.ifname,
      };
      await this.#store.deleteAllocation(key);
      const record = this.allocator.release(key, this.#now());
      return {
        released: record !== undefined,
        addresses: record?.addresses.map((a) => a.address) ?? [],
      };
    },
    check: (req) => {
      const key = {
        network: requireText("network", req.network),
        containerId: requireText("container_id", req.containerId),
        ifname: req.ifname === "" ? "eth0" : req.ifname,
      };
      const record = this.allocator.get(key);
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
      const released = this.allocator.gc(network, req.validAttachments, this.#now());
      await Promise.all(released.map((r) => this.#store.deleteAllocation(r.key)));
      this.#log.info({ network, released: released.length }, "garbage collected");
      return { released: released.map((r) => r.key) };
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
        return { state: ReadyState.UNAVAILABLE, reason: "starting", nodeId: this.nodeId };
      }
      if (!this.#cluster.available()) {
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
          const rec = this.allocator.get(r);
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
}
