import { BitmapError } from "./bitmap-error.js";
import { formatIp, type Ip, type IpFamily, ipFromBigInt, ipToBigInt, tryParseIp } from "./ip.js";

/**
 * A canonical CIDR block (network address with host bits zero, and a prefix
 * length) of either family. Immutable. Interval bounds are exposed as bigints
 * for both families so that interval math and sorting need no family switch.
 */
export class Cidr {
  readonly family: IpFamily;
  readonly prefix: number;
  /** Address width: 32 for IPv4, 128 for IPv6. */
  readonly bits: 32 | 128;
  /** First address (the network address), inclusive. */
  readonly start: bigint;
  /** Last address, inclusive. */
  readonly end: bigint;
  /** The network address as an {@link Ip}. */
  readonly first: Ip;
  /** The last address as an {@link Ip} (the broadcast address for IPv4 /0-/30). */
  readonly last: Ip;
  #text: string | undefined;

  private constructor(family: IpFamily, start: bigint, prefix: number) {
    this.family = family;
    this.prefix = prefix;
    this.bits = family === 4 ? 32 : 128;
    this.start = start;
    this.end = start + (1n << BigInt(this.bits - prefix)) - 1n;
    this.first = ipFromBigInt(family, start);
    this.last = ipFromBigInt(family, this.end);
  }

  /**
   * Parses canonical CIDR text (`10.0.0.0/24`, `2001:db8::/32`).
   * @throws BitmapError `INVALID_CIDR` naming the text: missing or bad prefix
   * length, bad address, or host bits set (the message suggests the canonical
   * block, e.g. `10.0.0.1/24 has host bits set (did you mean 10.0.0.0/24?)`).
   */
  static parse(text: string): Cidr {
    const result = parseCidr(text);
    if (typeof result === "string") {
      throw new BitmapError("INVALID_CIDR", result, { details: { text } });
    }
    return result;
  }

  /** Like {@link Cidr.parse} but returns `undefined` instead of throwing. */
  static tryParse(text: string): Cidr | undefined {
    const result = parseCidr(text);
    return typeof result === "string" ? undefined : result;
  }

