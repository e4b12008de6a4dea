import { formatIp, MAX_BITMAP_CAPACITY, tryParseIp } from "@ipam/bitmap";
import type { Family, SubnetStrategy } from "@ipam/topology";
import type { AllocationKey } from "./allocation-key.js";
import type { Candidates } from "./candidates.js";
import {
  fail,
  optionalStrategy,
  requireFamily,
  requireKey,
  requireString,
} from "./command-args.js";
import type {
  AllocateDirectCommand,
  DirectAllocateValue,
  DirectAllocation,
  ReleaseDirectCommand,
} from "./commands.js";
import { DirectPool } from "./direct-pool.js";
import { type DirectEntry, DirectRecords } from "./direct-records.js";
import type { Registry } from "./registry.js";
import type { Reservations } from "./reservations.js";
import { reservedReason } from "./reserved-reason.js";
import { ipBlockFor } from "./subnet-geometry.js";
import type { SubnetState, SubnetTable } from "./subnet-table.js";
import type { UndoJournal } from "./undo-journal.js";

/**
 * Direct (per-address) allocations of direct-mode subnets, held in L1 (DESIGN §3): a
 * {@link DirectPool} per subnet (its bitmap and the row at each offset) and the allocations
 * themselves as compact rows ({@link DirectRecords}: by key and family, and per node). Allocations are idempotent per `(key, family)`; a released address
 * cools down for its subnet's `cooldownSeconds` (measured in command time, `at`) before
 * reuse. Every mutation is recorded in the journal.
 */
export class DirectAllocations {
  readonly #journal: UndoJournal;
  readonly #registry: Registry;
  readonly #subnets: SubnetTable;
  readonly #reservations: Reservations;
  readonly #candidates: Candidates;
  /** subnet id → its pool (direct-mode subnets only). */
  readonly #pools = new Map<string, DirectPool>();
  readonly #records = new DirectRecords();

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
   * Starts tracking a fresh subnet state with no allocation, replacing what was tracked under
   * its id (nothing is tracked for a block-mode subnet); its bitmap holds the state's
   * reservations.
   * @throws PoolError `INVALID_ARGUMENT` for a direct-mode subnet above 2^24 addresses.
   */
  addSubnet(st: SubnetState): void {
    if (!st.direct) {
      this.#journal.delete(this.#pools, st.subnet.id);
      return;
    }
    if (st.geometry.cidr.size() > BigInt(MAX_BITMAP_CAPACITY)) {
      fail(
        "INVALID_ARGUMENT",
        `subnets.${st.subnet.id}.blockPrefix: direct mode (/${st.subnet.blockPrefix}) needs a subnet of at most 2^24 addresses; ${st.subnet.cidr} is larger (use block mode)`,
        { subnet: st.subnet.id },
      );
    }
    const pool = new DirectPool(
      this.#journal,
      st.subnet.id,
      ipBlockFor(st.subnet, st.geometry.cidr),
    );
    this.#journal.set(this.#pools, st.subnet.id, pool);
    if (st.reservations.size > 0) this.rebuild(st);
  }

