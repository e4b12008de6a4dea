import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BitmapError } from "./bitmap-error.js";
import { formatIPv4, parseIPv4, tryParseIPv4 } from "./ipv4.js";

describe("parseIPv4", () => {
  it("parses dotted quads to uint32", () => {
    expect(parseIPv4("0.0.0.0")).toBe(0);
    expect(parseIPv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIPv4("192.168.1.255")).toBe(0xc0a801ff);
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff);
  });

  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.256",
    "01.2.3.4",
    "1.2.3.04",
    "1..2.3",
    "1.2.3.4.",
    ".1.2.3.4",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.4/24",
    "1.2.3.-4",
    "a.b.c.d",
    "1234.1.1.1",
    "::1",
  ])("rejects %j with INVALID_ADDRESS naming the text", (text) => {
    expect(tryParseIPv4(text)).toBeUndefined();
    let caught: unknown;
    try {
      parseIPv4(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BitmapError);
    expect((caught as BitmapError).code).toBe("INVALID_ADDRESS");
    expect((caught as BitmapError).message).toContain(JSON.stringify(text));
  });
});

describe("formatIPv4", () => {
  it("formats uint32 as dotted quad", () => {
    expect(formatIPv4(0)).toBe("0.0.0.0");
    expect(formatIPv4(0xc0a80001)).toBe("192.168.0.1");
    expect(formatIPv4(0xffffffff)).toBe("255.255.255.255");
  });

  it("rejects values that are not uint32", () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => formatIPv4(bad)).toThrow(BitmapError);
    }
  });

  it("round-trips every uint32 (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        expect(parseIPv4(formatIPv4(v))).toBe(v);
      }),
    );
  });

  it("agrees with a byte-wise reference formatting (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
        (b) => {
          const text = b.join(".");
          const v = parseIPv4(text);
          expect(formatIPv4(v)).toBe(text);
        },
      ),
    );
  });
});