  /**
   * The block of length `prefix` that contains `ip` (host bits are masked off).
   * @throws BitmapError `INVALID_CIDR` when `prefix` is not an integer in [0, bits].
   */
  static fromIp(ip: Ip, prefix: number): Cidr {
    const bits = ip.family === 4 ? 32 : 128;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
      throw new BitmapError(
        "INVALID_CIDR",
        `${formatIp(ip)}/${prefix} is not a valid CIDR (prefix length must be 0-${bits})`,
        { details: { prefix } },
      );
    }
    return new Cidr(ip.family, maskStart(ipToBigInt(ip), bits, prefix), prefix);
  }

  /** Number of addresses in the block (2^(bits - prefix)). */
  size(): bigint {
    return this.end - this.start + 1n;
  }

  /** True when `x` (an address or a block) lies entirely inside this block. Never throws. */
  contains(x: Ip | Cidr): boolean {
    if (x.family !== this.family) return false;
    if (x instanceof Cidr) return x.start >= this.start && x.end <= this.end;
    const v = ipToBigInt(x);
    return v >= this.start && v <= this.end;
  }

  /** True when the two blocks share at least one address. Blocks of different families never overlap. */
  overlaps(other: Cidr): boolean {
    return other.family === this.family && other.start <= this.end && this.start <= other.end;
  }

  equals(other: Cidr): boolean {
    return (
      other.family === this.family && other.start === this.start && other.prefix === this.prefix
    );
  }

  /**
   * How many blocks of length `prefix` this block divides into (2^(prefix - this.prefix)).
   * @throws BitmapError `INVALID_ARGUMENT` unless this.prefix <= prefix <= bits.
   */
  subBlockCount(prefix: number): bigint {
    this.#checkSubPrefix(prefix);
    return 1n << BigInt(prefix - this.prefix);
  }

  /**
   * The `n`th (0-based, in address order) sub-block of length `prefix`.
   * @throws BitmapError `INVALID_ARGUMENT` for a bad prefix, `ADDRESS_OUT_OF_RANGE`
   * unless 0 <= n < subBlockCount(prefix).
   */
  subBlock(prefix: number, n: bigint | number): Cidr {
    const count = this.subBlockCount(prefix);
    const index = typeof n === "bigint" ? n : toBigIntIndex(n);
    if (index < 0n || index >= count) {
      throw new BitmapError(
        "ADDRESS_OUT_OF_RANGE",
        `${this}: sub-block ${n} of /${prefix} is out of range (0-${count - 1n})`,
        { details: { cidr: this.toString(), prefix, n: String(n) } },
      );
    }
    return new Cidr(this.family, this.start + (index << BigInt(this.bits - prefix)), prefix);
  }

  /**
   * The index `n` such that `this.subBlock(child.prefix, n)` equals `child`.
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE` when `child` is not inside this block.
   */
  indexOfSubBlock(child: Cidr): bigint {
    if (!this.contains(child)) {
      throw new BitmapError("ADDRESS_OUT_OF_RANGE", `${child} is not inside ${this}`, {
        details: { cidr: this.toString(), child: child.toString() },
      });
    }
    return (child.start - this.start) >> BigInt(this.bits - child.prefix);
  }

  /**
   * Offset of `ip` from the network address (0 for the network address).
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE` when `ip` is not inside this block.
   */
  offsetOf(ip: Ip): bigint {
    if (!this.contains(ip)) {
      throw new BitmapError("ADDRESS_OUT_OF_RANGE", `${formatIp(ip)} is not inside ${this}`, {
        details: { cidr: this.toString(), ip: formatIp(ip) },
      });
    }
    return ipToBigInt(ip) - this.start;
  }

  /**
   * The address at `offset` from the network address; inverse of {@link offsetOf}.
   * @throws BitmapError `ADDRESS_OUT_OF_RANGE` unless 0 <= offset < size().
   */
  addressAt(offset: bigint | number): Ip {
    const index = typeof offset === "bigint" ? offset : toBigIntIndex(offset);
    if (index < 0n || index > this.end - this.start) {
      throw new BitmapError(
        "ADDRESS_OUT_OF_RANGE",
        `${this}: offset ${offset} is out of range (0-${this.end - this.start})`,
        { details: { cidr: this.toString(), offset: String(offset) } },
      );
    }
    return ipFromBigInt(this.family, this.start + index);
  }

  /** Canonical text: `10.0.0.0/24`, `2001:db8::/32` (RFC 5952 address form). */
  toString(): string {
    if (this.#text === undefined) this.#text = `${formatIp(this.first)}/${this.prefix}`;
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }

  /** Total order: family (4 first), then start address, then prefix length (shorter first). */
  static compare(a: Cidr, b: Cidr): number {
    if (a.family !== b.family) return a.family - b.family;
    if (a.start !== b.start) return a.start < b.start ? -1 : 1;
    return a.prefix - b.prefix;
  }

  #checkSubPrefix(prefix: number): void {
    if (!Number.isInteger(prefix) || prefix < this.prefix || prefix > this.bits) {
      throw new BitmapError(
        "INVALID_ARGUMENT",
        `${this}: sub-block prefix /${prefix} must be between /${this.prefix} and /${this.bits}`,
        { details: { cidr: this.toString(), prefix } },
      );
    }
  }
}

function maskStart(value: bigint, bits: number, prefix: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

function toBigIntIndex(n: number): bigint {
  if (!Number.isSafeInteger(n)) return -1n;
  return BigInt(n);
}

/** Returns the Cidr, or the error message naming the text. */
function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  if (slash < 0) return `${text} is not a valid CIDR (missing /prefix length)`;
  const ip = tryParseIp(text.slice(0, slash));
  if (ip === undefined) return `${text} is not a valid CIDR (bad address)`;
  const bits = ip.family === 4 ? 32 : 128;
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
    return `${text} is not a valid CIDR (prefix length must be 0-${bits})`;
  }
  const prefix = Number(prefixText);
  const value = ipToBigInt(ip);
  const start = maskStart(value, bits, prefix);
  if (start !== value) {
    const canonical = `${formatIp(ipFromBigInt(ip.family, start))}/${prefix}`;
    return `${text} has host bits set (did you mean ${canonical}?)`;
  }
  // Private constructor: reach it through fromIp, which masks (a no-op here).
  return Cidr.fromIp(ip, prefix);
}
