import fc from "fast-check";
import { Address6 } from "ip-address";
import { describe, expect, it } from "vitest";
import { BitmapError } from "./bitmap-error.js";
import { formatIPv6, IPV6_MAX, parseIPv6, tryParseIPv6 } from "./ipv6.js";

const u128 = fc.bigInt({ min: 0n, max: IPV6_MAX });

/** Addresses biased towards zero runs, where compression rules matter. */
const zeroHeavy = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  })
  .map((g) => g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n));

describe("parseIPv6", () => {
  it.each([
    ["::", 0n],
    ["::1", 1n],
    ["1::", 1n << 112n],
    ["2001:db8::1", 0x20010db8000000000000000000000001n],
    ["2001:DB8:0:0:0:0:0:1", 0x20010db8000000000000000000000001n],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", 0x20010db8000000000000000000000001n],
    ["1:2:3:4:5:6:7::", 0x00010002000300040005000600070000n],
    ["::2:3:4:5:6:7:8", 0x00000002000300040005000600070008n],
    ["1:2:3:4:5:6:7:8", 0x00010002000300040005000600070008n],
    ["::ffff:192.0.2.1", 0xffffc0000201n],
    ["64:ff9b::10.0.0.1", 0x0064ff9b00000000000000000a000001n],
    ["1:2:3:4:5:6:1.2.3.4", 0x00010002000300040005000601020304n],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", IPV6_MAX],
  ])("parses %s", (text, value) => {
    expect(parseIPv6(text)).toBe(value);
  });

  it.each([
    "",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "12345::",
    "g::",
    "fe80::1%eth0",
    "[::1]",
    "2001:db8::/32",
    " ::1",
    "1.2.3.4",
    "::1.2.3",
    "::1.2.3.4:5",
    "::256.1.1.1",
    "1:2:3:4:5:6:7:1.2.3.4",
  ])("rejects %j with INVALID_ADDRESS", (text) => {
    expect(tryParseIPv6(text)).toBeUndefined();
    expect(() => parseIPv6(text)).toThrow(BitmapError);
    try {
      parseIPv6(text);
    } catch (error) {
      expect((error as BitmapError).code).toBe("INVALID_ADDRESS");
      expect((error as BitmapError).message).toContain(JSON.stringify(text));
    }
  });

  it("agrees with the ip-address library on its own full and canonical forms (property)", () => {
    fc.assert(
      fc.property(fc.oneof(u128, zeroHeavy), (v) => {
        const a = Address6.fromBigInt(v);
        expect(parseIPv6(a.canonicalForm())).toBe(v);
        expect(parseIPv6(a.correctForm())).toBe(v);
        expect(parseIPv6(a.to4in6())).toBe(v);
      }),
    );
  });
});

describe("formatIPv6", () => {
  it.each([
    [0n, "::"],
    [1n, "::1"],
    [0x20010db8000000000000000000000001n, "2001:db8::1"],
    // a single zero group is not compressed
    [0x20010db8000000010001000100010001n, "2001:db8:0:1:1:1:1:1"],
    // the longest run wins
    [0x20010000000000010000000000000001n, "2001:0:0:1::1"],
    // on a tie the first run wins
    [0x20010db8000000010000000000000001n, "2001:db8:0:1::1"],
    [0x00010000000000020000000000000000n, "1:0:0:2::"],
    [0x00010000000000000002000000000003n, "1::2:0:0:3"],
    [0xffffc0000201n, "::ffff:192.0.2.1"],
    [0x20010db8abcdef000000000000000000n, "2001:db8:abcd:ef00::"],
  ])("formats %s as %s (RFC 5952)", (value, text) => {
    expect(formatIPv6(value)).toBe(text);
  });

  it("rejects values outside [0, 2^128)", () => {
    expect(() => formatIPv6(-1n)).toThrow(BitmapError);
    expect(() => formatIPv6(IPV6_MAX + 1n)).toThrow(BitmapError);
  });

  it("round-trips and matches ip-address's RFC 5952 form (property)", () => {
    fc.assert(
      fc.property(fc.oneof(u128, zeroHeavy), (v) => {
        const text = formatIPv6(v);
        expect(parseIPv6(text)).toBe(v);
        expect(text).toBe(text.toLowerCase());
        // ip-address prints IPv4-mapped addresses in hex; compare only other addresses.
        if (v >> 32n !== 0xffffn) expect(text).toBe(Address6.fromBigInt(v).correctForm());
      }),
      { numRuns: 500 },
    );
  });
});
