import { Cidr, formatIp, tryParseIp } from "@ipam/bitmap";
import type { AddressInterval, SubnetStrategy } from "@ipam/topology";
import { BlockIndex } from "./block-index.js";
import type { BlockLease, BlockState } from "./block-lease.js";
import type { Candidates } from "./candidates.js";
import {
  byString,
  fail,
  optionalOrder,
  optionalRequestId,
  optionalStrategy,
  requireFamily,
  requireString,
} from "./command-args.js";
import type { ClaimBlockCommand, LeaseBlockCommand, ReleaseBlockCommand } from "./commands.js";
import type { Registry } from "./registry.js";
import type { Reservations } from "./reservations.js";
import { reservedReason } from "./reserved-reason.js";
import type { SubnetState, SubnetTable } from "./subnet-table.js";
import type { UndoJournal } from "./undo-journal.js";

/** Who holds a leased block. */
export interface BlockOwner {
  readonly node: string;
  readonly leasedAt: number;
  /** The lease-block command's `requestId`, when it carried one (idempotent retries). */
  readonly requestId?: string;
  /**
   * Set once the block is revoked (forced removal of its subnet or node): the `at` of that
   * command. A revoked block stays leased to its holder until the holder returns it or is
   * declared dead; nobody else can lease it meanwhile.
   */
  readonly revokedAt?: number;
}

/**
 * The blocks of block-mode subnets leased to nodes (DESIGN §3): per subnet a sparse
 * {@link BlockIndex} of leased block indexes with their owners, and per node its block
 * indexes per subnet (sorted, for adjacency). Every mutation is recorded in the journal.
 *
 * Block choice: in each candidate subnet, the lowest free block adjacent to one of the node's
 * blocks there (so routes aggregate), else the lowest free block; blocks entirely inside
 * reserved ranges are skipped.
 */
export class BlockLeases {
  readonly #journal: UndoJournal;
  readonly #registry: Registry;
  readonly #subnets: SubnetTable;
  readonly #reservations: Reservations;
  readonly #candidates: Candidates;
  /** subnet id → its leased blocks (block-mode subnets only). */
  readonly #bySubnet = new Map<string, BlockIndex<BlockOwner>>();
  /** node → subnet id → sorted leased block indexes. */
  readonly #byNode = new Map<string, Map<string, bigint[]>>();

  constructor(
    journal: UndoJournal,
    registry: Registry,
    subnets: SubnetTable,
    reservations: Reservations,
    candidates: Candidates,
  ) {
    this.#journal = journal;
    this.#registry = registry;
    this.#subnets = subnets;
    this.#reservations = reservations;
    this.#candidates = candidates;
  }

  // --- subnets -------------------------------------------------------------------------

  /**
   * Starts tracking a fresh subnet state with no leased block, replacing what was tracked
   * under its id (nothing is tracked for a direct-mode subnet).
   */
  addSubnet(st: SubnetState): void {
    if (st.direct) this.#journal.delete(this.#bySubnet, st.subnet.id);
    else this.#journal.set(this.#bySubnet, st.subnet.id, new BlockIndex(st.geometry.blockCount));
  }

  /** Releases every block of a subnet and stops tracking it; returns how many were leased. */
  removeSubnet(st: SubnetState): number {
    const blocks = this.#bySubnet.get(st.subnet.id);
    if (blocks === undefined) return 0;
    const indexes: bigint[] = [];
    blocks.forEach((i) => {
      indexes.push(i);
    });
    for (const i of indexes) this.#release(st, i);
    this.#journal.delete(this.#bySubnet, st.subnet.id);
    return indexes.length;
  }

  /** Number of blocks leased in a subnet (0 for a direct-mode or unknown one). */
  leasedCount(subnetId: string): number {
    return this.#bySubnet.get(subnetId)?.size ?? 0;
  }

  // --- commands ------------------------------------------------------------------------

