import { Bitmap, MAX_BITMAP_CAPACITY } from "./bitmap.js";
import { BitmapError } from "./bitmap-error.js";
import { Cidr } from "./cidr.js";
import { formatIp, type Ip, type IpFamily, ipToBigInt } from "./ip.js";

/** An inclusive range of addresses of one family (`first <= last`). */
export interface IpRange {
  readonly first: Ip;
  readonly last: Ip;
}

/** What an address of a block is used for. */
export type AddressState = "free" | "allocated" | "reserved";

export interface IpBlockOptions {
  /**
   * The subnet this block was carved from (default: the block itself). Its
   * special addresses are reserved where they fall inside the block: the
   * IPv4 network and broadcast addresses (for prefixes up to /30) and the
   * IPv6 subnet-router anycast address `::0` of the subnet (up to /126).
   * Must contain the block.
   */
  readonly subnet?: Cidr;
  /**
   * Gateway to reserve when it falls inside the block: an address of the
   * subnet, `"first-usable"` (the subnet's first address after the network
   * address), or `"none"` (the default).
   */
  readonly gateway?: Ip | "first-usable" | "none";
  /** Further addresses and ranges to reserve; clipped to the block (parts outside are ignored). */
  readonly reserved?: readonly (Ip | Cidr | IpRange)[];
}

const MAGIC = 0x4b425049; // "IPBK" little-endian
const FORMAT_VERSION = 1;

/**
 * A CIDR block bound to a {@link Bitmap}: hands out addresses next-fit from a
 * cursor (a just-released address is not reused until the cursor comes
 * round), releases them, and keeps reserved addresses (network, broadcast,
 * anycast, gateway, configured ranges) out of circulation.
 *
 * Addresses are identified by their offset from the block's first address
 * (`number`, 0 <= offset < size). The offset methods (`allocateOffset`,
 * `releaseOffset`, `isAllocatedOffset`) are the hot path: they allocate no
 * objects. `allocate()`/`release(ip)` are conveniences over them.
 *
 * A block holds at most 2^24 addresses (a /8 of IPv4, a /104 of IPv6); larger
 * prefixes are carved into blocks by the layers above.
 */
export class IpBlock {
  readonly cidr: Cidr;
  readonly family: IpFamily;
  /** Number of addresses in the block, reserved ones included. */
  readonly size: number;
  #bitmap: Bitmap;
  /** IPv4: the first address as a number (0 for IPv6 blocks). */
  readonly #start4: number;
  readonly #sizeBig: bigint;
  /** Offset ranges [from, to] that are reserved: sorted, disjoint, not adjacent. */
  #reservedFrom: number[] = [];
  #reservedTo: number[] = [];
  #reservedCount = 0;
  #cursor = 0;

  /**
   * A block with nothing allocated and the reservations of `options` applied.
   * @throws BitmapError `BLOCK_TOO_LARGE` for more than 2^24 addresses;
   * `INVALID_ARGUMENT` for a subnet that does not contain the block, a gateway
   * outside the subnet, or a reservation of the other family.
   */
  constructor(cidr: Cidr, options: IpBlockOptions = {}) {
    if (cidr.size() > BigInt(MAX_BITMAP_CAPACITY)) {
      throw new BitmapError(
        "BLOCK_TOO_LARGE",
        `${cidr} has ${cidr.size()} addresses; a block holds at most 2^24 (carve it into smaller blocks)`,
        { details: { cidr: cidr.toString() } },
      );
    }
    this.cidr = cidr;
    this.family = cidr.family;
    this.size = Number(cidr.size());
    this.#sizeBig = cidr.size();
    this.#start4 = cidr.family === 4 ? Number(cidr.start) : 0;
    this.#bitmap = new Bitmap(this.size);
    const subnet = options.subnet ?? cidr;
    if (!subnet.contains(cidr)) {
      throw new BitmapError("INVALID_ARGUMENT", `subnet ${subnet} does not contain block ${cidr}`, {
        details: { cidr: cidr.toString(), subnet: subnet.toString() },
      });
    }
    for (const value of specialAddresses(subnet, options.gateway ?? "none")) {
      if (value >= cidr.start && value <= cidr.end) this.#addReserved(value, value);
    }
    for (const [index, entry] of (options.reserved ?? []).entries()) {
      const [first, last] = this.#bounds(entry, `reserved[${index}]`);
      const from = maxBigInt(first, cidr.start);
      const to = minBigInt(last, cidr.end);
      if (from <= to) this.#addReserved(from, to);
    }
  }

  /** Next offset the next-fit search starts from, in [0, size]. */
  get cursor(): number {
    return this.#cursor;
  }