  /** Frees every allocation of a subnet at once (no cool-down) and stops tracking it; returns how many. */
  removeSubnet(st: SubnetState): number {
    const pool = this.#pools.get(st.subnet.id);
    if (pool === undefined) return 0;
    const rows = pool.rows().sort(this.#records.compare);
    for (const row of rows) this.#remove(row, undefined);
    this.#journal.delete(this.#pools, st.subnet.id);
    return rows.length;
  }

  /**
   * Rebuilds a subnet's bitmap after its reservations or gateway changed (no-op for a
   * block-mode subnet). @throws PoolError `CONFLICT` when an allocated address would become
   * reserved.
   */
  rebuild(st: SubnetState): void {
    this.#pools
      .get(st.subnet.id)
      ?.rebuild(ipBlockFor(st.subnet, st.geometry.cidr, this.#reservations.runtimeRanges(st)));
  }

  /** The pool of a direct-mode subnet. */
  pool(subnetId: string): DirectPool | undefined {
    return this.#pools.get(subnetId);
  }

  /** The allocations' rows: read them, and `reserve` before a restore; mutate through this class. */
  get records(): DirectRecords {
    return this.#records;
  }

  // --- commands ------------------------------------------------------------------------

  /** The allocate-direct command (see {@link AllocateDirectCommand}). */
  allocateDirect(c: AllocateDirectCommand): DirectAllocateValue {
    const node = this.#registry.requireNode(c.node, "allocate-direct.node").id;
    const active = () => this.#registry.requireActiveNode(node, "allocate-direct.node");
    const purpose = requireString(c.purpose, "allocate-direct.purpose");
    const family = requireFamily(c.family, "allocate-direct.family");
    const key = requireKey(c.key, "allocate-direct.key");
    const row = this.#records.find(key.network, key.containerId, key.ifname, family);
    if (row >= 0) {
      const found = this.#records.entry(row);
      const held = this.#addressOf(found);
      const asked = c.address === undefined ? undefined : canonical(c.address);
      if (
        found.node !== node ||
        found.purpose !== purpose ||
        (asked !== undefined && asked !== held)
      ) {
        fail(
          "CONFLICT",
          `allocate-direct.key: ${describeKey(key)} already holds ${held} (${found.purpose}) on ${found.node}${asked === undefined || asked === held ? "" : `, not ${asked}`}`,
          {
            address: held,
            node: found.node,
            purpose: found.purpose,
            ...(asked === undefined ? {} : { requested: asked }),
          },
        );
      }
      return { ...this.#view(found), existing: true };
    }
    active();
    const strategy = optionalStrategy(c.strategy, "allocate-direct.strategy");
    const [st, offset] =
      c.address === undefined
        ? this.#claimNext(node, purpose, family, strategy, c.at)
        : this.#claimAddress(node, purpose, family, strategy, c.address, c.at);
    const entry: DirectEntry = {
      network: key.network,
      containerId: key.containerId,
      ifname: key.ifname,
      family,
      node,
      purpose,
      subnet: st.subnet.id,
      offset,
      allocatedAt: c.at,
    };
    this.add(entry);
    return { ...this.#view(entry), existing: false };
  }

  /** The release-direct command: the key's allocations (of `family`, or both) cool down. */
  releaseDirect(c: ReleaseDirectCommand): DirectAllocation[] {
    const key = requireKey(c.key, "release-direct.key");
    const families: Family[] =
      c.family === undefined ? [4, 6] : [requireFamily(c.family, "release-direct.family")];
    const out: DirectAllocation[] = [];
    for (const family of families) {
      const row = this.#records.find(key.network, key.containerId, key.ifname, family);
      if (row < 0) continue;
      out.push(this.#view(this.#records.entry(row)));
      this.#remove(row, c.at);
    }
    return out;
  }

  /** Releases every allocation a node holds (they cool down); returns the addresses, sorted by key. */
  freeNode(node: string, at: number): string[] {
    const addresses: string[] = [];
    const records = this.#records;
    for (const row of records.nodeRows(node).sort(records.compare)) {
      addresses.push(this.#addressOf(records.entry(row)));
      this.#remove(row, at);
    }
    return addresses;
  }

  // --- queries -------------------------------------------------------------------------

  /** Direct allocations (of one node, or all), sorted by key then family. */
  list(node?: string): DirectAllocation[] {
    const records = this.#records;
    const rows = node === undefined ? records.rows() : records.nodeRows(node);
    return rows.sort(records.compare).map((row) => this.#view(records.entry(row)));
  }

  /** The allocations of one subnet, sorted by key then family. */
  inSubnet(st: SubnetState): DirectAllocation[] {
    const pool = this.#pools.get(st.subnet.id);
    if (pool === undefined) return [];
    const records = this.#records;
    return pool
      .rows()
      .sort(records.compare)
      .map((row) => this.#view(records.entry(row)));
  }

  /** The direct allocation of a key and family, or undefined. */
  get(key: AllocationKey, family: Family): DirectAllocation | undefined {
    const row = this.#records.find(key.network, key.containerId, key.ifname, family);
    return row < 0 ? undefined : this.#view(this.#records.entry(row));
  }

  /** Number of direct allocations a node holds. */
  countOf(node: string): number {
    return this.#records.nodeCount(node);
  }

  /**
   * Adds an allocation whose address is already claimed in its pool and whose key and family
   * hold nothing (recorded); also how a snapshot is restored. `entry` is copied: the caller
   * may reuse the object.
   */
  add(entry: DirectEntry): void {
    const records = this.#records;
    const row = records.add(entry);
    if (this.#journal.recording) this.#journal.record(() => records.remove(row));
    (this.#pools.get(entry.subnet) as DirectPool).hold(entry.offset, row);
  }

  // --- internals -----------------------------------------------------------------------

  /** The next free address of the node's first open subnet that has one. */
  #claimNext(
    node: string,
    purpose: string,
    family: Family,
    strategy: SubnetStrategy | undefined,
    at: number,
  ): [SubnetState, number] {
    for (const st of this.#candidates.open(node, purpose, family, strategy, true)) {
      const pool = this.#pools.get(st.subnet.id) as DirectPool;
      pool.expire(at);
      const offset = pool.claimNext();
      if (offset >= 0) return [st, offset];
    }
    return fail(
      "POOL_EXHAUSTED",
      `no free IPv${family} ${purpose} address for node ${node} (${this.#candidates.exhaustedNote(purpose, strategy)})`,
      { node, purpose, family, strategy: this.#candidates.strategy(purpose, strategy) },
    );
  }

  /** The requested address, when it is free in one of the node's open direct subnets. */
  #claimAddress(
    node: string,
    purpose: string,
    family: Family,
    strategy: SubnetStrategy | undefined,
    address: unknown,
    at: number,
  ): [SubnetState, number] {
    const ip = tryParseIp(requireString(address, "allocate-direct.address"));
    if (ip === undefined || ip.family !== family) {
      fail(
        "INVALID_ARGUMENT",
        `allocate-direct.address: ${String(address)} is not an IPv${family} address`,
        { field: "address", address },
      );
    }
    const text = formatIp(ip);
    const mine = this.#candidates.all(node, purpose, family, strategy);
    const st = mine.find((x) => x.geometry.cidr.contains(ip));
    if (st === undefined) {
      const elsewhere = this.#candidates.locate(ip);
      fail(
        "INVALID_ARGUMENT",
        `allocate-direct.address: ${text} is outside every IPv${family} ${purpose} subnet node ${node} may use (${mine.map((x) => x.subnet.cidr).join(", ")})${elsewhere === undefined ? "" : `; it belongs to subnet ${elsewhere.id} (purpose ${elsewhere.purpose}, ${elsewhere.scope.kind} ${elsewhere.scope.id})`}`,
        { field: "address", address: text, node, purpose },
      );
    }
    if (!st.direct)
      fail("INVALID_ARGUMENT", `allocate-direct.address: subnet ${st.subnet.id} is block-mode`, {
        field: "address",
        address: text,
        subnet: st.subnet.id,
        mode: "block",
      });
    const pool = this.#pools.get(st.subnet.id) as DirectPool;
    pool.expire(at);
    const offset = Number(st.geometry.cidr.offsetOf(ip));
    const state = pool.stateOf(offset);
    if (state === "reserved") {
      const reason =
        reservedReason(this.#reservations.leaseSubnet(st), ip) ?? `reserved in ${st.subnet.id}`;
      fail("INVALID_ARGUMENT", `${text} is ${reason}: it is never handed out`, {
        field: "address",
        address: text,
        subnet: st.subnet.id,
      });
    }
    if (state === "allocated") {
      const holder = this.#records.entry(pool.holder(offset));
      fail("CONFLICT", `${text} is held by ${describeKey(holder)} on node ${holder.node}`, {
        address: text,
        holder: describeKey(holder),
        node: holder.node,
      });
    }
    if (state === "cooling") {
      const until = pool.coolingUntil(offset);
      const when = until === undefined ? "its cool-down ends" : new Date(until).toISOString();
      fail("CONFLICT", `${text} was released and is cooling down until ${when}`, {
        address: text,
        ...(until === undefined ? {} : { coolingUntil: until }),
      });
    }
    if (st.draining)
      fail("DRAINING", `subnet ${st.subnet.id} is draining`, { subnet: st.subnet.id });
    pool.claim(offset);
    return [st, offset];
  }

  /** Drops an allocation; its address cools down from `at`, or is freed at once when `at` is undefined. */
  #remove(row: number, at: number | undefined): void {
    const records = this.#records;
    const subnet = records.subnet(row);
    const st = this.#subnets.get(subnet) as SubnetState;
    const pool = this.#pools.get(subnet) as DirectPool;
    const cooldown = st.subnet.cooldownSeconds;
    pool.release(
      records.offset(row),
      at !== undefined && cooldown > 0 ? at + cooldown * 1000 : undefined,
    );
    if (this.#journal.recording) {
      const entry = records.entry(row);
      records.remove(row);
      this.#journal.record(() => records.revive(row, entry));
    } else {
      records.remove(row);
    }
  }

  #addressOf(e: DirectEntry): string {
    const cidr = (this.#subnets.get(e.subnet) as SubnetState).geometry.cidr;
    return cidr.family === 4
      ? formatV4(Number(cidr.start) + e.offset)
      : formatIp(cidr.addressAt(e.offset));
  }

  #view(e: DirectEntry): DirectAllocation {
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
}

function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** A key as operators read it: `network/containerId/ifname`. */
function describeKey(k: { network: string; containerId: string; ifname: string }): string {
  return `${k.network}/${k.containerId}/${k.ifname}`;
}

/** `text` in canonical form when it is an IP address, else as given. */
function canonical(text: string): string {
  const ip = typeof text === "string" ? tryParseIp(text) : undefined;
  return ip === undefined ? String(text) : formatIp(ip);
}
