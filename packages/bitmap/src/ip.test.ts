import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BitmapError } from "./bitmap-error.js";
import {
  compareIp,
  formatIp,
  ipEquals,
  ipFromBigInt,
  ipToBigInt,
  ipv4,
  ipv6,
  parseIp,
  tryParseIp,
} from "./ip.js";

describe("parseIp / formatIp", () => {
  it("detects the family from the text", () => {
    expect(parseIp("10.1.2.3")).toEqual({ family: 4, value: 0x0a010203 });
    expect(parseIp("fd00::1")).toEqual({ family: 6, value: (0xfd00n << 112n) | 1n });
    expect(parseIp("::ffff:10.1.2.3")).toEqual({ family: 6, value: 0xffff0a010203n });
  });

  it("rejects garbage with INVALID_ADDRESS and tryParseIp returns undefined", () => {
    for (const text of ["", "x", "10.0.0.256", "1::2::3", "10.0.0.0/8"]) {
      expect(tryParseIp(text)).toBeUndefined();
      expect(() => parseIp(text)).toThrow(BitmapError);
    }
  });

  it("formats both families and round-trips (property)", () => {
    const anyIp = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }).map((v) => ipv4(v)),
      fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => ipv6(v)),
    );
    fc.assert(
      fc.property(anyIp, (ip) => {
        expect(parseIp(formatIp(ip))).toEqual(ip);
        expect(ipFromBigInt(ip.family, ipToBigInt(ip))).toEqual(ip);
      }),
    );
  });
});

describe("constructors and comparison", () => {
  it("validate their range", () => {
    expect(() => ipv4(-1)).toThrow(BitmapError);
    expect(() => ipv4(2 ** 32)).toThrow(BitmapError);
    expect(() => ipv6(-1n)).toThrow(BitmapError);
    expect(() => ipv6(1n << 128n)).toThrow(BitmapError);
    expect(() => ipFromBigInt(4, 1n << 32n)).toThrow(BitmapError);
  });

  it("orders IPv4 before IPv6, then by value", () => {
    const sorted = ["::1", "10.0.0.2", "::", "10.0.0.1"].map(parseIp).sort(compareIp).map(formatIp);
    expect(sorted).toEqual(["10.0.0.1", "10.0.0.2", "::", "::1"]);
    expect(ipEquals(parseIp("10.0.0.1"), ipv4(0x0a000001))).toBe(true);
    expect(ipEquals(ipv4(1), ipv6(1n))).toBe(false);
  });
});
