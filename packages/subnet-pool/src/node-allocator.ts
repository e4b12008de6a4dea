import { Cidr, formatIp, type Ip, type IpBlock, parseIp, tryParseIp } from "@ipam/bitmap";
import type { Family, ScopeRef, Subnet } from "@ipam/topology";
import { type AllocationKey, keyString } from "./allocation-key.js";
import type { AllocatedAddress, BlockLease, BlockState } from "./block-lease.js";
import { PoolError } from "./pool-error.js";
import { reservedReason } from "./reserved-reason.js";
import { ipBlockFor } from "./subnet-geometry.js";

/** One held block's use (see {@link NodeAllocator.blockUsage}). */
export interface BlockUsage {
  readonly lease: BlockLease;
  /** Addresses of the block that can be handed out (its size minus reserved ones). */
  readonly capacity: number;
  /** Addresses held by keys. */
  readonly held: number;
  /** Released addresses still cooling down. */
  readonly cooling: number;
}

/** Pre-allocation and idle-block settings (DESIGN §5 rule 4). */
export interface PreallocateOptions {
  /** Ask for a block when free addresses of a subnet fall below this share of what the node holds in it. Default 0.2. */
  readonly thresholdRatio?: number;
  /** Never ask for a block while the subnet already has this many empty blocks. Default 1. */
  readonly maxSpareBlocks?: number;
  /** An empty block may go back to L1 after this many seconds. Default 600. */
  readonly idleGraceSeconds?: number;
}

export interface NodeAllocatorOptions {
  /** The node id this allocator serves; leases of other nodes are refused. */
  readonly node: string;
  readonly preallocate?: PreallocateOptions;
}

export interface AllocateRequest {
  readonly key: AllocationKey;
  /** Default `"default"`. */
  readonly purpose?: string;
  /** Families to allocate, one address each, all or nothing. Default `[4]`. */
  readonly families?: readonly Family[];
  /** The caller's clock, ms since the epoch (drives cool-down and idle tracking). */
  readonly now: number;
  /**
   * Static addresses (text, no prefix), at most one per requested family: the key gets exactly
   * these for their families and dynamic ones for the others, all or nothing. Each must lie in
   * a block this node holds (else `NOT_FOUND` with `details.reason` `"not-held"`: lease the
   * block containing it and retry), in a subnet of the requested purpose, and be free.
   */
  readonly addresses?: readonly string[];
}

/** One allocation, as ipamd persists it (and hands back to {@link NodeAllocator.rebuild}). */
export interface AllocationRecord {
  readonly key: AllocationKey;
  readonly purpose: string;
  /** In the order of the request's families. */
  readonly addresses: readonly AllocatedAddress[];
  /** `now` of the allocate call that created it (ms). */
  readonly createdAt: number;
}

export interface AllocateResult {
  readonly record: AllocationRecord;
  readonly addresses: readonly AllocatedAddress[];
  /** True when the key already held addresses and nothing was allocated. */
  readonly existing: boolean;
}

/** A request for one more block, from {@link NodeAllocator.needs}. */
export interface LeaseRequest {
  /** In-flight key: the subnet id, or `purpose/family` when the node holds no block for it. */
  readonly requestKey: string;
  /** The subnet to lease from; absent when the node holds no block of that purpose+family. */
  readonly subnetId?: string;
  readonly purpose: string;
  readonly family: Family;
  /** `low`: free below threshold; `exhausted`: an allocation failed for lack of space. */
  readonly reason: "low" | "exhausted";
}

/** Free/used counts of one held subnet, from {@link NodeAllocator.usage}. */
export interface NodeSubnetUsage {
  readonly subnet: string;
  readonly purpose: string;
  readonly family: Family;
  /** The subnet's scope in the topology (a TOR, Pod or Zone). */
  readonly scope: ScopeRef;
  readonly blocks: number;
  readonly capacity: number;
  readonly allocated: number;
  readonly cooling: number;
  readonly free: number;
}

/**
 * A released address that may not be handed out again before `until` (ms since the epoch):
 * what ipamd persists on release so that a restart keeps the cool-down.
 */
export interface CoolingAddress {
  readonly address: string;
  readonly until: number;
}

/** Outcome of {@link NodeAllocator.rebuild}. */
export interface RebuildReport {
  readonly restored: number;
  /** Cooling addresses put back into cool-down (the others had expired or were not held). */
  readonly cooling: number;
  /** Records that could not be restored (address outside every leased block, or taken twice). */
  readonly orphaned: readonly AllocationRecord[];
}

interface HeldBlock {
  lease: BlockLease;
  block: IpBlock;
  readonly held: HeldSubnet;
  readonly start4: number;
  /** Allocated offsets including those still cooling down. */
  live: number;
  /** When `live` last reached 0 (ms), undefined while in use. */
  emptySince: number | undefined;
  /** No new allocation from it: its lease is draining or revoked (see {@link BlockState}). */
  closed: boolean;
}

interface HeldSubnet {
  subnet: Subnet;
  rank: number;
  readonly prefixLength: number;
  gateway: string | null;
  cooldownMs: number;
  /** Sorted by block start. */
  readonly blocks: HeldBlock[];
  /** Index into `blocks` where the next search starts. */
  hint: number;
}

interface Entry {
  readonly record: AllocationRecord;
  readonly blocks: HeldBlock[];
  readonly offsets: number[];
}

