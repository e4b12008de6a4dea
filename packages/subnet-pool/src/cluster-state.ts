import {
  Cidr,
  formatIp,
  type IpBlock,
  type IpRange,
  MAX_BITMAP_CAPACITY,
  tryParseIp,
} from "@ipam/bitmap";
import {
  type AddressInterval,
  addSubnet,
  carryOverNodes,
  createTopology,
  diff,
  emptyTopology,
  type Family,
  isDirectMode,
  type Node,
  nodePath,
  registerNode,
  removeNode,
  removeSubnet,
  reservedIntervals,
  type Subnet,
  type SubnetStrategy,
  subnetsForNode,
  type Topology,
  type TopologyConfig,
  toCanonicalConfig,
} from "@ipam/topology";
import type { AllocationKey } from "./allocation-key.js";
import { BlockIndex } from "./block-index.js";
import type { BlockLease } from "./block-lease.js";
import {
  type NodeView,
  type StatsLevel,
  type StatsRow,
  type SubnetUsage,
  type SubnetView,
  statsKeyOf,
} from "./cluster-views.js";
import {
  byString,
  fail,
  optionalRequestId,
  optionalStrategy,
  requireFamily,
  requireKey,
  requireString,
  toCommandError,
} from "./command-args.js";
import type {
  AddSubnetCommand,
  AllocateDirectCommand,
  ApplyTopologyCommand,
  ApplyTopologyValue,
  BatchCommand,
  ClusterCommand,
  CommandResult,
  DeregisterNodeCommand,
  DeregisterNodeValue,
  DirectAllocateValue,
  DirectAllocation,
  DrainSubnetCommand,
  LeaseBlockCommand,
  RegisterNodeCommand,
  ReleaseBlockCommand,
  ReleaseDirectCommand,
  RemoveSubnetCommand,
  Reservation,
  ReserveCommand,
  ResultOf,
  UnreserveCommand,
} from "./commands.js";
import { DirectIndex } from "./direct-index.js";
import { PoolError } from "./pool-error.js";
import {
  geometryOf,
  ipBlockFor,
  parseReservedEntry,
  type SubnetGeometry,
} from "./subnet-geometry.js";

interface BlockOwner {
  readonly node: string;
  readonly leasedAt: number;
  /** The lease-block command's `requestId`, when it carried one (idempotent retries). */
  readonly requestId?: string;
}

interface DirectPool {
  block: IpBlock;
  /** offset → its allocation. */
  readonly owners: Map<number, DirectEntry>;
  coolOffsets: number[];
  coolUntil: number[];
  coolHead: number;
}

interface SubnetState {
  subnet: Subnet;
  geometry: SubnetGeometry;
  readonly direct: boolean;
  draining: boolean;
  readonly reservations: Map<string, Reservation>;
  readonly index: BlockIndex<BlockOwner> | undefined;
  readonly pool: DirectPool | undefined;
  /** Caches, cleared whenever the subnet or its reservations change. */
  leaseSubnet: Subnet | undefined;
  intervals: AddressInterval[] | undefined;
}

interface DirectEntry {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly family: Family;
  readonly node: string;
  readonly purpose: string;
  readonly subnet: string;
  /** Offset of the address in the subnet (the text form is derived on demand). */
  readonly offset: number;
  readonly allocatedAt: number;
}

const SNAPSHOT_MAGIC = [0x49, 0x50, 0x43, 0x53]; // "IPCS"
/** Version of the snapshot format this build writes (and the only one it reads). */
export const SNAPSHOT_VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

interface SnapshotDoc {
  readonly format: "ipam-cluster-state";
  readonly version: number;
  readonly topology: TopologyConfig;
  /** [id, draining, reservations [range, reason, at][], blocks [index, node, leasedAt][], cursor, cooling [offset, until][]] */
  readonly subnets: readonly SnapshotSubnet[];
  /** Direct allocations per direct-mode subnet (sorted by subnet id), column-wise. */
  readonly direct: readonly SnapshotDirect[];
}
type SnapshotSubnet = [
  string,
  boolean,
  [string, string, number][],
  ([string, string, number] | [string, string, number, string])[],
  number,
  [number, number][],
];
/**
 * The direct allocations of one subnet, sorted by key: `strings` is a table of the networks,
 * ifnames, nodes and purposes; `rows` holds six numbers per allocation (offset in the subnet,
 * network, ifname, node and purpose indexes into `strings`, allocatedAt); `containers` the
 * container ids.
 */
interface SnapshotDirect {
  readonly subnet: string;
  readonly strings: readonly string[];
  readonly containers: readonly string[];
  readonly rows: readonly number[];
}

/** Orders direct allocations by network, container id, ifname (code units), then family. */
function compareEntries(a: DirectEntry, b: DirectEntry): number {
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  if (a.containerId !== b.containerId) return a.containerId < b.containerId ? -1 : 1;
  if (a.ifname !== b.ifname) return a.ifname < b.ifname ? -1 : 1;
  return a.family - b.family;
}

/**
 * The cluster state machine (L1, DESIGN §3 and §6) that Raft replicates: topology, subnets,
 * node registry, block leases, direct allocations and reservations.
 *
 * Contracts:
 * - `apply` is deterministic: it reads no clock (time is each command's `at`), uses no
 *   randomness and never lets Map/Set iteration order reach the state or a result. Two
 *   replicas that apply the same commands hold byte-identical {@link snapshot}s.
 * - A command either succeeds or changes nothing (an undo log rolls back a failure, including
 *   an unexpected one, reported as `INTERNAL`). `apply` never throws for a bad command.
 * - `snapshot()` is complete and versioned; `restore(bytes)` replaces all state.
 * - Read queries return fresh arrays owned by the caller, sorted.
 */
export class ClusterState {
  #topology: Topology = emptyTopology();
  #subnets = new Map<string, SubnetState>();
  /** node → subnet id → sorted leased block indexes. */
  #nodeBlocks = new Map<string, Map<string, bigint[]>>();
  #direct = new DirectIndex<DirectEntry>();
  /** node → direct keys it holds. */
  #nodeDirect = new Map<string, DirectEntry[]>();
  /** Undo log of the command being applied; undefined outside `apply`. */
  #undo: Array<() => void> | undefined;

  /** A state restored from {@link snapshot} bytes. @throws as {@link restore}. */
  static restore(bytes: Uint8Array): ClusterState {
    const state = new ClusterState();
    state.restore(bytes);
    return state;
  }

  // --- apply -----------------------------------------------------------------------

  /** Applies one command; see {@link ClusterCommand} for each command's rules. Never throws. */
  apply<C extends ClusterCommand>(command: C): ResultOf<C> {
    if (typeof command === "object" && command !== null && command.type === "batch") {
      return this.#batch(command) as ResultOf<C>;
    }
    return this.#run(() => this.#dispatch(command)) as ResultOf<C>;
  }