  /** The lease-block command (see {@link LeaseBlockCommand}). */
  leaseBlock(c: LeaseBlockCommand): BlockLease {
    const node = this.#registry.requireNode(c.node, "lease-block.node");
    const requestId = optionalRequestId(c.requestId);
    if (c.address !== undefined) return this.#leaseContaining(node.id, c, requestId);
    if (requestId !== undefined) {
      // A retry (after a lost answer or a leader change) gets the block the first try leased,
      // in whatever state it is now (the holder must not allocate from a revoked one).
      const earlier = this.#leaseByRequest(node.id, requestId);
      if (earlier !== undefined) return earlier;
    }
    this.#registry.requireActiveNode(node.id, "lease-block.node");
    let candidates: SubnetState[];
    let strategy: SubnetStrategy | undefined;
    if (c.subnet !== undefined) {
      const st = this.#subnets.require(c.subnet, "lease-block.subnet");
      if (st.direct)
        fail(
          "INVALID_ARGUMENT",
          `lease-block.subnet: ${st.subnet.id} is direct-mode (use allocate-direct)`,
        );
      if (!this.#candidates.reachable(node.id, st))
        fail(
          "INVALID_ARGUMENT",
          `lease-block.subnet: ${st.subnet.id} is not reachable from node ${node.id}`,
        );
      if (st.draining) {
        fail(
          "DRAINING",
          `subnet ${st.subnet.id} is ${st.removing ? "being removed" : "draining"}`,
          { subnet: st.subnet.id },
        );
      }
      candidates = [st];
    } else {
      const purpose = requireString(c.purpose, "lease-block.purpose");
      const family = requireFamily(c.family, "lease-block.family");
      strategy = optionalStrategy(c.strategy, "lease-block.strategy");
      candidates = this.#candidates.open(node.id, purpose, family, strategy, false);
      if (optionalOrder(c.order) === "least-used") candidates = this.#leastUsedFirst(candidates);
    }
    for (const st of candidates) {
      const index = this.#pick(st, node.id);
      if (index < 0n) continue;
      this.lease(st, index, {
        node: node.id,
        leasedAt: c.at,
        ...(requestId === undefined ? {} : { requestId }),
      });
      return this.#view(st, node.id, index, this.#owner(st, index));
    }
    const purpose = candidates[0]?.subnet.purpose ?? "";
    return fail(
      "POOL_EXHAUSTED",
      `no free block for node ${node.id} in ${candidates.map((s) => s.subnet.id).join(", ")}${c.subnet === undefined ? ` (${this.#candidates.exhaustedNote(purpose, strategy)})` : ""}`,
      {
        node: node.id,
        subnets: candidates.map((s) => s.subnet.id),
        ...(c.subnet === undefined
          ? { strategy: this.#candidates.strategy(purpose, strategy) }
          : {}),
      },
    );
  }

  /**
   * The release-block command's change (lifecycle.ts completes it): `CONFLICT` for another
   * node's block, `NOT_FOUND` for a free one. Returns the block and the subnet it was in.
   */
  releaseBlock(c: ReleaseBlockCommand): { node: string; cidr: string; subnet: string } {
    const node = requireString(c.node, "release-block.node");
    const cidr = Cidr.tryParse(requireString(c.cidr, "release-block.cidr"));
    if (cidr === undefined)
      fail("INVALID_ARGUMENT", `release-block.cidr: ${c.cidr} is not a valid CIDR`);
    // Subnets never overlap, so at most one subnet holds the block and the search order does
    // not matter: the node's own subnets first (the usual case), then all of them.
    const own = [...(this.#byNode.get(node)?.keys() ?? [])].map(
      (id) => this.#subnets.get(id) as SubnetState,
    );
    for (const st of [...own, ...this.#subnets.unordered()]) {
      if (st.direct || !st.geometry.cidr.contains(cidr) || cidr.prefix !== st.subnet.blockPrefix)
        continue;
      const index = st.geometry.cidr.indexOfSubBlock(cidr);
      const owner = this.#bySubnet.get(st.subnet.id)?.owner(index);
      if (owner === undefined) break;
      if (owner.node !== node) {
        fail("CONFLICT", `release-block: ${cidr} is leased to ${owner.node}, not ${node}`, {
          cidr: cidr.toString(),
          owner: owner.node,
        });
      }
      this.#release(st, index);
      return { node, cidr: cidr.toString(), subnet: st.subnet.id };
    }
    return fail("NOT_FOUND", `release-block: ${cidr} is not a block leased to ${node}`, {
      cidr: cidr.toString(),
      node,
    });
  }

  /** The claim-block command (see {@link ClaimBlockCommand}). */
  claimBlock(c: ClaimBlockCommand): BlockLease {
    const node = this.#registry.requireNode(c.node, "claim-block.node").id;
    const text = requireString(c.cidr, "claim-block.cidr");
    const cidr = Cidr.tryParse(text);
    if (cidr === undefined)
      fail("INVALID_ARGUMENT", `claim-block.cidr: ${text} is not a valid CIDR`, {
        field: "cidr",
        cidr: text,
      });
    const st = [...this.#subnets.unordered()].find(
      (x) => !x.direct && x.geometry.cidr.contains(cidr) && cidr.prefix === x.subnet.blockPrefix,
    );
    if (st === undefined)
      fail("NOT_FOUND", `claim-block.cidr: ${cidr} is no block of a block-mode subnet`, {
        field: "cidr",
        cidr: cidr.toString(),
      });
    const index = st.geometry.cidr.indexOfSubBlock(cidr);
    const blocks = this.#bySubnet.get(st.subnet.id) as BlockIndex<BlockOwner>;
    const owner = blocks.owner(index);
    if (owner?.node === node) return this.#view(st, node, index, owner);
    if (owner !== undefined)
      fail("CONFLICT", `claim-block: ${cidr} is leased to node ${owner.node}, not ${node}`, {
        cidr: cidr.toString(),
        owner: owner.node,
      });
    if (!this.#candidates.reachable(node, st))
      fail(
        "INVALID_ARGUMENT",
        `claim-block.cidr: ${cidr} is in subnet ${st.subnet.id}, which node ${node} may not use`,
        { field: "cidr", cidr: cidr.toString(), subnet: st.subnet.id },
      );
    if (this.#coveredNext(st, index) >= 0n)
      fail("INVALID_ARGUMENT", `claim-block.cidr: ${cidr} lies entirely inside reserved ranges`, {
        field: "cidr",
        cidr: cidr.toString(),
      });
    if (st.draining)
      fail("DRAINING", `subnet ${st.subnet.id} is ${st.removing ? "being removed" : "draining"}`, {
        subnet: st.subnet.id,
      });
    this.#registry.requireActiveNode(node, "claim-block.node");
    const leased: BlockOwner = { node, leasedAt: c.at };
    this.lease(st, index, leased);
    return this.#view(st, node, index, leased);
  }

  /** Releases every block a node holds; returns their CIDRs, sorted. */
  freeNode(node: string): string[] {
    const held = [...this.#blocksOf(node)];
    for (const [st, index] of held) this.#release(st, index);
    return held.map(([st, index]) => cidrOf(st, index)).sort();
  }

  /**
   * Revokes every block a node holds (recorded; a block revoked earlier keeps its time);
   * returns their CIDRs, sorted.
   */
  revokeNode(node: string, at: number): string[] {
    const held = [...this.#blocksOf(node)];
    for (const [st, index, owner] of held) this.#revoke(st, index, owner, at);
    return held.map(([st, index]) => cidrOf(st, index)).sort();
  }

  /** Revokes every block leased in a subnet (recorded); returns how many it holds. */
  revokeSubnet(st: SubnetState, at: number): number {
    const held: [bigint, BlockOwner][] = [];
    this.#bySubnet.get(st.subnet.id)?.forEach((i, o) => {
      held.push([i, o]);
    });
    for (const [index, owner] of held) this.#revoke(st, index, owner, at);
    return held.length;
  }

  // --- queries -------------------------------------------------------------------------

  /** The blocks leased to a node (empty for an unknown node), sorted by subnet id then block. */
  nodeLeases(node: string): BlockLease[] {
    const out: BlockLease[] = [];
    for (const [st, index, owner] of this.#blocksOf(node))
      out.push(this.#view(st, node, index, owner));
    return out;
  }

  /** Every leased block of a subnet with its holder and state, in block order. */
  subnetLeases(st: SubnetState): BlockLease[] {
    const out: BlockLease[] = [];
    this.#bySubnet.get(st.subnet.id)?.forEach((index, owner) => {
      out.push(this.#view(st, owner.node, index, owner));
    });
    return out;
  }

  /** Ids of the subnets a node holds blocks in, sorted. */
  subnetsOf(node: string): string[] {
    return [...(this.#byNode.get(node)?.keys() ?? [])].sort(byString);
  }

  /** Number of blocks a node holds. */
  countOf(node: string): number {
    let blocks = 0;
    for (const list of this.#byNode.get(node)?.values() ?? []) blocks += list.length;
    return blocks;
  }

  /** Calls `fn` for every leased block of a subnet, in ascending index order. */
  forEachIn(subnetId: string, fn: (index: bigint, owner: BlockOwner) => void): void {
    this.#bySubnet.get(subnetId)?.forEach(fn);
  }

  /**
   * Leases free block `index` of `st` to `owner` (recorded); also how a snapshot is restored
   * (with the owner's `revokedAt`).
   */
  lease(st: SubnetState, index: bigint, owner: BlockOwner): void {
    const blocks = this.#bySubnet.get(st.subnet.id) as BlockIndex<BlockOwner>;
    blocks.lease(index, owner);
    this.#journal.record(() => blocks.release(index));
    let perNode = this.#byNode.get(owner.node);
    if (perNode === undefined) {
      perNode = new Map();
      this.#journal.set(this.#byNode, owner.node, perNode);
    }
    let list = perNode.get(st.subnet.id);
    if (list === undefined) {
      list = [];
      this.#journal.set(perNode, st.subnet.id, list);
    }
    let at = list.length;
    while (at > 0 && (list[at - 1] as bigint) > index) at--;
    this.#journal.insertAt(list, at, index);
  }

  /** True when `node` could lease a block of `st` now (a block-mode subnet): a read. */
  hasFreeBlock(st: SubnetState, node: string): boolean {
    return this.#pick(st, node) >= 0n;
  }

  // --- internals -----------------------------------------------------------------------

  /**
   * lease-block with `address`: the block containing that address, in the node's subnet of
   * `purpose` that contains it. A block the node already holds is returned as it is (so a retry
   * is idempotent with or without `requestId`); a block another node holds is that node's
   * (`CONFLICT` naming it: a block is never split between two holders).
   */
  #leaseContaining(node: string, c: LeaseBlockCommand, requestId: string | undefined): BlockLease {
    const text = requireString(c.address, "lease-block.address");
    const ip = tryParseIp(text);
    if (ip === undefined)
      fail("INVALID_ARGUMENT", `lease-block.address: ${text} is not an IP address`, {
        field: "address",
        address: text,
      });
    const address = formatIp(ip);
    if (c.family !== undefined && requireFamily(c.family, "lease-block.family") !== ip.family)
      fail("INVALID_ARGUMENT", `lease-block.address: ${address} is not an IPv${c.family} address`, {
        field: "address",
        address,
      });
    const purpose = requireString(c.purpose, "lease-block.purpose");
    const strategy = optionalStrategy(c.strategy, "lease-block.strategy");
    const mine = this.#candidates.all(node, purpose, ip.family, strategy);
    const st = mine.find((x) => x.geometry.cidr.contains(ip));
    if (st === undefined || (c.subnet !== undefined && st.subnet.id !== c.subnet)) {
      const elsewhere = this.#candidates.locate(ip);
      fail(
        "INVALID_ARGUMENT",
        `lease-block.address: ${address} is outside every IPv${ip.family} ${purpose} subnet node ${node} may use (${mine.map((x) => x.subnet.cidr).join(", ")})${elsewhere === undefined ? "" : `; it belongs to subnet ${elsewhere.id} (purpose ${elsewhere.purpose}, ${elsewhere.scope.kind} ${elsewhere.scope.id})`}`,
        { field: "address", address, node, purpose },
      );
    }
    if (st.direct)
      fail(
        "INVALID_ARGUMENT",
        `lease-block.address: subnet ${st.subnet.id} is direct-mode (use allocate-direct)`,
        { field: "address", address, subnet: st.subnet.id, mode: "direct" },
      );
    const reserved = reservedReason(this.#reservations.leaseSubnet(st), ip);
    if (reserved !== undefined)
      fail("INVALID_ARGUMENT", `${address} is ${reserved}: it is never handed out`, {
        field: "address",
        address,
        subnet: st.subnet.id,
      });
    const hostBits = BigInt(st.geometry.cidr.bits - st.subnet.blockPrefix);
    const index = st.geometry.cidr.offsetOf(ip) >> hostBits;
    const blocks = this.#bySubnet.get(st.subnet.id) as BlockIndex<BlockOwner>;
    const owner = blocks.owner(index);
    if (owner?.node === node) return this.#view(st, node, index, owner);
    if (owner !== undefined) {
      const block = cidrOf(st, index);
      fail(
        "CONFLICT",
        `${address} is in block ${block}, leased to node ${owner.node}: only that node allocates from it`,
        { address, block, owner: owner.node },
      );
    }
    if (st.draining)
      fail("DRAINING", `subnet ${st.subnet.id} is ${st.removing ? "being removed" : "draining"}`, {
        subnet: st.subnet.id,
      });
    this.#registry.requireActiveNode(node, "lease-block.node");
    const leased: BlockOwner = {
      node,
      leasedAt: c.at,
      ...(requestId === undefined ? {} : { requestId }),
    };
    this.lease(st, index, leased);
    return this.#view(st, node, index, leased);
  }

  #release(st: SubnetState, index: bigint): void {
    const blocks = this.#bySubnet.get(st.subnet.id) as BlockIndex<BlockOwner>;
    const owner = blocks.release(index);
    if (owner === undefined) return;
    this.#journal.record(() => blocks.lease(index, owner));
    const perNode = this.#byNode.get(owner.node);
    const list = perNode?.get(st.subnet.id);
    if (perNode === undefined || list === undefined) return;
    this.#journal.removeAt(list, list.indexOf(index));
    if (list.length === 0) this.#journal.delete(perNode, st.subnet.id);
    if (perNode.size === 0) this.#journal.delete(this.#byNode, owner.node);
  }

  /** The blocks of a node with their subnets and owners, by subnet id then block index. */
  *#blocksOf(node: string): Generator<[SubnetState, bigint, BlockOwner]> {
    const perNode = this.#byNode.get(node);
    if (perNode === undefined) return;
    for (const subnetId of [...perNode.keys()].sort(byString)) {
      const st = this.#subnets.get(subnetId) as SubnetState;
      const blocks = this.#bySubnet.get(subnetId) as BlockIndex<BlockOwner>;
      for (const index of perNode.get(subnetId) as bigint[])
        yield [st, index, blocks.owner(index) as BlockOwner];
    }
  }

  /** The block a lease-block command with `requestId` leased to `node`, if still held. */
  #leaseByRequest(node: string, requestId: string): BlockLease | undefined {
    for (const [st, index, owner] of this.#blocksOf(node))
      if (owner.requestId === requestId) return this.#view(st, node, index, owner);
    return undefined;
  }

  #owner(st: SubnetState, index: bigint): BlockOwner {
    return (this.#bySubnet.get(st.subnet.id) as BlockIndex<BlockOwner>).owner(index) as BlockOwner;
  }

  /** Marks a leased block revoked from `at` (recorded); a revoked one is left as it is. */
  #revoke(st: SubnetState, index: bigint, owner: BlockOwner, at: number): void {
    if (owner.revokedAt !== undefined) return;
    const blocks = this.#bySubnet.get(st.subnet.id) as BlockIndex<BlockOwner>;
    blocks.setOwner(index, { ...owner, revokedAt: at });
    this.#journal.record(() => blocks.setOwner(index, owner));
  }

  #view(st: SubnetState, node: string, index: bigint, owner: BlockOwner): BlockLease {
    const state: BlockState =
      owner.revokedAt !== undefined ? "revoked" : st.draining ? "draining" : "leased";
    return {
      node,
      cidr: cidrOf(st, index),
      leasedAt: owner.leasedAt,
      subnet: this.#reservations.leaseSubnet(st),
      state,
      ...(owner.revokedAt === undefined ? {} : { revokedAt: owner.revokedAt }),
    };
  }

  /**
   * Candidates (in allocation order) with each run of one scope and priority reordered least
   * used first: by leased fraction of its blocks, then fewer leased blocks, then id. Reads only
   * replicated state, so every replica picks the same subnet.
   */
  #leastUsedFirst(candidates: readonly SubnetState[]): SubnetState[] {
    const key = (st: SubnetState): string =>
      `${st.subnet.scope.kind}:${st.subnet.scope.id}:${st.subnet.priority}`;
    const used = (st: SubnetState): bigint => BigInt(this.leasedCount(st.subnet.id));
    const out: SubnetState[] = [];
    let run: SubnetState[] = [];
    const flush = (): void => {
      run.sort((a, b) => {
        const x = used(a) * b.geometry.blockCount;
        const y = used(b) * a.geometry.blockCount;
        if (x !== y) return x < y ? -1 : 1;
        if (used(a) !== used(b)) return used(a) < used(b) ? -1 : 1;
        return byString(a.subnet.id, b.subnet.id);
      });
      out.push(...run);
      run = [];
    };
    for (const st of candidates) {
      if (run.length > 0 && key(run[0] as SubnetState) !== key(st)) flush();
      run.push(st);
    }
    flush();
    return out;
  }

  /** The block to lease to `node` in `st`, or -1n when none is free. */
  #pick(st: SubnetState, node: string): bigint {
    const index = this.#bySubnet.get(st.subnet.id) as BlockIndex<BlockOwner>;
    const mine = this.#byNode.get(node)?.get(st.subnet.id) ?? [];
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

  /** When block `i` lies entirely inside a reserved interval: the first block index after it; else -1n. */
  #coveredNext(st: SubnetState, i: bigint): bigint {
    const size = 1n << BigInt(st.geometry.cidr.bits - st.subnet.blockPrefix);
    const start = st.geometry.cidr.start + i * size;
    const end = start + size - 1n;
    const list = this.#reservations.intervals(st);
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
}

/** The CIDR text of block `index` of a subnet. */
function cidrOf(st: SubnetState, index: bigint): string {
  return st.geometry.cidr.subBlock(st.subnet.blockPrefix, index).toString();
}