const SCOPE_RANK = { tor: 0, pod: 1, zone: 2 } as const;

function compareHeld(a: HeldSubnet, b: HeldSubnet): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.subnet.priority !== b.subnet.priority) return a.subnet.priority - b.subnet.priority;
  return a.subnet.id < b.subnet.id ? -1 : a.subnet.id > b.subnet.id ? 1 : 0;
}

function isClosed(state: BlockState | undefined): boolean {
  return state === "draining" || state === "revoked";
}

function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

const FAMILY_4: readonly Family[] = [4];

/**
 * The node-local allocator (L2, DESIGN §3): holds the node's leased blocks as bitmaps and hands
 * out addresses by allocation key without any network round trip. Pure: no I/O, no clock
 * (`now` is an argument), no randomness. Not thread-safe (one instance per ipamd process).
 *
 * Contracts:
 * - Idempotent per key: `allocate` for a key that holds addresses returns them (`existing`);
 *   `release` of an unknown key succeeds.
 * - Dual-stack is all or nothing: when the second family fails, the first is given back.
 * - Subnet order for a purpose+family: scope TOR, then Pod, then Zone; then priority; then id.
 *   Never another purpose or family.
 * - Inside a block, next-fit from a cursor; a released address waits the subnet's
 *   `cooldownSeconds` (measured with the callers' `now`) before it can be handed out again.
 * - `POOL_EXHAUSTED` from `allocate` means "lease a block and retry": the caller asks L1
 *   (`lease-block`), which answers with a block, `NO_SUBNET` or `POOL_EXHAUSTED`.
 */
export class NodeAllocator {
  readonly node: string;
  readonly #thresholdRatio: number;
  readonly #maxSpareBlocks: number;
  readonly #idleGraceMs: number;
  #entries = new Map<string, Entry>();
  /** purpose → [IPv4 subnets, IPv6 subnets], each sorted by {@link compareHeld}. */
  #groups = new Map<string, [HeldSubnet[], HeldSubnet[]]>();
  #subnets = new Map<string, HeldSubnet>();
  #blocks = new Map<string, HeldBlock>();
  // Cool-down FIFO (parallel arrays from #coolHead on).
  #coolBlocks: HeldBlock[] = [];
  #coolOffsets: number[] = [];
  #coolUntil: number[] = [];
  #coolHead = 0;
  #inFlight = new Set<string>();
  /** The block of the last successful {@link #take}. */
  #taken: HeldBlock | undefined;
  /** purpose/family pairs whose last allocation failed for lack of space, until a block arrives. */
  #starved = new Map<string, { purpose: string; family: Family }>();

