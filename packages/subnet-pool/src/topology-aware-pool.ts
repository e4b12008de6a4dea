import {
  type Family,
  type Labels,
  type Node,
  nodePath,
  type Subnet,
  type SubnetConfig,
  type Topology,
  type TopologyConfig,
  toCanonicalConfig,
} from "@ipam/topology";
import type { AllocationKey } from "./allocation-key.js";
import type { AllocatedAddress } from "./block-lease.js";
import { ClusterState } from "./cluster-state.js";
import { type StatsLevel, type StatsRow, statsKeyOf } from "./cluster-views.js";
import type { ClusterCommand, CommandResult } from "./commands.js";
import { NodeAllocator, type PreallocateOptions } from "./node-allocator.js";
import { isPoolError, PoolError } from "./pool-error.js";

export interface TopologyAwarePoolOptions {
  /** The topology: a config object (validated) or a Topology value. */
  readonly topology: TopologyConfig | Topology;
  /**
   * The clock in ms, called once per operation (drives cool-down and lease times). Default: a
   * clock frozen at 0, under which released addresses never finish cooling down.
   */
  readonly clock?: () => number;
  /** Options of every node's allocator. */
  readonly preallocate?: PreallocateOptions;
}

export interface AllocateIpOptions {
  /** Default 4. */
  readonly family?: Family;
  /** Idempotency key; default a fresh key per call (`pool/<node>-<n>/eth0`). */
  readonly key?: AllocationKey;
}

/** Where a node sits and what it holds. */
export interface NodeStats {
  readonly node: string;
  readonly zone: string;
  readonly pod: string;
  readonly tor: string;
  /** `zone/pod/tor/node`. */
  readonly path: string;
  /** CIDRs of its blocks, sorted by subnet then block. */
  readonly blocks: readonly string[];
  /** Addresses it holds (from blocks and direct subnets), sorted as text. */
  readonly addresses: readonly string[];
  readonly byPurpose: Readonly<Record<string, number>>;
}

/** A {@link StatsRow} plus `used`: addresses actually handed out (this pool knows every node's, block mode included). */
export interface PoolStatsRow extends StatsRow {
  readonly used: number;
}

interface Held {
  readonly node: string;
  readonly key: AllocationKey;
  readonly family: Family;
  readonly direct: boolean;
  readonly subnet: string;
}

function unwrap<T>(result: CommandResult<T>): T {
  if (result.ok) return result.value;
  throw new PoolError(result.error.code, result.error.message, { details: result.error.details });
}

/**
 * The original project's operations over both engines in one object: a {@link ClusterState}
 * (L1) and one {@link NodeAllocator} (L2) per node, wired the way ipamd wires them (lease a
 * block on `POOL_EXHAUSTED`, use direct allocation for direct-mode subnets). For tools and
 * tests; single process, no persistence. Every error is a {@link PoolError}.
 */
export class TopologyAwarePool {
  readonly #state = new ClusterState();
  readonly #clock: () => number;
  readonly #preallocate: PreallocateOptions;
  readonly #allocators = new Map<string, NodeAllocator>();
  /** address → who holds it. */
  readonly #held = new Map<string, Held>();
  #seq = 0;

  /** @throws PoolError `INVALID_ARGUMENT` for an invalid topology (with `details.issues`). */
  constructor(options: TopologyAwarePoolOptions) {
    this.#clock = options.clock ?? (() => 0);
    this.#preallocate = options.preallocate ?? {};
    const config = isTopology(options.topology)
      ? toCanonicalConfig(options.topology)
      : options.topology;
    unwrap(this.#state.apply({ type: "apply-topology", at: this.#clock(), config }));
  }

  /** The underlying cluster state (read it; change it only through this object). */
  get state(): ClusterState {
    return this.#state;
  }

  #apply<C extends ClusterCommand>(command: C) {
    return this.#state.apply(command);
  }