  /** @throws BitmapError `INVALID_ARGUMENT` unless 0 <= cursor <= size. */
  set cursor(value: number) {
    if (value >>> 0 !== value || value > this.size) {
      throw new BitmapError(
        "INVALID_ARGUMENT",
        `cursor ${value} is out of range (0-${this.size})`,
        {
          details: { cursor: value, cidr: this.cidr.toString() },
        },
      );
    }
    this.#cursor = value;
  }

  /** Addresses that can ever be allocated: size minus reserved. */
  capacity(): number {
    return this.size - this.#reservedCount;
  }

  /** Addresses currently allocated (reserved ones not counted). */
  allocatedCount(): number {
    return this.#bitmap.count() - this.#reservedCount;
  }

  /** Addresses free to allocate now. */
  free(): number {
    return this.#bitmap.free();
  }

  /** Number of reserved addresses. */
  reservedCount(): number {
    return this.#reservedCount;
  }

  // --- hot path: offsets -----------------------------------------------------

  /**
   * Allocates the next free address after the cursor (wrapping) and returns
   * its offset, or -1 when the block is exhausted. Allocation-free.
   */
  allocateOffset(): number {
    const offset = this.#bitmap.allocateNextFree(this.#cursor);
    if (offset >= 0) this.#cursor = offset + 1;
    return offset;
  }

  /**
   * Releases the address at `offset`.
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE` for an offset outside the block,
   * `NOT_ALLOCATED` when it is free or reserved (the block is left unchanged).
   */
  releaseOffset(offset: number): void {
    this.#checkOffset(offset);
    if (this.#isReservedOffset(offset) || !this.#bitmap.clear(offset)) {
      throw this.#notAllocated(offset);
    }
  }