  /** @throws PoolError `INVALID_ARGUMENT` for a bad option (named). */
  constructor(options: NodeAllocatorOptions) {
    if (typeof options.node !== "string" || options.node === "") {
      throw new PoolError("INVALID_ARGUMENT", "node: must be a non-empty string");
    }
    const pre = options.preallocate ?? {};
    this.node = options.node;
    this.#thresholdRatio = pre.thresholdRatio ?? 0.2;
    this.#maxSpareBlocks = pre.maxSpareBlocks ?? 1;
    this.#idleGraceMs = (pre.idleGraceSeconds ?? 600) * 1000;
    if (!(this.#thresholdRatio >= 0 && this.#thresholdRatio <= 1)) {
      throw new PoolError("INVALID_ARGUMENT", "preallocate.thresholdRatio: must be within 0..1");
    }
    if (!Number.isInteger(this.#maxSpareBlocks) || this.#maxSpareBlocks < 0) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        "preallocate.maxSpareBlocks: must be an integer >= 0",
      );
    }
    if (!(this.#idleGraceMs >= 0)) {
      throw new PoolError("INVALID_ARGUMENT", "preallocate.idleGraceSeconds: must be >= 0");
    }
  }

  // --- blocks ------------------------------------------------------------------

  /**
   * Takes a block leased by L1. Adding a block already held is a no-op (returns false).
   * Clears the in-flight mark of its subnet and of its purpose/family.
   * @throws PoolError `INVALID_ARGUMENT` (another node's lease, block outside its subnet),
   * `CONFLICT` (overlaps a held block of another CIDR).
   */
  addBlock(lease: BlockLease): boolean {
    if (lease.node !== this.node) {
      throw new PoolError("INVALID_ARGUMENT", `lease.node: ${lease.node} is not ${this.node}`, {
        details: { node: lease.node },
      });
    }
    const cidr = parseBlockCidr(lease.cidr);
    if (this.#blocks.has(cidr.toString())) return false;
    const subnet = lease.subnet;
    const subnetCidr = Cidr.parse(subnet.cidr);
    if (!subnetCidr.contains(cidr) || cidr.prefix !== subnet.blockPrefix) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `lease.cidr: ${cidr} is not a /${subnet.blockPrefix} block of ${subnet.cidr}`,
        { details: { cidr: cidr.toString(), subnet: subnet.id } },
      );
    }
    for (const other of this.#blocks.values()) {
      if (other.block.cidr.overlaps(cidr)) {
        throw new PoolError(
          "CONFLICT",
          `lease.cidr: ${cidr} overlaps held block ${other.block.cidr}`,
          {
            details: { cidr: cidr.toString(), held: other.block.cidr.toString() },
          },
        );
      }
    }
    let held = this.#subnets.get(subnet.id);
    if (held === undefined) {
      held = {
        subnet,
        rank: SCOPE_RANK[subnet.scope.kind],
        prefixLength: subnetCidr.prefix,
        gateway: subnet.gateway === "none" ? null : subnet.gateway,
        cooldownMs: subnet.cooldownSeconds * 1000,
        blocks: [],
        hint: 0,
      };
      this.#subnets.set(subnet.id, held);
      let group = this.#groups.get(subnet.purpose);
      if (group === undefined) {
        group = [[], []];
        this.#groups.set(subnet.purpose, group);
      }
      const list = group[subnet.family === 4 ? 0 : 1];
      list.push(held);
      list.sort(compareHeld);
    }
    const block = ipBlockFor(subnet, cidr);
    const entry: HeldBlock = {
      lease,
      block,
      held,
      start4: cidr.family === 4 ? Number(cidr.start) : 0,
      live: 0,
      emptySince: lease.leasedAt,
      closed: isClosed(lease.state),
    };
    held.blocks.push(entry);
    held.blocks.sort((a, b) => Cidr.compare(a.block.cidr, b.block.cidr));
    this.#blocks.set(cidr.toString(), entry);
    this.#inFlight.delete(subnet.id);
    this.#inFlight.delete(`${subnet.purpose}/${subnet.family}`);
    this.#starved.delete(`${subnet.purpose}/${subnet.family}`);
    return true;
  }

  /**
   * Gives a block back (after L1 released it). Cooling addresses are dropped with it.
   * @throws PoolError `NOT_FOUND` (not held), `CONFLICT` (an allocation still uses it).
   */
  removeBlock(cidrText: string): void {
    const cidr = parseBlockCidr(cidrText).toString();
    const entry = this.#blocks.get(cidr);
    if (entry === undefined) {
      throw new PoolError("NOT_FOUND", `block ${cidr} is not held by ${this.node}`, {
        details: { cidr },
      });
    }
    this.#expire(Number.POSITIVE_INFINITY, entry);
    const used = entry.block.allocatedCount();
    if (used > 0) {
      throw new PoolError("CONFLICT", `block ${cidr} still holds ${used} allocation(s)`, {
        details: { cidr, allocated: used },
      });
    }
    const held = entry.held;
    held.blocks.splice(held.blocks.indexOf(entry), 1);
    held.hint = 0;
    this.#blocks.delete(cidr);
    if (held.blocks.length === 0) {
      this.#subnets.delete(held.subnet.id);
      const group = this.#groups.get(held.subnet.purpose);
      if (group !== undefined) {
        const list = group[held.subnet.family === 4 ? 0 : 1];
        list.splice(list.indexOf(held), 1);
      }
    }
  }

  /**
   * Applies a changed subnet (gateway, reserved ranges including run-time reservations,
   * cool-down, priority; same id, CIDR and block prefix) to the blocks held from it, e.g. after
   * a `reserve` command: re-read `ClusterState.nodeLeases` and pass each distinct `lease.subnet`.
   * Allocations are kept; a cooling address that becomes reserved stays reserved. Returns the
   * number of blocks updated (0 when none is held from that subnet).
   * @throws PoolError `INVALID_ARGUMENT` (CIDR, family or block prefix changed), `CONFLICT` (an
   * allocated address would become reserved); nothing changes then.
   */
  updateSubnet(subnet: Subnet): number {
    const held = this.#subnets.get(subnet.id);
    if (held === undefined) return 0;
    const before = held.subnet;
    if (
      before.cidr !== subnet.cidr ||
      before.family !== subnet.family ||
      before.blockPrefix !== subnet.blockPrefix ||
      before.purpose !== subnet.purpose
    ) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `subnet ${subnet.id}: cidr, family, blockPrefix and purpose cannot change`,
        {
          details: { subnet: subnet.id },
        },
      );
    }
    const cooling = new Set<string>();
    for (let i = this.#coolHead; i < this.#coolBlocks.length; i++) {
      if ((this.#coolBlocks[i] as HeldBlock).held === held)
        cooling.add(`${(this.#coolBlocks[i] as HeldBlock).lease.cidr}/${this.#coolOffsets[i]}`);
    }
    const replacements: IpBlock[] = [];
    for (const b of held.blocks) {
      const next = ipBlockFor(subnet, b.block.cidr);
      let conflict: number | undefined;
      b.block.forEachAllocatedOffset((offset) => {
        if (next.stateOfOffset(offset) === "reserved") {
          if (!cooling.has(`${b.lease.cidr}/${offset}`)) conflict ??= offset;
        } else next.claimOffset(offset);
      });
      if (conflict !== undefined) {
        const address = formatIp(b.block.addressAt(conflict));
        throw new PoolError("CONFLICT", `${address} is allocated and cannot become reserved`, {
          details: { subnet: subnet.id, address },
        });
      }
      next.cursor = b.block.cursor;
      replacements.push(next);
    }
    held.blocks.forEach((b, i) => {
      b.block = replacements[i] as IpBlock;
      b.lease = { ...b.lease, subnet };
    });
    held.subnet = subnet;
    held.rank = SCOPE_RANK[subnet.scope.kind];
    held.gateway = subnet.gateway === "none" ? null : subnet.gateway;
    held.cooldownMs = subnet.cooldownSeconds * 1000;
    const group = this.#groups.get(subnet.purpose)?.[subnet.family === 4 ? 0 : 1];
    group?.sort(compareHeld);
    return held.blocks.length;
  }

  /**
   * Records a held block's life-cycle state as the cluster state reports it: a `draining` or
   * `revoked` block hands out no new address from now on (what it holds stays), and goes back
   * through {@link idleBlocks} as soon as nothing in it is held or cooling down; `leased` opens
   * it again. Returns false (and changes nothing) when the block is not held.
   */
  setBlockState(cidrText: string, state: BlockState): boolean {
    const entry = this.#blocks.get(parseBlockCidr(cidrText).toString());
    if (entry === undefined) return false;
    entry.lease = { ...entry.lease, state };
    entry.closed = isClosed(state);
    if (entry.closed && this.#taken === entry) this.#taken = undefined;
    return true;
  }

  /** The leases held, sorted by subnet id then block. A fresh array owned by the caller. */
  blocks(): BlockLease[] {
    return [...this.#blocks.values()]
      .sort((a, b) =>
        a.held.subnet.id === b.held.subnet.id
          ? Cidr.compare(a.block.cidr, b.block.cidr)
          : a.held.subnet.id < b.held.subnet.id
            ? -1
            : 1,
      )
      .map((b) => b.lease);
  }

  // --- allocations -------------------------------------------------------------

  /**
   * Allocates one address per family for `key`, or returns what the key already holds. With
   * `addresses`, claims exactly those (static addresses) and allocates the other families.
   * @throws PoolError `POOL_EXHAUSTED` (no free address in the held blocks of that purpose and
   * family: lease a block and retry; `details` names purpose and family), `NOT_FOUND` (a static
   * address in no held block, `details.reason` `"not-held"`: lease the block containing it and
   * retry), `CONFLICT` (the key holds addresses of another purpose or other than the static
   * ones asked for; a static address held by another key, named, or cooling down, until when),
   * `INVALID_ARGUMENT` (bad families; a static address that is malformed, of a family not
   * requested, a second one of a family, of another purpose's subnet, or reserved; each with
   * `details.field` `"addresses"`).
   */
  allocate(request: AllocateRequest): AllocateResult {
    const key = keyString(request.key);
    const purpose = request.purpose ?? "default";
    const found = this.#entries.get(key);
    if (found !== undefined) {
      if (found.record.purpose !== purpose) {
        throw new PoolError(
          "CONFLICT",
          `key ${request.key.containerId}/${request.key.ifname} holds ${found.record.purpose} addresses, not ${purpose}`,
          { details: { purpose: found.record.purpose } },
        );
      }
      if (request.addresses !== undefined) sameStatic(request.key, found.record, request.addresses);
      return { record: found.record, addresses: found.record.addresses, existing: true };
    }
    const families = request.families ?? FAMILY_4;
    if (families.length === 0 || families.length > 2 || families[0] === families[1]) {
      throw new PoolError("INVALID_ARGUMENT", "families: must be [4], [6], [4, 6] or [6, 4]");
    }
    const statics = staticByFamily(request.addresses, families);
    const now = request.now;
    if (
      this.#coolHead < this.#coolUntil.length &&
      (this.#coolUntil[this.#coolHead] as number) <= now
    ) {
      this.#expire(now, undefined);
    }
    const group = this.#groups.get(purpose);
    const addresses: AllocatedAddress[] = [];
    const blocks: HeldBlock[] = [];
    const offsets: number[] = [];
    const claimed: boolean[] = [];
    for (const family of families) {
      if (family !== 4 && family !== 6) {
        this.#rollback(blocks, offsets, claimed);
        throw new PoolError("INVALID_ARGUMENT", `families: ${String(family)} is not 4 or 6`);
      }
      const wanted = statics.get(family);
      let offset: number;
      if (wanted !== undefined) {
        try {
          offset = this.#claimStatic(wanted, purpose);
        } catch (error) {
          this.#rollback(blocks, offsets, claimed);
          throw error;
        }
      } else {
        const list = group?.[family === 4 ? 0 : 1];
        offset = list === undefined ? -1 : this.#take(list);
        if (offset < 0) {
          this.#rollback(blocks, offsets, claimed);
          this.#starved.set(`${purpose}/${family}`, { purpose, family });
          throw new PoolError(
            "POOL_EXHAUSTED",
            `node ${this.node} has no free IPv${family} ${purpose} address in its blocks`,
            { details: { node: this.node, purpose, family, heldBlocks: countBlocks(list) } },
          );
        }
      }
      const entry = this.#taken as HeldBlock;
      blocks.push(entry);
      offsets.push(offset);
      claimed.push(wanted !== undefined);
      const held = entry.held;
      addresses.push({
        address:
          family === 4 ? formatV4(entry.start4 + offset) : formatIp(entry.block.addressAt(offset)),
        family,
        prefixLength: held.prefixLength,
        gateway: held.gateway,
        subnet: held.subnet.id,
        block: entry.lease.cidr,
      });
    }
    const record: AllocationRecord = { key: request.key, purpose, addresses, createdAt: now };
    this.#entries.set(key, { record, blocks, offsets });
    return { record, addresses, existing: false };
  }

  /** Next free address (offset) of the first subnet in `list` with room, or -1; its block is left in `#taken`. */
  #take(list: readonly HeldSubnet[]): number {
    for (let s = 0; s < list.length; s++) {
      const held = list[s] as HeldSubnet;
      const n = held.blocks.length;
      for (let i = 0; i < n; i++) {
        const at = (held.hint + i) % n;
        const entry = held.blocks[at] as HeldBlock;
        if (entry.closed) continue;
        const offset = entry.block.allocateOffset();
        if (offset >= 0) {
          held.hint = at;
          entry.live++;
          entry.emptySince = undefined;
          this.#taken = entry;
          return offset;
        }
      }
    }
    return -1;
  }

  /**
   * Undoes a partial dual-stack allocation at once (no cool-down: it was never handed out). A
   * next-fit address puts its block's cursor back; a claimed (static) one never moved it.
   */
  #rollback(blocks: HeldBlock[], offsets: number[], claimed: readonly boolean[] = []): void {
    for (let i = 0; i < blocks.length; i++) {
      const entry = blocks[i] as HeldBlock;
      const offset = offsets[i] as number;
      entry.block.releaseOffset(offset);
      if (claimed[i] !== true) entry.block.cursor = offset;
      entry.live--;
    }
  }

  /**
   * Claims the static address `ip` for a `purpose` allocation: its offset, its block left in
   * `#taken`. Changes nothing when it throws (see {@link allocate} for the errors).
   */
  #claimStatic(ip: Ip, purpose: string): number {
    const address = formatIp(ip);
    const found = this.#locateIp(ip);
    if (found === undefined) {
      throw new PoolError(
        "NOT_FOUND",
        `node ${this.node} holds no block containing ${address}: lease the block that contains it`,
        { details: { address, family: ip.family, purpose, reason: "not-held" } },
      );
    }
    const [entry, offset] = found;
    const subnet = entry.held.subnet;
    if (subnet.purpose !== purpose) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `addresses: ${address} is a ${subnet.purpose} address (subnet ${subnet.id}), not ${purpose}`,
        { details: { field: "addresses", address, subnet: subnet.id, purpose: subnet.purpose } },
      );
    }
    const state = entry.block.stateOfOffset(offset);
    if (state === "reserved") {
      const reason = reservedReason(subnet, ip) ?? `reserved in ${subnet.id}`;
      throw new PoolError("INVALID_ARGUMENT", `${address} is ${reason}: it is never handed out`, {
        details: { field: "addresses", address, subnet: subnet.id },
      });
    }
    if (state === "allocated") {
      const holder = this.#holderOf(entry, offset);
      if (holder !== undefined) {
        const who = `${holder.network}/${holder.containerId}/${holder.ifname}`;
        throw new PoolError("CONFLICT", `${address} is held by ${who}`, {
          details: { address, holder: who },
        });
      }
      const until = this.#coolingUntil(entry, offset);
      const when = until === undefined ? "its cool-down ends" : new Date(until).toISOString();
      throw new PoolError("CONFLICT", `${address} was released and is cooling down until ${when}`, {
        details: { address, ...(until === undefined ? {} : { coolingUntil: until }) },
      });
    }
    entry.block.claimOffset(offset);
    entry.live++;
    entry.emptySince = undefined;
    this.#taken = entry;
    return offset;
  }

  /** The key holding `offset` of `block`, if any (a scan: for error messages only). */
  #holderOf(block: HeldBlock, offset: number): AllocationKey | undefined {
    for (const e of this.#entries.values()) {
      for (let i = 0; i < e.blocks.length; i++) {
        if (e.blocks[i] === block && e.offsets[i] === offset) return e.record.key;
      }
    }
    return undefined;
  }

  /** When the released `offset` of `block` leaves its cool-down (ms), if it is cooling. */
  #coolingUntil(block: HeldBlock, offset: number): number | undefined {
    let until: number | undefined;
    for (let i = this.#coolHead; i < this.#coolBlocks.length; i++) {
      if (this.#coolBlocks[i] === block && this.#coolOffsets[i] === offset)
        until = this.#coolUntil[i];
    }
    return until;
  }

  /**
   * Releases what `key` holds. An unknown key succeeds (returns undefined). The addresses cool
   * down for their subnet's `cooldownSeconds` from `now` before they can be handed out again.
   * @returns the released record, or undefined.
   */
  release(key: AllocationKey, now: number): AllocationRecord | undefined {
    const k = keyString(key);
    const entry = this.#entries.get(k);
    if (entry === undefined) return undefined;
    this.#entries.delete(k);
    for (let i = 0; i < entry.blocks.length; i++) {
      const block = entry.blocks[i] as HeldBlock;
      const offset = entry.offsets[i] as number;
      const cooldown = block.held.cooldownMs;
      if (cooldown > 0) {
        this.#coolBlocks.push(block);
        this.#coolOffsets.push(offset);
        this.#coolUntil.push(now + cooldown);
      } else {
        block.block.releaseOffset(offset);
        if (--block.live === 0) block.emptySince = now;
      }
    }
    return entry.record;
  }

  /**
   * When each address of `record` may be handed out again if it is released at `now`: one entry
   * per address whose subnet has a cool-down (none for a subnet this node does not hold).
   */
  coolingFor(record: AllocationRecord, now: number): CoolingAddress[] {
    const out: CoolingAddress[] = [];
    for (const a of record.addresses) {
      const cooldown = this.#subnets.get(a.subnet)?.cooldownMs ?? 0;
      if (cooldown > 0) out.push({ address: a.address, until: now + cooldown });
    }
    return out;
  }

  /**
   * Frees cooled-down addresses whose time has come (all of `only`'s when given, whatever the
   * time). Entries are processed in release order.
   */
  #expire(now: number, only: HeldBlock | undefined): void {
    if (only !== undefined) {
      for (let i = this.#coolHead; i < this.#coolBlocks.length; i++) {
        if (this.#coolBlocks[i] !== only) continue;
        const offset = this.#coolOffsets[i] as number;
        if (only.block.isAllocatedOffset(offset)) only.block.releaseOffset(offset);
        only.live--;
        this.#coolUntil.splice(i, 1);
        this.#coolOffsets.splice(i, 1);
        this.#coolBlocks.splice(i, 1);
        i--;
      }
      return;
    }
    let head = this.#coolHead;
    const until = this.#coolUntil;
    while (head < until.length && (until[head] as number) <= now) {
      const block = this.#coolBlocks[head] as HeldBlock;
      const offset = this.#coolOffsets[head] as number;
      // An address reserved (updateSubnet) while it cooled down stays reserved.
      if (block.block.isAllocatedOffset(offset)) block.block.releaseOffset(offset);
      if (--block.live === 0) block.emptySince = until[head] as number;
      head++;
    }
    if (head === until.length) {
      this.#coolBlocks.length = 0;
      this.#coolOffsets.length = 0;
      until.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > until.length) {
      this.#coolBlocks.splice(0, head);
      this.#coolOffsets.splice(0, head);
      until.splice(0, head);
      head = 0;
    }
    this.#coolHead = head;
  }

  /** The record of `key`, or undefined. */
  get(key: AllocationKey): AllocationRecord | undefined {
    return this.#entries.get(keyString(key))?.record;
  }

  /** Every key holding addresses, sorted by network, container id, ifname. Caller-owned. */
  listKeys(): AllocationKey[] {
    return [...this.#entries.keys()]
      .sort()
      .map((k) => this.#entries.get(k)?.record.key as AllocationKey);
  }

  /** Every record, sorted by key. Caller-owned array. */
  records(): AllocationRecord[] {
    return [...this.#entries.keys()]
      .sort()
      .map((k) => this.#entries.get(k)?.record as AllocationRecord);
  }

  /**
   * CNI GC: releases every record of `network` whose (containerId, ifname) is not in
   * `validKeys` (`cni.dev/valid-attachments`). Returns the released records sorted by key.
   */
  gc(
    network: string,
    validKeys: Iterable<Pick<AllocationKey, "containerId" | "ifname">>,
    now: number,
  ): AllocationRecord[] {
    const keep = new Set<string>();
    for (const k of validKeys)
      keep.add(keyString({ network, containerId: k.containerId, ifname: k.ifname }));
    const released: AllocationRecord[] = [];
    for (const k of [...this.#entries.keys()].sort()) {
      const entry = this.#entries.get(k) as Entry;
      if (entry.record.key.network !== network || keep.has(k)) continue;
      this.release(entry.record.key, now);
      released.push(entry.record);
    }
    return released;
  }

  // --- pre-allocation ----------------------------------------------------------

  /**
   * Blocks to lease now (DESIGN §5 rule 4), sorted by request key, skipping requests already
   * in flight: a held subnet whose free addresses are below `thresholdRatio` of its capacity
   * on this node (unless it already has `maxSpareBlocks` empty blocks), and every purpose+family
   * whose last allocation failed with `POOL_EXHAUSTED`. Call {@link markRequested} when
   * proposing the lease and {@link markFulfilled} when it fails (a lease that arrives through
   * {@link addBlock} clears the mark itself).
   */
  needs(now: number): LeaseRequest[] {
    this.#expire(now, undefined);
    const out: LeaseRequest[] = [];
    for (const held of this.#subnets.values()) {
      if (this.#inFlight.has(held.subnet.id)) continue;
      let capacity = 0;
      let free = 0;
      let empty = 0;
      let open = 0;
      for (const b of held.blocks) {
        if (b.closed) continue;
        open++;
        capacity += b.block.capacity();
        free += b.block.free();
        if (b.live === 0) empty++;
      }
      // A subnet whose every held block is closed (draining, revoked) is not leased from
      // again; a starved purpose asks L1 for any subnet instead (below).
      if (open === 0) continue;
      const starved = this.#starved.has(`${held.subnet.purpose}/${held.subnet.family}`);
      if (
        (free < this.#thresholdRatio * capacity && empty < this.#maxSpareBlocks) ||
        (starved && free === 0)
      ) {
        out.push({
          requestKey: held.subnet.id,
          subnetId: held.subnet.id,
          purpose: held.subnet.purpose,
          family: held.subnet.family,
          reason: free === 0 ? "exhausted" : "low",
        });
      }
    }
    for (const [requestKey, s] of this.#starved) {
      const list = this.#groups.get(s.purpose)?.[s.family === 4 ? 0 : 1];
      const anyOpen = list?.some((h) => h.blocks.some((b) => !b.closed)) === true;
      if (!anyOpen && !this.#inFlight.has(requestKey)) {
        out.push({ requestKey, purpose: s.purpose, family: s.family, reason: "exhausted" });
      }
    }
    return out.sort((a, b) =>
      a.requestKey < b.requestKey ? -1 : a.requestKey > b.requestKey ? 1 : 0,
    );
  }

  /** Marks a lease request as in flight (no further request for it until fulfilled). */
  markRequested(requestKey: string): void {
    this.#inFlight.add(requestKey);
  }

  /**
   * Clears the in-flight mark (the lease failed or was answered without a block). A failed
   * `exhausted` request for a purpose/family is forgotten too, so it is not retried in a loop.
   */
  markFulfilled(requestKey: string): void {
    this.#inFlight.delete(requestKey);
    this.#starved.delete(requestKey);
  }

  /**
   * Blocks that may go back to L1 at `now`: every closed (draining or revoked, see
   * {@link setBlockState}) block with no allocation and nothing cooling, a subnet's last block
   * included; and open blocks empty for at least `idleGraceSeconds`, never a subnet's last open
   * block. Sorted by subnet id then block; the caller proposes `release-block` then calls
   * {@link removeBlock}.
   */
  idleBlocks(now: number): BlockLease[] {
    this.#expire(now, undefined);
    const out: BlockLease[] = [];
    const subnets = [...this.#subnets.values()].sort((a, b) =>
      a.subnet.id < b.subnet.id ? -1 : 1,
    );
    for (const held of subnets) {
      const picked = new Set<HeldBlock>();
      let keep = 0;
      for (const b of held.blocks) {
        if (!b.closed) keep++;
        else if (b.live === 0) picked.add(b);
      }
      for (const b of held.blocks) {
        if (keep <= 1) break;
        if (b.closed) continue;
        if (b.live === 0 && b.emptySince !== undefined && now - b.emptySince >= this.#idleGraceMs) {
          picked.add(b);
          keep--;
        }
      }
      for (const b of held.blocks) if (picked.has(b)) out.push(b.lease);
    }
    return out;
  }

  /**
   * Per held block (sorted like {@link blocks}): its lease (with the state last set), its
   * capacity, the addresses held by keys and those still cooling down at `now` (exact: a block
   * holds at most 2^24 addresses). What a node reports to the
   * cluster so that a drain or a removal can say what is still held.
   */
  blockUsage(now: number): BlockUsage[] {
    this.#expire(now, undefined);
    const cooling = new Map<HeldBlock, number>();
    for (let i = this.#coolHead; i < this.#coolBlocks.length; i++) {
      const b = this.#coolBlocks[i] as HeldBlock;
      cooling.set(b, (cooling.get(b) ?? 0) + 1);
    }
    return this.blocks().map((lease) => {
      const b = this.#blocks.get(lease.cidr) as HeldBlock;
      const c = cooling.get(b) ?? 0;
      return { lease, capacity: b.block.capacity(), held: b.live - c, cooling: c };
    });
  }

  /** Per held subnet: blocks, capacity, allocated, cooling, free. Sorted by subnet id. */
  usage(now: number): NodeSubnetUsage[] {
    this.#expire(now, undefined);
    const cooling = new Map<HeldSubnet, number>();
    for (let i = this.#coolHead; i < this.#coolBlocks.length; i++) {
      const held = (this.#coolBlocks[i] as HeldBlock).held;
      cooling.set(held, (cooling.get(held) ?? 0) + 1);
    }
    return [...this.#subnets.values()]
      .sort((a, b) => (a.subnet.id < b.subnet.id ? -1 : 1))
      .map((held) => {
        let capacity = 0;
        let free = 0;
        for (const b of held.blocks) {
          capacity += b.block.capacity();
          free += b.block.free();
        }
        const c = cooling.get(held) ?? 0;
        return {
          subnet: held.subnet.id,
          purpose: held.subnet.purpose,
          family: held.subnet.family,
          scope: held.subnet.scope,
          blocks: held.blocks.length,
          capacity,
          allocated: capacity - free - c,
          cooling: c,
          free,
        };
      });
  }

  // --- restart -------------------------------------------------------------------

  /**
   * Replaces all state with `leases` and the allocation `records` ipamd persisted (what it does
   * at restart). Every restored key holds exactly its recorded addresses; each block's next-fit
   * cursor resumes after its most recently created record. Records whose addresses are not
   * inside a given lease (or collide) are skipped and reported in `orphaned`, with nothing of
   * them claimed. `cooling` (what {@link coolingFor} gave at release time and ipamd persisted)
   * puts released addresses back into cool-down until their time; an entry outside the held
   * blocks or on an address a record holds is ignored, and one whose time has passed is freed
   * at the next allocation. In-flight marks start empty.
   * @throws PoolError as {@link addBlock} for a bad lease (state is then empty).
   */
  rebuild(
    records: Iterable<AllocationRecord>,
    leases: Iterable<BlockLease>,
    cooling: Iterable<CoolingAddress> = [],
  ): RebuildReport {
    this.#entries.clear();
    this.#groups.clear();
    this.#subnets.clear();
    this.#blocks.clear();
    this.#coolBlocks = [];
    this.#coolOffsets = [];
    this.#coolUntil = [];
    this.#coolHead = 0;
    this.#inFlight.clear();
    this.#starved.clear();
    for (const lease of leases) this.addBlock(lease);
    const ordered = [...records].sort((a, b) => a.createdAt - b.createdAt);
    const orphaned: AllocationRecord[] = [];
    let restored = 0;
    for (const record of ordered) {
      const blocks: HeldBlock[] = [];
      const offsets: number[] = [];
      let ok = !this.#entries.has(keyString(record.key));
      for (const a of ok ? record.addresses : []) {
        const found = this.#claim(a.address);
        if (found === undefined) {
          ok = false;
          break;
        }
        blocks.push(found[0]);
        offsets.push(found[1]);
      }
      if (!ok) {
        this.#rollback(blocks, offsets);
        orphaned.push(record);
        continue;
      }
      for (let i = 0; i < blocks.length; i++) {
        (blocks[i] as HeldBlock).block.cursor = (offsets[i] as number) + 1;
      }
      this.#entries.set(keyString(record.key), { record, blocks, offsets });
      restored++;
    }
    let cooled = 0;
    // The FIFO must stay ordered by time: #expire frees from its head.
    for (const c of [...cooling].sort((a, b) => a.until - b.until)) {
      const found = this.#claim(c.address);
      if (found === undefined) continue;
      this.#coolBlocks.push(found[0]);
      this.#coolOffsets.push(found[1]);
      this.#coolUntil.push(c.until);
      cooled++;
    }
    for (const b of this.#blocks.values()) if (b.live === 0) b.emptySince = b.lease.leasedAt;
    return { restored, orphaned, cooling: cooled };
  }

  /**
   * Marks `address` used in its held block (rebuild): the block and offset, or undefined when
   * no held block contains it, it is already used, or it is reserved.
   */
  #claim(address: string): [HeldBlock, number] | undefined {
    const found = this.#locate(address);
    if (found === undefined || found[0].block.isAllocatedOffset(found[1])) return undefined;
    try {
      found[0].block.claimOffset(found[1]);
    } catch {
      return undefined; // reserved
    }
    found[0].live++;
    found[0].emptySince = undefined;
    return found;
  }

  /** The held block containing `address` and its offset, or undefined. */
  #locate(address: string): [HeldBlock, number] | undefined {
    return this.#locateIp(parseIp(address));
  }

  /** The held block containing `ip` and its offset, or undefined. */
  #locateIp(ip: Ip): [HeldBlock, number] | undefined {
    for (const b of this.#blocks.values()) {
      if (b.block.cidr.contains(ip)) return [b, b.block.offsetOf(ip)];
    }
    return undefined;
  }
}

function countBlocks(list: readonly HeldSubnet[] | undefined): number {
  let n = 0;
  for (const held of list ?? []) n += held.blocks.length;
  return n;
}

function parseBlockCidr(text: string): Cidr {
  const cidr = Cidr.tryParse(text);
  if (cidr === undefined) {
    throw new PoolError("INVALID_ARGUMENT", `cidr: ${text} is not a valid CIDR`, {
      details: { cidr: text },
    });
  }
  return cidr;
}

/**
 * The static addresses of a request by family, canonical. @throws PoolError `INVALID_ARGUMENT`
 * (`details.field` `"addresses"`) for one that is not an address, of a family not requested,
 * or a second one of a family.
 */
function staticByFamily(
  addresses: readonly string[] | undefined,
  families: readonly Family[],
): Map<Family, Ip> {
  const out = new Map<Family, Ip>();
  (addresses ?? []).forEach((text, i) => {
    const field = `addresses[${i}]`;
    const ip = typeof text === "string" ? tryParseIp(text) : undefined;
    if (ip === undefined) {
      throw new PoolError("INVALID_ARGUMENT", `${field}: ${String(text)} is not an IP address`, {
        details: { field: "addresses", address: String(text) },
      });
    }
    if (!families.includes(ip.family)) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `${field}: ${formatIp(ip)} is IPv${ip.family}, a family not requested (families: ${families.map((f) => `IPv${f}`).join(", ")})`,
        { details: { field: "addresses", address: formatIp(ip) } },
      );
    }
    const before = out.get(ip.family);
    if (before !== undefined && formatIp(before) !== formatIp(ip)) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `${field}: ${formatIp(ip)} is a second IPv${ip.family} address (already ${formatIp(before)}); one per family`,
        { details: { field: "addresses", address: formatIp(ip) } },
      );
    }
    out.set(ip.family, ip);
  });
  return out;
}

/**
 * Checks that a key's existing record holds every static address asked for again (a retried
 * ADD). @throws PoolError `CONFLICT` naming what it holds and what was asked, or
 * `INVALID_ARGUMENT` for a malformed address.
 */
function sameStatic(key: AllocationKey, record: AllocationRecord, asked: readonly string[]): void {
  const held = new Set(record.addresses.map((a) => a.address));
  const wanted = asked.map((text, i) => {
    const ip = typeof text === "string" ? tryParseIp(text) : undefined;
    if (ip === undefined) {
      throw new PoolError(
        "INVALID_ARGUMENT",
        `addresses[${i}]: ${String(text)} is not an IP address`,
        { details: { field: "addresses", address: String(text) } },
      );
    }
    return formatIp(ip);
  });
  const missing = wanted.filter((a) => !held.has(a));
  if (missing.length === 0) return;
  const holds = record.addresses.map((a) => a.address).join(", ");
  throw new PoolError(
    "CONFLICT",
    `key ${key.network}/${key.containerId}/${key.ifname} holds ${holds}, not ${missing.join(", ")}: release it first to change its address`,
    { details: { held: record.addresses.map((a) => a.address), requested: wanted } },
  );
}