  #allocator(node: string): NodeAllocator {
    let a = this.#allocators.get(node);
    if (a === undefined) {
      a = new NodeAllocator({ node, preallocate: this.#preallocate });
      this.#allocators.set(node, a);
    }
    return a;
  }

  /** Registers a node under a TOR. @throws `NOT_FOUND` (TOR), `CONFLICT` (under another TOR). */
  registerNode(node: string, tor: string, labels?: Labels): Node {
    return unwrap(
      this.#apply({
        type: "register-node",
        at: this.#clock(),
        node,
        tor,
        ...(labels === undefined ? {} : { labels }),
      }),
    );
  }

  /** Allocates one address of purpose `default` (see {@link allocateWithPurpose}). */
  allocateIP(node: string, purpose = "default", options: AllocateIpOptions = {}): AllocatedAddress {
    return this.allocateWithPurpose(node, purpose, options);
  }

  /**
   * Allocates one address of `purpose` and `family` for a node: from its blocks, leasing a new
   * block when they are full, or per address from a direct-mode subnet. Never another purpose
   * or family.
   * @throws PoolError `NOT_FOUND` (node), `NO_SUBNET`, `DRAINING`, `POOL_EXHAUSTED`.
   */
  allocateWithPurpose(
    node: string,
    purpose: string,
    options: AllocateIpOptions = {},
  ): AllocatedAddress {
    const now = this.#clock();
    const family = options.family ?? 4;
    if (this.#state.node(node) === undefined) {
      throw new PoolError("NOT_FOUND", `node ${node} is not registered`, { details: { node } });
    }
    const key = options.key ?? {
      network: "pool",
      containerId: `${node}-${++this.#seq}`,
      ifname: "eth0",
    };
    const allocator = this.#allocator(node);
    let blockError: PoolError | undefined;
    for (;;) {
      try {
        const r = allocator.allocate({ key, purpose, families: [family], now });
        const address = r.addresses[0] as AllocatedAddress;
        this.#held.set(address.address, {
          node,
          key,
          family,
          direct: false,
          subnet: address.subnet,
        });
        return address;
      } catch (error) {
        if (!isPoolError(error, "POOL_EXHAUSTED")) throw error;
      }
      const lease = this.#apply({ type: "lease-block", at: now, node, purpose, family });
      if (!lease.ok) {
        blockError = new PoolError(lease.error.code, lease.error.message, {
          details: lease.error.details,
        });
        break;
      }
      allocator.addBlock(lease.value);
    }
    if (blockError.code !== "NO_SUBNET" && blockError.code !== "POOL_EXHAUSTED") throw blockError;
    const direct = this.#apply({ type: "allocate-direct", at: now, node, purpose, family, key });
    if (!direct.ok) {
      if (direct.error.code === "NO_SUBNET" && direct.error.details.mode === "block")
        throw blockError;
      if (direct.error.code === "NO_SUBNET" && blockError.details?.mode !== "direct")
        throw blockError;
      throw new PoolError(direct.error.code, direct.error.message, {
        details: direct.error.details,
      });
    }
    const v = direct.value;
    this.#held.set(v.address, { node, key, family, direct: true, subnet: v.subnet });
    return {
      address: v.address,
      family: v.family,
      prefixLength: v.prefixLength,
      gateway: v.gateway,
      subnet: v.subnet,
      block: this.#state.topology().subnets.get(v.subnet)?.cidr ?? v.subnet,
    };
  }

  /**
   * Releases an address the node holds (it cools down before reuse).
   * @throws PoolError `NOT_FOUND` when no node holds it, `CONFLICT` when another node does.
   */
  releaseIP(node: string, address: string): void {
    const held = this.#held.get(address);
    if (held === undefined) {
      throw new PoolError("NOT_FOUND", `${address} is not allocated`, { details: { address } });
    }
    if (held.node !== node) {
      throw new PoolError("CONFLICT", `${address} is held by ${held.node}, not ${node}`, {
        details: { address, node: held.node },
      });
    }
    const now = this.#clock();
    if (held.direct)
      unwrap(this.#apply({ type: "release-direct", at: now, key: held.key, family: held.family }));
    else this.#allocator(node).release(held.key, now);
    this.#held.delete(address);
  }

  /**
   * Attaches a subnet to a TOR at run time (defaults as in the config file).
   * @throws PoolError `NOT_FOUND` (TOR), `CONFLICT` (overlap, id taken), `INVALID_ARGUMENT`.
   */
  addSubnetToTor(tor: string, subnet: SubnetConfig): Subnet {
    return unwrap(
      this.#apply({
        type: "add-subnet",
        at: this.#clock(),
        subnet: { ...subnet, scope: { kind: "tor", id: tor } },
      }),
    );
  }

  /** A node's place in the tree and what it holds. @throws PoolError `NOT_FOUND`. */
  nodeStats(node: string): NodeStats {
    const view = this.#state.node(node);
    if (view === undefined)
      throw new PoolError("NOT_FOUND", `node ${node} is not registered`, { details: { node } });
    const path = nodePath(this.#state.topology(), node);
    const addresses: string[] = [];
    const byPurpose: Record<string, number> = {};
    const subnets = this.#state.topology().subnets;
    for (const [address, held] of this.#held) {
      if (held.node !== node) continue;
      addresses.push(address);
      const purpose = subnets.get(held.subnet)?.purpose ?? "unknown";
      byPurpose[purpose] = (byPurpose[purpose] ?? 0) + 1;
    }
    return {
      node,
      zone: path.zone.id,
      pod: path.pod.id,
      tor: path.tor.id,
      path: path.text,
      blocks: this.#state.nodeLeases(node).map((l) => l.cidr),
      addresses: addresses.sort(),
      byPurpose,
    };
  }

  /** Pool usage per zone, pod, TOR, subnet or purpose (see {@link ClusterState.stats}), with `used`. */
  poolStats(level: StatsLevel): PoolStatsRow[] {
    const topology = this.#state.topology();
    const usedBySubnet = new Map<string, number>();
    for (const held of this.#held.values())
      usedBySubnet.set(held.subnet, (usedBySubnet.get(held.subnet) ?? 0) + 1);
    const used = new Map<string, number>();
    for (const u of this.#state.subnetUsage()) {
      const id = statsKeyOf(topology, level, u);
      if (id !== undefined) used.set(id, (used.get(id) ?? 0) + (usedBySubnet.get(u.subnet) ?? 0));
    }
    return this.#state.stats(level).map((row) => ({ ...row, used: used.get(row.id) ?? 0 }));
  }
}

function isTopology(value: TopologyConfig | Topology): value is Topology {
  return (value as Topology).subnets instanceof Map;
}
