import { BitmapError } from "./bitmap-error.js";
import { formatIPv4, scanIPv4 } from "./ipv4.js";

/** 2^128 - 1: the largest IPv6 address value. */
export const IPV6_MAX = (1n << 128n) - 1n;

const CHAR_COLON = 58;
const CHAR_DOT = 46;

/**
 * Parses any RFC 4291 §2.2 textual IPv6 address into a bigint in [0, 2^128):
 * full (`2001:db8:0:0:0:0:0:1`), compressed (`2001:db8::1`, `::`), and with an
 * embedded IPv4 tail (`::ffff:192.0.2.1`, `64:ff9b::10.0.0.1`). Hex digits in
 * either case. Rejected: zone ids (`%eth0`), brackets, prefixes, whitespace,
 * groups of more than four digits, more than one `::`.
 * @throws BitmapError `INVALID_ADDRESS` naming the text.
 */
export function parseIPv6(text: string): bigint {
  const value = scanIPv6(text);
  if (value === undefined) {
    throw new BitmapError(
      "INVALID_ADDRESS",
      `${JSON.stringify(text)} is not a valid IPv6 address`,
      { details: { text } },
    );
  }
  return value;
}

/** Like {@link parseIPv6} but returns `undefined` instead of throwing. */
export function tryParseIPv6(text: string): bigint | undefined {
  return scanIPv6(text);
}

// Scratch buffer for the eight 16-bit groups; the parser is synchronous, so one
// module-level buffer is safe and keeps parsing allocation-light.
const groups = new Uint16Array(8);

function scanIPv6(text: string): bigint | undefined {
  const n = text.length;
  if (n < 2 || n > 45) return undefined;
  let count = 0; // groups written
  let gap = -1; // index in `groups` where `::` stands
  let i = 0;
  if (text.charCodeAt(0) === CHAR_COLON) {
    if (text.charCodeAt(1) !== CHAR_COLON) return undefined;
    gap = 0;
    i = 2;
    if (i === n) return 0n;
  }
  for (;;) {
    // One group (or an IPv4 tail) starting at i.
    let group = 0;
    let digits = 0;
    const start = i;
    while (i < n) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      group = (group << 4) | h;
      digits++;
      i++;
    }
    if (i < n && text.charCodeAt(i) === CHAR_DOT) {
      // Embedded IPv4: must be the last 32 bits of the text.
      if (count > 6) return undefined;
      const v4 = scanIPv4(text, start, n);
      if (v4 < 0) return undefined;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return undefined;
    groups[count++] = group;
    if (i === n) break;
    if (text.charCodeAt(i) !== CHAR_COLON) return undefined;
    i++;
    if (i === n) return undefined; // trailing single colon
    if (text.charCodeAt(i) === CHAR_COLON) {
      if (gap >= 0) return undefined; // a second `::`
      gap = count;
      i++;
      if (i === n) break;
    }
  }
  if (gap < 0) {
    if (count !== 8) return undefined;
  } else {
    if (count > 7) return undefined;
    const tail = count - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  const hi =
    (BigInt(((groups[0]! << 16) | groups[1]!) >>> 0) << 32n) |
    BigInt(((groups[2]! << 16) | groups[3]!) >>> 0);
  const lo =
    (BigInt(((groups[4]! << 16) | groups[5]!) >>> 0) << 32n) |
    BigInt(((groups[6]! << 16) | groups[7]!) >>> 0);
  return (hi << 64n) | lo;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Formats an IPv6 address in RFC 5952 canonical form: lowercase hex, no
 * leading zeros in a group, the longest run of two or more zero groups
 * (the first on a tie) compressed to `::`. IPv4-mapped addresses
 * (`::ffff:0:0/96`) keep their dotted tail, as RFC 5952 §5 recommends
 * (`::ffff:192.0.2.1`).
 * @throws BitmapError `INVALID_ADDRESS` when `value` is outside [0, 2^128).
 */
export function formatIPv6(value: bigint): string {
  if (value < 0n || value > IPV6_MAX) {
    throw new BitmapError("INVALID_ADDRESS", `${value} is not an IPv6 address (0 to 2^128-1)`, {
      details: { value: value.toString() },
    });
  }
  const w0 = Number(value >> 96n);
  const w1 = Number((value >> 64n) & 0xffffffffn);
  const w2 = Number((value >> 32n) & 0xffffffffn);
  const w3 = Number(value & 0xffffffffn);
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${formatIPv4(w3)}`;
  groups[0] = w0 >>> 16;
  groups[1] = w0 & 0xffff;
  groups[2] = w1 >>> 16;
  groups[3] = w1 & 0xffff;
  groups[4] = w2 >>> 16;
  groups[5] = w2 & 0xffff;
  groups[6] = w3 >>> 16;
  groups[7] = w3 & 0xffff;
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (RFC 5952 §4.2.2)
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && groups[end] === 0) end++;
    if (end - k > bestLen) {
      bestStart = k;
      bestLen = end - k;
    }
    k = end;
  }
  let out = "";
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      out += "::";
      k += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(":")) out += ":";
    out += groups[k]!.toString(16);
  }
  return out;
}