  #run(fn: () => unknown): CommandResult {
    const top = this.#undo === undefined;
    if (top) this.#undo = [];
    const log = this.#undo as Array<() => void>;
    const mark = log.length;
    try {
      return { ok: true, value: fn() };
    } catch (error) {
      while (log.length > mark) (log.pop() as () => void)();
      return { ok: false, error: toCommandError(error) };
    } finally {
      if (top) this.#undo = undefined;
    }
  }

  #batch(command: BatchCommand): CommandResult {
    if (!Array.isArray(command.commands)) {
      return {
        ok: false,
        error: toCommandError(
          new PoolError("INVALID_ARGUMENT", "batch.commands: must be an array"),
        ),
      };
    }
    const item = (c: ClusterCommand, i: number): CommandResult =>
      typeof c === "object" && c !== null && c.type === "batch"
        ? {
            ok: false,
            error: {
              code: "INVALID_ARGUMENT",
              message: `batch.commands[${i}]: batches do not nest`,
              details: { index: i },
            },
          }
        : this.#run(() => this.#dispatch(c));
    if (command.atomic !== true) return { ok: true, value: command.commands.map(item) };
    return this.#run(() =>
      command.commands.map((c, i) => {
        const result = item(c, i);
        if (!result.ok) {
          throw new PoolError(result.error.code, `batch.commands[${i}]: ${result.error.message}`, {
            details: { ...result.error.details, index: i },
          });
        }
        return result;
      }),
    );
  }

  #dispatch(command: ClusterCommand): unknown {
    if (typeof command !== "object" || command === null)
      fail("INVALID_ARGUMENT", "command: must be an object");
    if (typeof command.at !== "number" || !Number.isFinite(command.at)) {
      fail("INVALID_ARGUMENT", `${String(command.type)}.at: must be a finite number (ms)`);
    }
    switch (command.type) {
      case "apply-topology":
        return this.#applyTopology(command);
      case "register-node":
        return this.#registerNode(command);
      case "deregister-node":
        return this.#deregisterNode(command);
      case "add-subnet":
        return this.#addSubnet(command);
      case "remove-subnet":
        return this.#removeSubnet(command);
      case "drain-subnet":
        return this.#drainSubnet(command);
      case "lease-block":
        return this.#leaseBlock(command);
      case "release-block":
        return this.#releaseBlock(command);
      case "allocate-direct":
        return this.#allocateDirect(command);
      case "release-direct":
        return this.#releaseDirect(command);
      case "reserve":
        return this.#reserve(command);
      case "unreserve":
        return this.#unreserve(command);
      default:
        return fail(
          "INVALID_ARGUMENT",
          `command.type: unknown type ${String((command as { type: unknown }).type)}`,
        );
    }
  }

  // --- undo-logged mutations ----------------------------------------------------------

  #log(fn: () => void): void {
    this.#undo?.push(fn);
  }

  #setTopology(next: Topology): void {
    const prev = this.#topology;
    this.#topology = next;
    this.#log(() => {
      this.#topology = prev;
    });
  }

  #mapSet<K, V>(map: Map<K, V>, key: K, value: V): void {
    if (this.#undo === undefined) {
      map.set(key, value);
      return;
    }
    const had = map.has(key);
    const old = map.get(key) as V;
    map.set(key, value);
    this.#log(() => (had ? map.set(key, old) : map.delete(key)));
  }

  #mapDelete<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    const old = map.get(key) as V;
    map.delete(key);
    this.#log(() => map.set(key, old));
  }

  #field<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): void {
    const old = target[key];
    target[key] = value;
    this.#log(() => {
      target[key] = old;
    });
  }

  #invalidate(st: SubnetState): void {
    st.leaseSubnet = undefined;
    st.intervals = undefined;
    this.#log(() => {
      st.leaseSubnet = undefined;
      st.intervals = undefined;
    });
  }

  #leaseIndex(st: SubnetState, index: bigint, owner: BlockOwner): void {
    const blocks = st.index as BlockIndex<BlockOwner>;
    blocks.lease(index, owner);
    this.#log(() => blocks.release(index));
    let perNode = this.#nodeBlocks.get(owner.node);
    if (perNode === undefined) {
      perNode = new Map();
      this.#mapSet(this.#nodeBlocks, owner.node, perNode);
    }
    let list = perNode.get(st.subnet.id);
    if (list === undefined) {
      list = [];
      this.#mapSet(perNode, st.subnet.id, list);
    }
    let at = list.length;
    while (at > 0 && (list[at - 1] as bigint) > index) at--;
    list.splice(at, 0, index);
    const l = list;
    this.#log(() => l.splice(at, 1));
  }

  #releaseIndex(st: SubnetState, index: bigint): void {
    const blocks = st.index as BlockIndex<BlockOwner>;
    const owner = blocks.release(index);
    if (owner === undefined) return;
    this.#log(() => blocks.lease(index, owner));
    const perNode = this.#nodeBlocks.get(owner.node);
    const list = perNode?.get(st.subnet.id);
    if (perNode === undefined || list === undefined) return;
    const at = list.indexOf(index);
    list.splice(at, 1);
    this.#log(() => list.splice(at, 0, index));
    if (list.length === 0) this.#mapDelete(perNode, st.subnet.id);
    if (perNode.size === 0) this.#mapDelete(this.#nodeBlocks, owner.node);
  }

  /** Frees cooled-down addresses of a direct pool whose time has come (at <= `at`). */
  #expire(pool: DirectPool, at: number): void {
    const head0 = pool.coolHead;
    let head = head0;
    while (head < pool.coolUntil.length && (pool.coolUntil[head] as number) <= at) {
      const offset = pool.coolOffsets[head] as number;
      if (pool.block.isAllocatedOffset(offset) && !pool.owners.has(offset)) {
        pool.block.releaseOffset(offset);
        const block = pool.block;
        this.#log(() => block.claimOffset(offset));
      }
      head++;
    }
    if (head === head0) return;
    const offsets = pool.coolOffsets;
    const until = pool.coolUntil;
    if (head === until.length) {
      pool.coolOffsets = [];
      pool.coolUntil = [];
      pool.coolHead = 0;
    } else {
      pool.coolHead = head;
    }
    this.#log(() => {
      pool.coolOffsets = offsets;
      pool.coolUntil = until;
      pool.coolHead = head0;
    });
  }

  #coolOrFree(st: SubnetState, offset: number, at: number): void {
    const pool = st.pool as DirectPool;
    if (st.subnet.cooldownSeconds > 0) {
      const offsets = pool.coolOffsets;
      const until = pool.coolUntil;
      offsets.push(offset);
      until.push(at + st.subnet.cooldownSeconds * 1000);
      this.#log(() => {
        offsets.pop();
        until.pop();
      });
    } else {
      const block = pool.block;
      block.releaseOffset(offset);
      this.#log(() => block.claimOffset(offset));
    }
  }

  #addDirect(entry: DirectEntry, st: SubnetState): void {
    this.#mapSet((st.pool as DirectPool).owners, entry.offset, entry);
    const index = this.#direct;
    index.add(entry);
    if (this.#undo !== undefined) this.#log(() => index.remove(entry));
    let list = this.#nodeDirect.get(entry.node);
    if (list === undefined) {
      list = [];
      this.#mapSet(this.#nodeDirect, entry.node, list);
    }
    list.push(entry);
    const l = list;
    if (this.#undo !== undefined) this.#log(() => l.pop());
  }

  /** Drops a direct allocation; its address cools down (or is freed at once when `cool` is false). */
  #removeDirect(entry: DirectEntry, at: number, cool: boolean): DirectEntry {
    const st = this.#subnets.get(entry.subnet) as SubnetState;
    const pool = st.pool as DirectPool;
    this.#mapDelete(pool.owners, entry.offset);
    if (cool) this.#coolOrFree(st, entry.offset, at);
    else {
      const block = pool.block;
      block.releaseOffset(entry.offset);
      this.#log(() => block.claimOffset(entry.offset));
    }
    const index = this.#direct;
    index.remove(entry);
    this.#log(() => index.add(entry));
    const list = this.#nodeDirect.get(entry.node);
    if (list !== undefined) {
      const at = list.indexOf(entry);
      list.splice(at, 1);
      this.#log(() => list.splice(at, 0, entry));
      if (list.length === 0) this.#mapDelete(this.#nodeDirect, entry.node);
    }
    return entry;
  }

  // --- subnet state helpers ---------------------------------------------------------

  /** A fresh state for a topology subnet. @throws PoolError `INVALID_ARGUMENT` for a direct subnet above 2^24 addresses. */
  #newState(subnet: Subnet): SubnetState {
    const geometry = geometryOf(subnet);
    const direct = isDirectMode(subnet);
    if (direct && geometry.cidr.size() > BigInt(MAX_BITMAP_CAPACITY)) {
      fail(
        "INVALID_ARGUMENT",
        `subnets.${subnet.id}.blockPrefix: direct mode (/${subnet.blockPrefix}) needs a subnet of at most 2^24 addresses; ${subnet.cidr} is larger (use block mode)`,
        { subnet: subnet.id },
      );
    }
    return {
      subnet,
      geometry,
      direct,
      draining: false,
      reservations: new Map(),
      index: direct ? undefined : new BlockIndex<BlockOwner>(geometry.blockCount),
      pool: direct
        ? {
            block: ipBlockFor(subnet, geometry.cidr),
            owners: new Map(),
            coolOffsets: [],
            coolUntil: [],
            coolHead: 0,
          }
        : undefined,
      leaseSubnet: undefined,
      intervals: undefined,
    };
  }

  #runtimeRanges(st: SubnetState): (Cidr | IpRange)[] {
    return [...st.reservations.keys()].sort(byString).map(parseReservedEntry);
  }

  /**
   * Rebuilds a direct pool's bitmap after its reservations or gateway changed, keeping every
   * allocation, cooling address and the cursor.
   * @throws PoolError `CONFLICT` when an allocated address would become reserved.
   */
  #rebuildPool(st: SubnetState): void {
    const pool = st.pool as DirectPool;
    const block = ipBlockFor(st.subnet, st.geometry.cidr, this.#runtimeRanges(st));
    for (const offset of [...pool.owners.keys()].sort((a, b) => a - b)) {
      if (block.stateOfOffset(offset) === "reserved") {
        fail(
          "CONFLICT",
          `${formatIp(block.addressAt(offset))} in ${st.subnet.id} is allocated and cannot be reserved`,
          {
            subnet: st.subnet.id,
            address: formatIp(block.addressAt(offset)),
          },
        );
      }
      block.claimOffset(offset);
    }
    for (let i = pool.coolHead; i < pool.coolOffsets.length; i++) {
      const offset = pool.coolOffsets[i] as number;
      if (block.stateOfOffset(offset) === "free") block.claimOffset(offset);
    }
    block.cursor = Math.min(pool.block.cursor, block.size);
    this.#field(pool, "block", block);
  }

  #inUse(st: SubnetState): boolean {
    return (st.index?.size ?? 0) > 0 || (st.pool?.owners.size ?? 0) > 0;
  }

  /** Reserved intervals (config + run-time), sorted and merged. */
  #intervals(st: SubnetState): AddressInterval[] {
    if (st.intervals === undefined) {
      const all = [...reservedIntervals(st.subnet)];
      for (const r of this.#runtimeRanges(st)) {
        all.push(
          r instanceof Cidr
            ? { start: r.start, end: r.end }
            : { start: toBig(r.first), end: toBig(r.last) },
        );
      }
      all.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      const merged: AddressInterval[] = [];
      for (const x of all) {
        const last = merged[merged.length - 1];
        if (last !== undefined && x.start <= last.end + 1n) {
          if (x.end > last.end) merged[merged.length - 1] = { start: last.start, end: x.end };
        } else merged.push(x);
      }
      st.intervals = merged;
    }
    return st.intervals;
  }

  /** The subnet as leases carry it: `reserved` includes the run-time reservations. */
  #leaseSubnet(st: SubnetState): Subnet {
    if (st.leaseSubnet === undefined) {
      st.leaseSubnet =
        st.reservations.size === 0
          ? st.subnet
          : Object.freeze({
              ...st.subnet,
              reserved: [...st.subnet.reserved, ...[...st.reservations.keys()].sort(byString)],
            });
    }
    return st.leaseSubnet;
  }

  /** When block `i` lies entirely inside a reserved interval: the first block index after it; else -1n. */
  #coveredNext(st: SubnetState, i: bigint): bigint {
    const size = 1n << BigInt(st.geometry.cidr.bits - st.subnet.blockPrefix);
    const start = st.geometry.cidr.start + i * size;
    const end = start + size - 1n;
    const list = this.#intervals(st);
    let lo = 0;
    let hi = list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] as AddressInterval).start <= start) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0 || (list[found] as AddressInterval).end < end) return -1n;
    return ((list[found] as AddressInterval).end + 1n - st.geometry.cidr.start) / size;
  }

  /** The block to lease to `node` in `st`, or -1n when none is free. */
  #pickBlock(st: SubnetState, node: string): bigint {
    const index = st.index as BlockIndex<BlockOwner>;
    const mine = this.#nodeBlocks.get(node)?.get(st.subnet.id) ?? [];
    let best = -1n;
    for (const b of mine) {
      for (const c of [b - 1n, b + 1n]) {
        if (c < 0n || c >= index.count || index.has(c) || this.#coveredNext(st, c) >= 0n) continue;
        if (best < 0n || c < best) best = c;
      }
    }
    if (best >= 0n) return best;
    let from = 0n;
    for (;;) {
      const c = index.firstFree(from);
      if (c < 0n) return -1n;
      const next = this.#coveredNext(st, c);
      if (next < 0n) return c;
      from = next;
    }
  }

  #requireNode(id: unknown, path: string): Node {
    const node = this.#topology.nodes.get(requireString(id, path));
    if (node === undefined)
      fail("NOT_FOUND", `${path}: node ${String(id)} is not registered`, { node: id });
    return node;
  }

  #requireSubnet(id: unknown, path: string): SubnetState {
    const st = this.#subnets.get(requireString(id, path));
    if (st === undefined)
      fail("NOT_FOUND", `${path}: subnet ${String(id)} does not exist`, { subnet: id });
    return st;
  }

  /** The node's candidate subnets of a mode, in allocation order. @throws NO_SUBNET / DRAINING. */
  #candidates(
    node: string,
    purpose: string,
    family: Family,
    strategy: SubnetStrategy,
    direct: boolean,
  ): SubnetState[] {
    const all = subnetsForNode(this.#topology, node, { purpose, family, strategy });
    if (all.length === 0) {
      fail(
        "NO_SUBNET",
        `node ${node} has no IPv${family} ${purpose} subnet (strategy ${strategy})`,
        {
          node,
          purpose,
          family,
        },
      );
    }
    const states = all
      .map((s) => this.#subnets.get(s.id) as SubnetState)
      .filter((st) => st.direct === direct);
    if (states.length === 0) {
      fail(
        "NO_SUBNET",
        `node ${node} has no ${direct ? "direct-mode" : "block-mode"} IPv${family} ${purpose} subnet (its are ${direct ? "block" : "direct"}-mode: use ${direct ? "lease-block" : "allocate-direct"})`,
        { node, purpose, family, mode: direct ? "block" : "direct" },
      );
    }
    const open = states.filter((st) => !st.draining);
    if (open.length === 0) {
      fail("DRAINING", `every IPv${family} ${purpose} subnet of node ${node} is draining`, {
        node,
        purpose,
        family,
        subnets: states.map((st) => st.subnet.id),
      });
    }
    return open;
  }

  #lease(st: SubnetState, node: string, index: bigint, leasedAt: number): BlockLease {
    return {
      node,
      cidr: st.geometry.cidr.subBlock(st.subnet.blockPrefix, index).toString(),
      leasedAt,
      subnet: this.#leaseSubnet(st),
    };
  }

  #addressOf(e: DirectEntry): string {
    const cidr = (this.#subnets.get(e.subnet) as SubnetState).geometry.cidr;
    return cidr.family === 4
      ? formatV4(Number(cidr.start) + e.offset)
      : formatIp(cidr.addressAt(e.offset));
  }

  #directView(e: DirectEntry): DirectAllocation {
    const st = this.#subnets.get(e.subnet) as SubnetState;
    return {
      key: { network: e.network, containerId: e.containerId, ifname: e.ifname },
      family: e.family,
      node: e.node,
      purpose: e.purpose,
      subnet: e.subnet,
      address: this.#addressOf(e),
      prefixLength: st.geometry.cidr.prefix,
      gateway: st.subnet.gateway === "none" ? null : st.subnet.gateway,
      allocatedAt: e.allocatedAt,
    };
  }

  /** Frees everything a node holds (blocks at once, direct addresses with cool-down). */
  #freeNode(node: string, at: number): { blocks: string[]; addresses: string[] } {
    const blocks: string[] = [];
    const perNode = this.#nodeBlocks.get(node);
    for (const subnetId of [...(perNode?.keys() ?? [])].sort(byString)) {
      const st = this.#subnets.get(subnetId) as SubnetState;
      for (const index of [...(perNode?.get(subnetId) ?? [])]) {
        blocks.push(st.geometry.cidr.subBlock(st.subnet.blockPrefix, index).toString());
        this.#releaseIndex(st, index);
      }
    }
    const addresses: string[] = [];
    for (const entry of [...(this.#nodeDirect.get(node) ?? [])].sort(compareEntries)) {
      this.#removeDirect(entry, at, true);
      addresses.push(this.#addressOf(entry));
    }
    return { blocks: blocks.sort(), addresses };
  }

  // --- commands ----------------------------------------------------------------------

  #applyTopology(c: ApplyTopologyCommand): ApplyTopologyValue {
    if (typeof c.config !== "object" || c.config === null)
      fail("INVALID_ARGUMENT", "apply-topology.config: must be an object");
    const next = createTopology(c.config);
    const carried = carryOverNodes(next, this.#topology);
    const d = diff(this.#topology, carried.topology);
    const removed = [...d.subnets.removed].sort((a, b) => byString(a.id, b.id));
    for (const s of removed) {
      const st = this.#subnets.get(s.id) as SubnetState;
      if (this.#inUse(st) && !st.draining) {
        fail(
          "CONFLICT",
          `apply-topology: subnet ${s.id} still has leases or allocations; drain it first`,
          { subnet: s.id },
        );
      }
    }
    for (const ch of [...d.subnets.changed].sort((a, b) => byString(a.id, b.id))) {
      const st = this.#subnets.get(ch.id) as SubnetState;
      const { before, after } = ch;
      if (
        this.#inUse(st) &&
        (before.cidr !== after.cidr ||
          before.family !== after.family ||
          before.blockPrefix !== after.blockPrefix)
      ) {
        fail(
          "CONFLICT",
          `apply-topology: subnet ${ch.id} is in use; its cidr, family and blockPrefix cannot change`,
          {
            subnet: ch.id,
          },
        );
      }
    }
    let freedBlocks = 0;
    let freedAddresses = 0;
    const removedNodes = carried.orphaned.map((n) => n.id).sort(byString);
    for (const node of removedNodes) {
      const freed = this.#freeNode(node, c.at);
      freedBlocks += freed.blocks.length;
      freedAddresses += freed.addresses.length;
    }
    for (const s of removed) {
      const st = this.#subnets.get(s.id) as SubnetState;
      const indexes: bigint[] = [];
      st.index?.forEach((i) => {
        indexes.push(i);
      });
      for (const i of indexes) this.#releaseIndex(st, i);
      freedBlocks += indexes.length;
      for (const entry of [...(st.pool?.owners.values() ?? [])].sort(compareEntries)) {
        this.#removeDirect(entry, c.at, false);
        freedAddresses++;
      }
      this.#mapDelete(this.#subnets, s.id);
    }
    for (const s of [...d.subnets.added].sort((a, b) => byString(a.id, b.id))) {
      this.#mapSet(this.#subnets, s.id, this.#newState(s));
    }
    for (const ch of [...d.subnets.changed].sort((a, b) => byString(a.id, b.id))) {
      const st = this.#subnets.get(ch.id) as SubnetState;
      if (
        isDirectMode(ch.after) !== st.direct ||
        ch.before.cidr !== ch.after.cidr ||
        ch.before.blockPrefix !== ch.after.blockPrefix
      ) {
        const fresh = this.#newState(ch.after); // not in use (checked above)
        fresh.draining = st.draining;
        for (const [k, r] of st.reservations) fresh.reservations.set(k, r);
        this.#mapSet(this.#subnets, ch.id, fresh);
        if (fresh.direct && fresh.reservations.size > 0) this.#rebuildPool(fresh);
        continue;
      }
      this.#field(st, "subnet", ch.after);
      this.#field(st, "geometry", geometryOf(ch.after));
      this.#invalidate(st);
      if (st.direct) this.#rebuildPool(st);
    }
    this.#setTopology(carried.topology);
    return { diff: d, removedNodes, freedBlocks, freedAddresses };
  }

  #registerNode(c: RegisterNodeCommand): Node {
    const id = requireString(c.node, "register-node.node");
    const tor = requireString(c.tor, "register-node.tor");
    const next = registerNode(this.#topology, {
      id,
      tor,
      ...(c.name === undefined ? {} : { name: c.name }),
      ...(c.labels === undefined ? {} : { labels: c.labels }),
    });
    this.#setTopology(next);
    return next.nodes.get(id) as Node;
  }

  #deregisterNode(c: DeregisterNodeCommand): DeregisterNodeValue {
    const node = this.#requireNode(c.node, "deregister-node.node");
    const freed = this.#freeNode(node.id, c.at);
    this.#setTopology(removeNode(this.#topology, node.id));
    return { node: node.id, ...freed };
  }

  #addSubnet(c: AddSubnetCommand): Subnet {
    if (typeof c.subnet !== "object" || c.subnet === null)
      fail("INVALID_ARGUMENT", "add-subnet.subnet: must be an object");
    const before = this.#topology;
    const next = addSubnet(before, c.subnet);
    let added: Subnet | undefined;
    for (const s of next.subnets.values()) if (!before.subnets.has(s.id)) added = s;
    const subnet = added as Subnet;
    this.#mapSet(this.#subnets, subnet.id, this.#newState(subnet));
    this.#setTopology(next);
    return subnet;
  }

  #removeSubnet(c: RemoveSubnetCommand): Subnet {
    const st = this.#requireSubnet(c.subnet, "remove-subnet.subnet");
    if (this.#inUse(st)) {
      fail("CONFLICT", `remove-subnet: subnet ${st.subnet.id} still has leases or allocations`, {
        subnet: st.subnet.id,
        leasedBlocks: st.index?.size ?? 0,
        directAddresses: st.pool?.owners.size ?? 0,
      });
    }
    this.#setTopology(removeSubnet(this.#topology, st.subnet.id));
    this.#mapDelete(this.#subnets, st.subnet.id);
    return st.subnet;
  }

  #drainSubnet(c: DrainSubnetCommand): { subnet: string; draining: boolean } {
    const st = this.#requireSubnet(c.subnet, "drain-subnet.subnet");
    if (c.draining !== undefined && typeof c.draining !== "boolean") {
      fail("INVALID_ARGUMENT", "drain-subnet.draining: must be a boolean");
    }
    const draining = c.draining ?? true;
    this.#field(st, "draining", draining);
    return { subnet: st.subnet.id, draining };
  }

  #leaseBlock(c: LeaseBlockCommand): BlockLease {
    const node = this.#requireNode(c.node, "lease-block.node");
    const requestId = optionalRequestId(c.requestId);
    if (requestId !== undefined) {
      // A retry (after a lost answer or a leader change) gets the block the first try leased.
      const earlier = this.#leaseByRequest(node.id, requestId);
      if (earlier !== undefined) return earlier;
    }
    let candidates: SubnetState[];
    if (c.subnet !== undefined) {
      const st = this.#requireSubnet(c.subnet, "lease-block.subnet");
      if (st.direct)
        fail(
          "INVALID_ARGUMENT",
          `lease-block.subnet: ${st.subnet.id} is direct-mode (use allocate-direct)`,
        );
      const visible = subnetsForNode(this.#topology, node.id, {
        purpose: st.subnet.purpose,
        family: st.subnet.family,
        strategy: "spill",
      }).some((s) => s.id === st.subnet.id);
      if (!visible)
        fail(
          "INVALID_ARGUMENT",
          `lease-block.subnet: ${st.subnet.id} is not reachable from node ${node.id}`,
        );
      if (st.draining)
        fail("DRAINING", `subnet ${st.subnet.id} is draining`, { subnet: st.subnet.id });
      candidates = [st];
    } else {
      const purpose = requireString(c.purpose, "lease-block.purpose");
      const family = requireFamily(c.family, "lease-block.family");
      candidates = this.#candidates(
        node.id,
        purpose,
        family,
        optionalStrategy(c.strategy, "lease-block.strategy"),
        false,
      );
    }
    for (const st of candidates) {
      const index = this.#pickBlock(st, node.id);
      if (index < 0n) continue;
      this.#leaseIndex(st, index, {
        node: node.id,
        leasedAt: c.at,
        ...(requestId === undefined ? {} : { requestId }),
      });
      return this.#lease(st, node.id, index, c.at);
    }
    return fail(
      "POOL_EXHAUSTED",
      `no free block for node ${node.id} in ${candidates.map((s) => s.subnet.id).join(", ")}`,
      {
        node: node.id,
        subnets: candidates.map((s) => s.subnet.id),
      },
    );
  }

  #releaseBlock(c: ReleaseBlockCommand): { node: string; cidr: string } {
    const node = requireString(c.node, "release-block.node");
    const cidr = Cidr.tryParse(requireString(c.cidr, "release-block.cidr"));
    if (cidr === undefined)
      fail("INVALID_ARGUMENT", `release-block.cidr: ${c.cidr} is not a valid CIDR`);
    // Subnets never overlap, so at most one subnet holds the block and the search order does
    // not matter: the node's own subnets first (the usual case), then all of them.
    const own = [...(this.#nodeBlocks.get(node)?.keys() ?? [])].map(
      (id) => this.#subnets.get(id) as SubnetState,
    );
    for (const st of [...own, ...this.#subnets.values()]) {
      if (st.direct || !st.geometry.cidr.contains(cidr) || cidr.prefix !== st.subnet.blockPrefix)
        continue;
      const index = st.geometry.cidr.indexOfSubBlock(cidr);
      const owner = st.index?.owner(index);
      if (owner === undefined) break;
      if (owner.node !== node) {
        fail("CONFLICT", `release-block: ${cidr} is leased to ${owner.node}, not ${node}`, {
          cidr: cidr.toString(),
          owner: owner.node,
        });
      }
      this.#releaseIndex(st, index);
      return { node, cidr: cidr.toString() };
    }
    return fail("NOT_FOUND", `release-block: ${cidr} is not a block leased to ${node}`, {
      cidr: cidr.toString(),
      node,
    });
  }

  #allocateDirect(c: AllocateDirectCommand): DirectAllocateValue {
    const node = this.#requireNode(c.node, "allocate-direct.node");
    const purpose = requireString(c.purpose, "allocate-direct.purpose");
    const family = requireFamily(c.family, "allocate-direct.family");
    const key = requireKey(c.key, "allocate-direct.key");
    const found = this.#direct.get(key.network, key.containerId, key.ifname, family);
    if (found !== undefined) {
      const held = this.#addressOf(found);
      if (
        found.node !== node.id ||
        found.purpose !== purpose ||
        (c.address !== undefined && c.address !== held)
      ) {
        fail(
          "CONFLICT",
          `allocate-direct.key: already holds ${held} (${found.purpose}) on ${found.node}`,
          {
            address: held,
            node: found.node,
            purpose: found.purpose,
          },
        );
      }
      return { ...this.#directView(found), existing: true };
    }
    const strategy = optionalStrategy(c.strategy, "allocate-direct.strategy");
    let st: SubnetState | undefined;
    let offset = -1;
    if (c.address !== undefined) {
      const ip = tryParseIp(requireString(c.address, "allocate-direct.address"));
      if (ip === undefined || ip.family !== family) {
        fail(
          "INVALID_ARGUMENT",
          `allocate-direct.address: ${c.address} is not an IPv${family} address`,
        );
      }
      const all = subnetsForNode(this.#topology, node.id, { purpose, family, strategy });
      const home = all.find((s) => Cidr.parse(s.cidr).contains(ip));
      if (home === undefined) {
        fail(
          "INVALID_ARGUMENT",
          `allocate-direct.address: ${c.address} is in no IPv${family} ${purpose} subnet of node ${node.id}`,
        );
      }
      st = this.#subnets.get(home.id) as SubnetState;
      if (!st.direct)
        fail("INVALID_ARGUMENT", `allocate-direct.address: subnet ${home.id} is block-mode`);
      if (st.draining) fail("DRAINING", `subnet ${home.id} is draining`, { subnet: home.id });
      const pool = st.pool as DirectPool;
      this.#expire(pool, c.at);
      offset = Number(st.geometry.cidr.offsetOf(ip));
      const state = pool.block.stateOfOffset(offset);
      if (state !== "free") {
        fail(
          "CONFLICT",
          `allocate-direct.address: ${formatIp(ip)} is ${state === "reserved" ? "reserved" : pool.owners.has(offset) ? "allocated" : "cooling down"}`,
          {
            address: formatIp(ip),
          },
        );
      }
      pool.block.claimOffset(offset);
      const block = pool.block;
      const o = offset;
      this.#log(() => block.releaseOffset(o));
    } else {
      for (const candidate of this.#candidates(node.id, purpose, family, strategy, true)) {
        const pool = candidate.pool as DirectPool;
        this.#expire(pool, c.at);
        const block = pool.block;
        const cursor = block.cursor;
        offset = block.allocateOffset();
        if (offset >= 0) {
          const o = offset;
          this.#log(() => {
            block.releaseOffset(o);
            block.cursor = cursor;
          });
          st = candidate;
          break;
        }
      }
      if (st === undefined) {
        fail("POOL_EXHAUSTED", `no free IPv${family} ${purpose} address for node ${node.id}`, {
          node: node.id,
          purpose,
          family,
        });
      }
    }
    const entry: DirectEntry = {
      network: key.network,
      containerId: key.containerId,
      ifname: key.ifname,
      family,
      node: node.id,
      purpose,
      subnet: st.subnet.id,
      offset,
      allocatedAt: c.at,
    };
    this.#addDirect(entry, st);
    return { ...this.#directView(entry), existing: false };
  }

  #releaseDirect(c: ReleaseDirectCommand): DirectAllocation[] {
    const key = requireKey(c.key, "release-direct.key");
    const families: Family[] =
      c.family === undefined ? [4, 6] : [requireFamily(c.family, "release-direct.family")];
    const out: DirectAllocation[] = [];
    for (const family of families) {
      const entry = this.#direct.get(key.network, key.containerId, key.ifname, family);
      if (entry === undefined) continue;
      out.push(this.#directView(entry));
      this.#removeDirect(entry, c.at, true);
    }
    return out;
  }

  #parseRange(st: SubnetState, text: unknown, path: string): [string, Cidr | IpRange] {
    const raw = requireString(text, path);
    let range: Cidr | IpRange;
    try {
      range = parseReservedEntry(raw);
    } catch (cause) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `${path}: ${raw} is not an address, CIDR or first-last range`,
        { cause },
      );
    }
    const [first, last] =
      range instanceof Cidr ? [range.start, range.end] : [toBig(range.first), toBig(range.last)];
    const family = range instanceof Cidr ? range.family : range.first.family;
    if (
      family !== st.subnet.family ||
      first > last ||
      first < st.geometry.cidr.start ||
      last > st.geometry.cidr.end
    ) {
      fail("INVALID_ARGUMENT", `${path}: ${raw} is not inside ${st.subnet.cidr}`);
    }
    const canonical =
      range instanceof Cidr ? range.toString() : `${formatIp(range.first)}-${formatIp(range.last)}`;
    return [canonical, range];
  }

  #reserve(c: ReserveCommand): Reservation {
    const st = this.#requireSubnet(c.subnet, "reserve.subnet");
    const [range] = this.#parseRange(st, c.range, "reserve.range");
    const reason =
      typeof c.reason === "string"
        ? c.reason
        : fail("INVALID_ARGUMENT", "reserve.reason: must be a string");
    const existing = st.reservations.get(range);
    if (existing !== undefined) return existing;
    const reservation: Reservation = { subnet: st.subnet.id, range, reason, at: c.at };
    this.#mapSet(st.reservations, range, reservation);
    this.#invalidate(st);
    if (st.direct) this.#rebuildPool(st);
    return reservation;
  }

  #unreserve(c: UnreserveCommand): Reservation {
    const st = this.#requireSubnet(c.subnet, "unreserve.subnet");
    const [range] = this.#parseRange(st, c.range, "unreserve.range");
    const existing = st.reservations.get(range);
    if (existing === undefined)
      fail("NOT_FOUND", `unreserve.range: ${range} is not reserved in ${st.subnet.id}`);
    this.#mapDelete(st.reservations, range);
    this.#invalidate(st);
    if (st.direct) this.#rebuildPool(st);
    return existing;
  }

  // --- queries -----------------------------------------------------------------------

  /** The current topology (immutable). */
  topology(): Topology {
    return this.#topology;
  }

  /** Every subnet with its run-time state, sorted by id. */
  subnets(): SubnetView[] {
    return [...this.#subnets.values()]
      .sort((a, b) => byString(a.subnet.id, b.subnet.id))
      .map((st) => ({
        subnet: st.subnet,
        mode: st.direct ? ("direct" as const) : ("block" as const),
        draining: st.draining,
        reservations: [...st.reservations.values()].sort((a, b) => byString(a.range, b.range)),
      }));
  }

  /** A registered node with its path and holdings, or undefined. */
  node(id: string): NodeView | undefined {
    const node = this.#topology.nodes.get(id);
    if (node === undefined) return undefined;
    let blocks = 0;
    for (const list of this.#nodeBlocks.get(id)?.values() ?? []) blocks += list.length;
    return {
      node,
      path: nodePath(this.#topology, id).text,
      blocks,
      directAddresses: this.#nodeDirect.get(id)?.length ?? 0,
    };
  }

  /** Every registered node, sorted by id. */
  nodes(): Node[] {
    return [...this.#topology.nodes.values()].sort((a, b) => byString(a.id, b.id));
  }

  /** The block a lease-block command with `requestId` leased to `nodeId`, if still held. */
  #leaseByRequest(nodeId: string, requestId: string): BlockLease | undefined {
    const perNode = this.#nodeBlocks.get(nodeId);
    for (const subnetId of [...(perNode?.keys() ?? [])].sort(byString)) {
      const st = this.#subnets.get(subnetId) as SubnetState;
      for (const index of perNode?.get(subnetId) ?? []) {
        const owner = st.index?.owner(index) as BlockOwner;
        if (owner.requestId === requestId) return this.#lease(st, nodeId, index, owner.leasedAt);
      }
    }
    return undefined;
  }

  /** The blocks leased to a node (empty for an unknown node), sorted by subnet id then block. */
  nodeLeases(nodeId: string): BlockLease[] {
    const perNode = this.#nodeBlocks.get(nodeId);
    const out: BlockLease[] = [];
    for (const subnetId of [...(perNode?.keys() ?? [])].sort(byString)) {
      const st = this.#subnets.get(subnetId) as SubnetState;
      for (const index of perNode?.get(subnetId) ?? []) {
        const owner = st.index?.owner(index) as BlockOwner;
        out.push(this.#lease(st, nodeId, index, owner.leasedAt));
      }
    }
    return out;
  }

  /** Direct allocations (of one node, or all), sorted by key then family. */
  directAllocations(nodeId?: string): DirectAllocation[] {
    const entries =
      nodeId === undefined ? this.#direct.values() : [...(this.#nodeDirect.get(nodeId) ?? [])];
    return entries.sort(compareEntries).map((e) => this.#directView(e));
  }

  /** The direct allocation of a key and family, or undefined. */
  directAllocation(key: AllocationKey, family: Family): DirectAllocation | undefined {
    const e = this.#direct.get(key.network, key.containerId, key.ifname, family);
    return e === undefined ? undefined : this.#directView(e);
  }

  /** Usage of every subnet, sorted by id (for metrics: capacity/allocated/reserved/cooling). */
  subnetUsage(): SubnetUsage[] {
    return [...this.#subnets.values()]
      .sort((a, b) => byString(a.subnet.id, b.subnet.id))
      .map((st) => {
        const base = {
          subnet: st.subnet.id,
          purpose: st.subnet.purpose,
          family: st.subnet.family,
          mode: st.direct ? ("direct" as const) : ("block" as const),
          scope: st.subnet.scope,
          draining: st.draining,
        };
        if (st.pool !== undefined) {
          const block = st.pool.block;
          const cooling = st.pool.coolOffsets.length - st.pool.coolHead;
          const allocated = st.pool.owners.size;
          return {
            ...base,
            capacity: block.capacity(),
            allocated,
            reserved: block.reservedCount(),
            cooling,
            free: block.free(),
            leasedBlocks: 0,
            totalBlocks: 0,
          };
        }
        let reserved = 0n;
        for (const x of this.#intervals(st)) reserved += x.end - x.start + 1n;
        const size = st.geometry.cidr.size();
        const blockSize = 1n << BigInt(st.geometry.cidr.bits - st.subnet.blockPrefix);
        const leased = st.index?.size ?? 0;
        const capacity = Number(size - reserved);
        const allocated = Number(BigInt(leased) * blockSize);
        return {
          ...base,
          capacity,
          allocated,
          reserved: Number(reserved),
          cooling: 0,
          free: Math.max(0, capacity - allocated),
          leasedBlocks: leased,
          totalBlocks: Number(st.geometry.blockCount),
        };
      });
  }

  /**
   * {@link subnetUsage} summed per zone, pod, TOR, subnet or purpose, sorted by id. A zone
   * row covers every subnet in the zone; a pod row the pod's and its TORs' subnets; a TOR row
   * only the TOR's own subnets. `filter` keeps only subnets of one purpose or family, and only
   * the row with one id.
   */
  stats(
    level: StatsLevel,
    filter: { readonly purpose?: string; readonly family?: Family; readonly id?: string } = {},
  ): StatsRow[] {
    const t = this.#topology;
    const rows = new Map<
      string,
      {
        subnets: number;
        capacity: number;
        allocated: number;
        reserved: number;
        cooling: number;
        free: number;
        leasedBlocks: number;
      }
    >();
    for (const u of this.subnetUsage()) {
      if (filter.purpose !== undefined && u.purpose !== filter.purpose) continue;
      if (filter.family !== undefined && u.family !== filter.family) continue;
      const id = statsKeyOf(t, level, u);
      if (id === undefined || (filter.id !== undefined && id !== filter.id)) continue;
      const row = rows.get(id) ?? {
        subnets: 0,
        capacity: 0,
        allocated: 0,
        reserved: 0,
        cooling: 0,
        free: 0,
        leasedBlocks: 0,
      };
      row.subnets++;
      row.capacity += u.capacity;
      row.allocated += u.allocated;
      row.reserved += u.reserved;
      row.cooling += u.cooling;
      row.free += u.free;
      row.leasedBlocks += u.leasedBlocks;
      rows.set(id, row);
    }
    return [...rows.entries()]
      .sort((a, b) => byString(a[0], b[0]))
      .map(([id, r]) => ({ level, id, ...r }));
  }

  // --- snapshot ----------------------------------------------------------------------

  /**
   * The whole state as versioned bytes: `IPCS`, a version byte, then UTF-8 JSON in which every
   * collection is sorted (byte-identical across replicas that applied the same commands).
   * The array is the caller's.
   */
  snapshot(): Uint8Array {
    const subnets: SnapshotSubnet[] = [];
    for (const st of [...this.#subnets.values()].sort((a, b) =>
      byString(a.subnet.id, b.subnet.id),
    )) {
      const blocks: ([string, string, number] | [string, string, number, string])[] = [];
      st.index?.forEach((i, o) => {
        blocks.push(
          o.requestId === undefined
            ? [i.toString(), o.node, o.leasedAt]
            : [i.toString(), o.node, o.leasedAt, o.requestId],
        );
      });
      const cooling: [number, number][] = [];
      const pool = st.pool;
      if (pool !== undefined) {
        for (let i = pool.coolHead; i < pool.coolOffsets.length; i++) {
          cooling.push([pool.coolOffsets[i] as number, pool.coolUntil[i] as number]);
        }
      }
      subnets.push([
        st.subnet.id,
        st.draining,
        [...st.reservations.values()]
          .sort((a, b) => byString(a.range, b.range))
          .map((r) => [r.range, r.reason, r.at]),
        blocks,
        pool?.block.cursor ?? 0,
        cooling,
      ]);
    }
    const direct: SnapshotDirect[] = [];
    for (const st of [...this.#subnets.values()].sort((a, b) =>
      byString(a.subnet.id, b.subnet.id),
    )) {
      if (st.pool === undefined || st.pool.owners.size === 0) continue;
      const table = new Map<string, number>();
      const intern = (text: string): number => {
        let i = table.get(text);
        if (i === undefined) {
          i = table.size;
          table.set(text, i);
        }
        return i;
      };
      const containers: string[] = [];
      const rows: number[] = [];
      const entries = [...st.pool.owners.values()].sort(compareEntries);
      for (const e of entries) {
        containers.push(e.containerId);
        rows.push(
          e.offset,
          intern(e.network),
          intern(e.ifname),
          intern(e.node),
          intern(e.purpose),
          e.allocatedAt,
        );
      }
      direct.push({ subnet: st.subnet.id, strings: [...table.keys()], containers, rows });
    }
    const doc: SnapshotDoc = {
      format: "ipam-cluster-state",
      version: SNAPSHOT_VERSION,
      topology: toCanonicalConfig(this.#topology),
      subnets,
      direct,
    };
    const body = encoder.encode(JSON.stringify(doc));
    const out = new Uint8Array(body.length + 5);
    out.set(SNAPSHOT_MAGIC, 0);
    out[4] = SNAPSHOT_VERSION;
    out.set(body, 5);
    return out;
  }

  /**
   * Replaces all state with a {@link snapshot}. On failure the state is left untouched.
   * @throws PoolError `UNSUPPORTED_VERSION` (another snapshot version), `INVALID_ENCODING`
   * (not a snapshot, or an inconsistent one; `cause` holds the underlying error).
   */
  restore(bytes: Uint8Array): void {
    if (bytes.length < 5 || SNAPSHOT_MAGIC.some((b, i) => bytes[i] !== b)) {
      fail("INVALID_ENCODING", "not a cluster-state snapshot (bad magic)");
    }
    if (bytes[4] !== SNAPSHOT_VERSION) {
      fail(
        "UNSUPPORTED_VERSION",
        `snapshot version ${bytes[4]} is not supported (this build reads ${SNAPSHOT_VERSION})`,
        {
          version: bytes[4],
        },
      );
    }
    const fresh = new ClusterState();
    try {
      const doc = JSON.parse(decoder.decode(bytes.subarray(5))) as SnapshotDoc;
      if (doc.format !== "ipam-cluster-state" || doc.version !== SNAPSHOT_VERSION)
        throw new Error("bad header");
      fresh.#load(doc);
    } catch (cause) {
      if (cause instanceof PoolError) throw cause;
      throw new PoolError(
        "INVALID_ENCODING",
        `invalid snapshot: ${cause instanceof Error ? cause.message : String(cause)}`,
        {
          cause,
        },
      );
    }
    this.#topology = fresh.#topology;
    this.#subnets = fresh.#subnets;
    this.#nodeBlocks = fresh.#nodeBlocks;
    this.#direct = fresh.#direct;
    this.#nodeDirect = fresh.#nodeDirect;
  }

  #load(doc: SnapshotDoc): void {
    this.#topology = createTopology(doc.topology);
    for (const s of [...this.#topology.subnets.values()].sort((a, b) => byString(a.id, b.id))) {
      this.#subnets.set(s.id, this.#newState(s));
    }
    for (const [id, draining, reservations, blocks, cursor, cooling] of doc.subnets) {
      const st = this.#subnets.get(id);
      if (st === undefined) throw new Error(`subnet ${id} is not in the topology`);
      st.draining = draining;
      for (const [range, reason, at] of reservations)
        st.reservations.set(range, { subnet: id, range, reason, at });
      if (st.pool !== undefined) {
        if (reservations.length > 0) this.#rebuildPool(st);
        for (const [offset, until] of cooling) {
          if (st.pool.block.stateOfOffset(offset) === "free") st.pool.block.claimOffset(offset);
          st.pool.coolOffsets.push(offset);
          st.pool.coolUntil.push(until);
        }
        st.pool.block.cursor = cursor;
      }
      for (const [index, node, leasedAt, requestId] of blocks) {
        if (!this.#topology.nodes.has(node)) throw new Error(`block owner ${node} is not a node`);
        this.#leaseIndex(st, BigInt(index), {
          node,
          leasedAt,
          ...(requestId === undefined ? {} : { requestId }),
        });
      }
    }
    for (const group of doc.direct) {
      const st = this.#subnets.get(group.subnet);
      if (st?.pool === undefined)
        throw new Error(`direct allocations in unknown subnet ${group.subnet}`);
      const { strings, containers, rows } = group;
      const family = st.subnet.family;
      for (let i = 0, r = 0; i < containers.length; i++, r += 6) {
        const offset = rows[r] as number;
        const str = (j: number): string => {
          const text = strings[rows[r + j] as number];
          if (text === undefined)
            throw new Error(`direct row ${i} of ${group.subnet}: bad string index`);
          return text;
        };
        const node = str(3);
        if (!this.#topology.nodes.has(node)) throw new Error(`direct owner ${node} is not a node`);
        st.pool.block.claimOffset(offset);
        this.#addDirect(
          {
            network: str(1),
            containerId: containers[i] as string,
            ifname: str(2),
            family,
            node,
            purpose: str(4),
            subnet: group.subnet,
            offset,
            allocatedAt: rows[r + 5] as number,
          },
          st,
        );
      }
    }
  }
}

function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function toBig(ip: { readonly family: 4 | 6; readonly value: number | bigint }): bigint {
  return typeof ip.value === "bigint" ? ip.value : BigInt(ip.value);
}
