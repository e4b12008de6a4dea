import { BitmapError } from "./bitmap-error.js";
import { formatIPv4, tryParseIPv4 } from "./ipv4.js";
import { formatIPv6, IPV6_MAX, tryParseIPv6 } from "./ipv6.js";

/** An address family: 4 or 6. */
export type IpFamily = 4 | 6;

/**
 * An address of either family. IPv4 values are uint32 `number`s, IPv6 values
 * `bigint`s in [0, 2^128). Plain data: compare with {@link ipEquals}, not `===`.
 */
export type Ip =
  | { readonly family: 4; readonly value: number }
  | { readonly family: 6; readonly value: bigint };

/** An IPv4 {@link Ip}. @throws BitmapError `INVALID_ADDRESS` unless `value` is a uint32. */
export function ipv4(value: number): Ip {
  if (value >>> 0 !== value) {
    throw new BitmapError("INVALID_ADDRESS", `${value} is not an IPv4 address (a uint32)`, {
      details: { value },
    });
  }
  return { family: 4, value };
}

/** An IPv6 {@link Ip}. @throws BitmapError `INVALID_ADDRESS` unless 0 <= value < 2^128. */
export function ipv6(value: bigint): Ip {
  if (value < 0n || value > IPV6_MAX) {
    throw new BitmapError("INVALID_ADDRESS", `${value} is not an IPv6 address (0 to 2^128-1)`, {
      details: { value: value.toString() },
    });
  }
  return { family: 6, value };
}

/**
 * Parses an address of either family: text with a `:` is IPv6 (including
 * `::ffff:192.0.2.1`), otherwise IPv4 dotted quad.
 * @throws BitmapError `INVALID_ADDRESS` naming the text.
 */
export function parseIp(text: string): Ip {
  const ip = tryParseIp(text);
  if (ip === undefined) {
    throw new BitmapError("INVALID_ADDRESS", `${JSON.stringify(text)} is not a valid IP address`, {
      details: { text },
    });
  }
  return ip;
}

/** Like {@link parseIp} but returns `undefined` instead of throwing. */
export function tryParseIp(text: string): Ip | undefined {
  if (text.includes(":")) {
    const value = tryParseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = tryParseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** Formats an address: dotted quad for IPv4, RFC 5952 canonical text for IPv6. */
export function formatIp(ip: Ip): string {
  return ip.family === 4 ? formatIPv4(ip.value) : formatIPv6(ip.value);
}

/** The address value as a bigint, for either family (interval math, sorting). */
export function ipToBigInt(ip: Ip): bigint {
  return ip.family === 4 ? BigInt(ip.value) : ip.value;
}

/**
 * The address of `family` with the given bigint value.
 * @throws BitmapError `INVALID_ADDRESS` when the value is out of the family's range.
 */
export function ipFromBigInt(family: IpFamily, value: bigint): Ip {
  if (family === 4) {
    if (value < 0n || value > 0xffffffffn) {
      throw new BitmapError("INVALID_ADDRESS", `${value} is not an IPv4 address (a uint32)`, {
        details: { value: value.toString() },
      });
    }
    return { family: 4, value: Number(value) };
  }
  return ipv6(value);
}

/** True when both addresses have the same family and value. */
export function ipEquals(a: Ip, b: Ip): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Total order: IPv4 before IPv6, then by value. Returns a negative, zero or positive number. */
export function compareIp(a: Ip, b: Ip): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}
