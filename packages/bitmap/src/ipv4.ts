import { BitmapError } from "./bitmap-error.js";

const CHAR_0 = 48;
const CHAR_DOT = 46;

/**
 * Parses a dotted-quad IPv4 address (`192.0.2.1`) into a uint32.
 * Strict: exactly four decimal octets 0-255, no leading zeros (`010` is
 * ambiguous: octal in some parsers), no whitespace, no prefix or port.
 * @throws BitmapError `INVALID_ADDRESS` naming the text.
 */
export function parseIPv4(text: string): number {
  const value = scanIPv4(text, 0, text.length);
  if (value < 0) throw invalidIPv4(text);
  return value;
}

/** Like {@link parseIPv4} but returns `undefined` instead of throwing. */
export function tryParseIPv4(text: string): number | undefined {
  const value = scanIPv4(text, 0, text.length);
  return value < 0 ? undefined : value;
}

/**
 * Scans `text[from, to)` as a dotted quad. Returns the uint32 value, or -1 when
 * the slice is not a valid address. Allocation-free; shared with the IPv6
 * parser for embedded IPv4 tails.
 */
export function scanIPv4(text: string, from: number, to: number): number {
  let value = 0;
  let octets = 0;
  let i = from;
  while (i <= to) {
    let octet = 0;
    let digits = 0;
    const start = i;
    while (i < to) {
      const c = text.charCodeAt(i) - CHAR_0;
      if (c < 0 || c > 9) break;
      octet = octet * 10 + c;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || octet > 255) return -1;
    if (digits > 1 && text.charCodeAt(start) === CHAR_0) return -1;
    value = value * 256 + octet;
    octets++;
    if (i === to) break;
    if (text.charCodeAt(i) !== CHAR_DOT || octets === 4) return -1;
    i++;
  }
  return octets === 4 ? value : -1;
}

/**
 * Formats a uint32 as a dotted quad. Hot path: one string, no other allocation.
 * @throws BitmapError `INVALID_ADDRESS` when `value` is not an integer in [0, 2^32).
 */
export function formatIPv4(value: number): string {
  if (value >>> 0 !== value) {
    throw new BitmapError("INVALID_ADDRESS", `${value} is not an IPv4 address (a uint32)`, {
      details: { value },
    });
  }
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function invalidIPv4(text: string): BitmapError {
  return new BitmapError("INVALID_ADDRESS", `${JSON.stringify(text)} is not a valid IPv4 address`, {
    details: { text },
  });
}