  /**
   * Allocates the address at `offset` (a specific address, e.g. when restoring
   * records or honouring a requested IP). Does not move the cursor.
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE`, or `ALREADY_ALLOCATED` when it
   * is allocated or reserved.
   */
  claimOffset(offset: number): void {
    this.#checkOffset(offset);
    if (!this.#bitmap.set(offset)) {
      const reserved = this.#isReservedOffset(offset);
      throw new BitmapError(
        "ALREADY_ALLOCATED",
        `${this.#format(offset)} in ${this.cidr} is already ${reserved ? "reserved" : "allocated"}`,
        { details: { cidr: this.cidr.toString(), address: this.#format(offset), reserved } },
      );
    }
  }

  /** True when the address at `offset` is allocated (reserved addresses are not). */
  isAllocatedOffset(offset: number): boolean {
    this.#checkOffset(offset);
    return this.#bitmap.test(offset) && !this.#isReservedOffset(offset);
  }

  /** What the address at `offset` is used for. */
  stateOfOffset(offset: number): AddressState {
    this.#checkOffset(offset);
    if (this.#isReservedOffset(offset)) return "reserved";
    return this.#bitmap.test(offset) ? "allocated" : "free";
  }

  /**
   * IPv4 only: allocates like {@link allocateOffset} and returns the address
   * as a uint32, or -1 when exhausted.
   * @throws BitmapError `INVALID_ARGUMENT` on an IPv6 block.
   */
  allocateIPv4(): number {
    if (this.family !== 4) throw this.#wrongFamily();
    const offset = this.allocateOffset();
    return offset < 0 ? -1 : this.#start4 + offset;
  }

  /** IPv4 only: releases a uint32 address. Throws like {@link releaseOffset}. */
  releaseIPv4(value: number): void {
    if (this.family !== 4) throw this.#wrongFamily();
    const offset = value - this.#start4;
    if (offset < 0 || offset >= this.size || value >>> 0 !== value) {
      throw new BitmapError(
        "ADDRESS_OUT_OF_RANGE",
        `${value >>> 0 === value ? formatIp({ family: 4, value }) : value} is not inside ${this.cidr}`,
        { details: { cidr: this.cidr.toString(), value } },
      );
    }
    this.releaseOffset(offset);
  }

  // --- addresses -------------------------------------------------------------

  /**
   * Allocates the next free address (next-fit from the cursor).
   * @throws BitmapError `EXHAUSTED` when no address is free.
   */
  allocate(): Ip {
    const offset = this.allocateOffset();
    if (offset < 0) throw this.exhausted();
    return this.addressAt(offset);
  }

  /**
   * Releases `ip`.
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE` when `ip` is not in the block,
   * `NOT_ALLOCATED` when it is free or reserved.
   */
  release(ip: Ip): void {
    this.releaseOffset(this.offsetOf(ip));
  }

  /** Allocates the specific address `ip`. Throws like {@link claimOffset}. */
  claim(ip: Ip): void {
    this.claimOffset(this.offsetOf(ip));
  }

  /** True when `ip` is allocated. @throws BitmapError `ADDRESS_OUT_OF_RANGE` when not in the block. */
  isAllocated(ip: Ip): boolean {
    return this.isAllocatedOffset(this.offsetOf(ip));
  }

  /** True when `ip` is reserved. @throws BitmapError `ADDRESS_OUT_OF_RANGE` when not in the block. */
  isReserved(ip: Ip): boolean {
    return this.stateOfOffset(this.offsetOf(ip)) === "reserved";
  }

  /** What `ip` is used for. @throws BitmapError `ADDRESS_OUT_OF_RANGE` when not in the block. */
  stateOf(ip: Ip): AddressState {
    return this.stateOfOffset(this.offsetOf(ip));
  }

  /**
   * Reserves an address, a CIDR or a range, all inside the block. Reserving a
   * reserved address again is a no-op. All or nothing.
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE` when any part lies outside the
   * block, `ALREADY_ALLOCATED` when any address in it is allocated (nothing is
   * reserved then), `INVALID_ARGUMENT` for a range of the wrong family or
   * with first > last.
   */
  reserve(target: Ip | Cidr | IpRange): void {
    const [first, last] = this.#bounds(target, "reserve");
    if (first < this.cidr.start || last > this.cidr.end) {
      throw new BitmapError(
        "ADDRESS_OUT_OF_RANGE",
        `${describe(target)} is not inside ${this.cidr}`,
        { details: { cidr: this.cidr.toString(), target: describe(target) } },
      );
    }
    const from = Number(first - this.cidr.start);
    const to = Number(last - this.cidr.start);
    for (let o = this.#bitmap.nextSet(from); o >= 0 && o <= to; o = this.#bitmap.nextSet(o + 1)) {
      if (!this.#isReservedOffset(o)) {
        throw new BitmapError(
          "ALREADY_ALLOCATED",
          `cannot reserve ${describe(target)}: ${this.#format(o)} is allocated`,
          { details: { cidr: this.cidr.toString(), address: this.#format(o) } },
        );
      }
      if (o + 1 >= this.size) break;
    }
    this.#addReserved(first, last);
  }

  /** The reserved ranges, ascending and merged. The array is the caller's. */
  reservedRanges(): IpRange[] {
    return this.#reservedFrom.map((from, i) => ({
      first: this.addressAt(from),
      last: this.addressAt(this.#reservedTo[i]!),
    }));
  }

  /** Calls `fn` with the offset of every allocated address, ascending. Do not mutate meanwhile. */
  forEachAllocatedOffset(fn: (offset: number) => void): void {
    this.#bitmap.forEachSet((offset) => {
      if (!this.#isReservedOffset(offset)) fn(offset);
    });
  }

  /** The allocated addresses, ascending. The array is the caller's. */
  allocated(): Ip[] {
    const out: Ip[] = [];
    this.forEachAllocatedOffset((offset) => out.push(this.addressAt(offset)));
    return out;
  }

  /**
   * Offset of `ip` from the block's first address.
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE` when `ip` is not in the block.
   */
  offsetOf(ip: Ip): number {
    if (ip.family === this.family) {
      if (ip.family === 4) {
        const offset = ip.value - this.#start4;
        if (offset >= 0 && offset < this.size) return offset;
      } else {
        const offset = ip.value - this.cidr.start;
        if (offset >= 0n && offset < this.#sizeBig) return Number(offset);
      }
    }
    throw new BitmapError("ADDRESS_OUT_OF_RANGE", `${formatIp(ip)} is not inside ${this.cidr}`, {
      details: { cidr: this.cidr.toString(), address: formatIp(ip) },
    });
  }

  /** The address at `offset`. @throws BitmapError `ADDRESS_OUT_OF_RANGE` unless 0 <= offset < size. */
  addressAt(offset: number): Ip {
    this.#checkOffset(offset);
    if (this.family === 4) return { family: 4, value: this.#start4 + offset };
    return { family: 6, value: this.cidr.start + BigInt(offset) };
  }

  /** The `EXHAUSTED` error for this block (for callers that use the offset API). */
  exhausted(): BitmapError {
    return new BitmapError("EXHAUSTED", `${this.cidr} has no free address`, {
      details: { cidr: this.cidr.toString(), size: this.size, reserved: this.#reservedCount },
    });
  }

  /** An independent copy (bitmap, reservations and cursor). */
  clone(): IpBlock {
    return IpBlock.deserialize(this.serialize());
  }

  /**
   * A self-contained binary form: header, the CIDR text, cursor, reserved
   * offset ranges, then the serialized bitmap. The array is the caller's.
   */
  serialize(): Uint8Array {
    const cidrText = new TextEncoder().encode(this.cidr.toString());
    const bitmap = this.#bitmap.serialize();
    const ranges = this.#reservedFrom.length;
    const head = 4 + 4 + 2 + cidrText.length + 4 + 4 + ranges * 8;
    const out = new Uint8Array(head + bitmap.length);
    const view = new DataView(out.buffer);
    let at = 0;
    view.setUint32(at, MAGIC, true);
    out[4] = FORMAT_VERSION;
    at = 8;
    view.setUint16(at, cidrText.length, true);
    out.set(cidrText, at + 2);
    at += 2 + cidrText.length;
    view.setUint32(at, this.#cursor, true);
    view.setUint32(at + 4, ranges, true);
    at += 8;
    for (let i = 0; i < ranges; i++) {
      view.setUint32(at, this.#reservedFrom[i]!, true);
      view.setUint32(at + 4, this.#reservedTo[i]!, true);
      at += 8;
    }
    out.set(bitmap, at);
    return out;
  }

  /**
   * Rebuilds a block from {@link serialize} output.
   * @throws BitmapError `CORRUPT_DATA` for anything that is not an intact serialized block.
   */
  static deserialize(bytes: Uint8Array): IpBlock {
    try {
      return IpBlock.#decode(bytes);
    } catch (error) {
      if (error instanceof BitmapError && error.code === "CORRUPT_DATA") throw error;
      throw corrupt(error instanceof Error ? error.message : String(error), error);
    }
  }

  // --- internals ---------------------------------------------------------------

  static #decode(bytes: Uint8Array): IpBlock {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 18 || view.getUint32(0, true) !== MAGIC) throw corrupt("bad magic");
    if (bytes[4] !== FORMAT_VERSION) throw corrupt(`unknown version ${bytes[4]}`);
    let at = 8;
    const textLength = view.getUint16(at, true);
    at += 2;
    if (at + textLength + 8 > bytes.length) throw corrupt("truncated");
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(at, at + textLength),
    );
    at += textLength;
    const cidr = Cidr.tryParse(text);
    if (cidr === undefined) throw corrupt(`bad CIDR ${JSON.stringify(text)}`);
    const cursor = view.getUint32(at, true);
    const ranges = view.getUint32(at + 4, true);
    at += 8;
    if (at + ranges * 8 > bytes.length) throw corrupt("truncated reserved ranges");
    const from: number[] = [];
    const to: number[] = [];
    for (let i = 0; i < ranges; i++) {
      from.push(view.getUint32(at, true));
      to.push(view.getUint32(at + 4, true));
      at += 8;
    }
    const bitmap = Bitmap.deserialize(bytes.subarray(at));
    const block = new IpBlock(cidr);
    if (bitmap.capacity !== block.size) {
      throw corrupt(`bitmap of ${bitmap.capacity} bits for ${block.size} addresses`);
    }
    IpBlock.#restore(block, bitmap, cursor, from, to);
    return block;
  }

  /** Installs a bitmap, cursor and reservations decoded by {@link deserialize}. */
  static #restore(block: IpBlock, bitmap: Bitmap, cursor: number, from: number[], to: number[]) {
    let reserved = 0;
    for (let i = 0; i < from.length; i++) {
      const f = from[i]!;
      const t = to[i]!;
      if (f > t || t >= block.size || (i > 0 && f <= to[i - 1]! + 1)) {
        throw corrupt("reserved ranges are not sorted, disjoint and inside the block");
      }
      reserved += t - f + 1;
    }
    if (cursor > block.size) throw corrupt(`cursor ${cursor} past the block`);
    let missing = 0;
    for (let i = 0; i < from.length; i++) missing += bitmap.setRange(from[i]!, to[i]!);
    if (missing !== 0) throw corrupt("reserved addresses are not marked in the bitmap");
    block.#bitmap = bitmap;
    block.#reservedFrom = from;
    block.#reservedTo = to;
    block.#reservedCount = reserved;
    block.#cursor = cursor;
  }

  #checkOffset(offset: number): void {
    if (offset >>> 0 !== offset || offset >= this.size) {
      throw new BitmapError(
        "ADDRESS_OUT_OF_RANGE",
        `offset ${offset} is outside ${this.cidr} (0-${this.size - 1})`,
        { details: { cidr: this.cidr.toString(), offset } },
      );
    }
  }

  #isReservedOffset(offset: number): boolean {
    const from = this.#reservedFrom;
    let lo = 0;
    let hi = from.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (from[mid]! > offset) hi = mid - 1;
      else if (this.#reservedTo[mid]! < offset) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Adds [first, last] (inside the block, none of it allocated) to the reservations. */
  #addReserved(first: bigint, last: bigint): void {
    const from = Number(first - this.cidr.start);
    const to = Number(last - this.cidr.start);
    this.#bitmap.setRange(from, to);
    const starts: number[] = [];
    const ends: number[] = [];
    let placed = false;
    let nf = from;
    let nt = to;
    for (let i = 0; i < this.#reservedFrom.length; i++) {
      const f = this.#reservedFrom[i]!;
      const t = this.#reservedTo[i]!;
      if (t + 1 < nf) {
        starts.push(f);
        ends.push(t);
      } else if (nt + 1 < f) {
        if (!placed) {
          starts.push(nf);
          ends.push(nt);
          placed = true;
        }
        starts.push(f);
        ends.push(t);
      } else {
        nf = Math.min(nf, f);
        nt = Math.max(nt, t);
      }
    }
    if (!placed) {
      starts.push(nf);
      ends.push(nt);
    }
    this.#reservedFrom = starts;
    this.#reservedTo = ends;
    let count = 0;
    for (let i = 0; i < starts.length; i++) count += ends[i]! - starts[i]! + 1;
    this.#reservedCount = count;
  }

  #bounds(target: Ip | Cidr | IpRange, field: string): [bigint, bigint] {
    let first: bigint;
    let last: bigint;
    let family: IpFamily;
    if (target instanceof Cidr) {
      first = target.start;
      last = target.end;
      family = target.family;
    } else if ("first" in target) {
      if (target.first.family !== target.last.family) {
        throw new BitmapError("INVALID_ARGUMENT", `${field}: ${describe(target)} mixes families`, {
          details: { target: describe(target) },
        });
      }
      first = ipToBigInt(target.first);
      last = ipToBigInt(target.last);
      family = target.first.family;
    } else {
      first = ipToBigInt(target);
      last = first;
      family = target.family;
    }
    if (family !== this.family || first > last) {
      throw new BitmapError(
        "INVALID_ARGUMENT",
        `${field}: ${describe(target)} is not a valid IPv${this.family} range for ${this.cidr}`,
        { details: { cidr: this.cidr.toString(), target: describe(target) } },
      );
    }
    return [first, last];
  }

  #format(offset: number): string {
    return formatIp(this.addressAt(offset));
  }

  #notAllocated(offset: number): BitmapError {
    const reserved = this.#isReservedOffset(offset);
    return new BitmapError(
      "NOT_ALLOCATED",
      `${this.#format(offset)} in ${this.cidr} is ${reserved ? "reserved" : "not allocated"}`,
      { details: { cidr: this.cidr.toString(), address: this.#format(offset), reserved } },
    );
  }

  #wrongFamily(): BitmapError {
    return new BitmapError("INVALID_ARGUMENT", `${this.cidr} is not an IPv4 block`, {
      details: { cidr: this.cidr.toString() },
    });
  }
}

/** Subnet-level addresses to reserve, as bigints. */
function specialAddresses(subnet: Cidr, gateway: Ip | "first-usable" | "none"): bigint[] {
  const out: bigint[] = [];
  const hasNetwork = subnet.family === 4 ? subnet.prefix <= 30 : subnet.prefix <= 126;
  if (hasNetwork) out.push(subnet.start);
  if (subnet.family === 4 && hasNetwork) out.push(subnet.end);
  if (gateway === "first-usable") {
    out.push(hasNetwork ? subnet.start + 1n : subnet.start);
  } else if (gateway !== "none") {
    if (!subnet.contains(gateway)) {
      throw new BitmapError(
        "INVALID_ARGUMENT",
        `gateway ${formatIp(gateway)} is not inside subnet ${subnet}`,
        { details: { subnet: subnet.toString(), gateway: formatIp(gateway) } },
      );
    }
    out.push(ipToBigInt(gateway));
  }
  return out;
}

function maxBigInt(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minBigInt(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function describe(target: Ip | Cidr | IpRange): string {
  if (target instanceof Cidr) return target.toString();
  if ("first" in target) return `${formatIp(target.first)}-${formatIp(target.last)}`;
  return formatIp(target);
}

function corrupt(reason: string, cause?: unknown): BitmapError {
  return new BitmapError("CORRUPT_DATA", `serialized block is corrupt: ${reason}`, {
    details: { reason },
    cause,
  });
}
