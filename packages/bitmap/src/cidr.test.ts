import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BitmapError } from "./bitmap-error.js";
import { Cidr } from "./cidr.js";
import { formatIp, ipv4, ipv6, parseIp } from "./ip.js";

function errorOf(fn: () => unknown): BitmapError {
  try {
    fn();
  } catch (error) {
    if (error instanceof BitmapError) return error;
    throw error;
  }
  throw new Error("expected a BitmapError");
}

const v4Cidr = fc
  .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
  .map(([v, p]) => Cidr.fromIp(ipv4(v), p));
const v6Cidr = fc
  .tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: 128 }))
  .map(([v, p]) => Cidr.fromIp(ipv6(v), p));
const anyCidr = fc.oneof(v4Cidr, v6Cidr);

describe("Cidr.parse", () => {
  it("parses canonical IPv4 and IPv6 blocks", () => {
    const a = Cidr.parse("10.0.0.0/24");
    expect(a.family).toBe(4);
    expect(a.bits).toBe(32);
    expect(a.prefix).toBe(24);
    expect(a.start).toBe(0x0a000000n);
    expect(a.end).toBe(0x0a0000ffn);
    expect(formatIp(a.first)).toBe("10.0.0.0");
    expect(formatIp(a.last)).toBe("10.0.0.255");
    expect(a.size()).toBe(256n);

    const b = Cidr.parse("2001:DB8::/32");
    expect(b.family).toBe(6);
    expect(b.bits).toBe(128);
    expect(b.toString()).toBe("2001:db8::/32");
    expect(b.size()).toBe(1n << 96n);
    expect(formatIp(b.last)).toBe("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");

    expect(Cidr.parse("0.0.0.0/0").size()).toBe(1n << 32n);
    expect(Cidr.parse("::/0").size()).toBe(1n << 128n);
    expect(Cidr.parse("10.1.2.3/32").size()).toBe(1n);
  });

  it("rejects host bits set and suggests the canonical block", () => {
    const e = errorOf(() => Cidr.parse("10.0.0.1/24"));
    expect(e.code).toBe("INVALID_CIDR");
    expect(e.message).toBe("10.0.0.1/24 has host bits set (did you mean 10.0.0.0/24?)");
    const e6 = errorOf(() => Cidr.parse("2001:db8::1/64"));
    expect(e6.message).toBe("2001:db8::1/64 has host bits set (did you mean 2001:db8::/64?)");
    expect(Cidr.tryParse("10.0.0.1/24")).toBeUndefined();
  });

  it.each([
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0",
    "10.0.0.0/",
    "10.0.0.0/024",
    "10.0.0.0/-1",
    "10.0.0.0/8/8",
    "10.0.0/8",
    "garbage",
    "",
    " 10.0.0.0/8",
  ])("rejects %j with INVALID_CIDR naming the text", (text) => {
    const e = errorOf(() => Cidr.parse(text));
    expect(e.code).toBe("INVALID_CIDR");
    expect(e.message).toContain(text);
    expect(Cidr.tryParse(text)).toBeUndefined();
  });

  it("round-trips parse -> toString for both families (property)", () => {
    fc.assert(
      fc.property(anyCidr, (c) => {
        const again = Cidr.parse(c.toString());
        expect(again.equals(c)).toBe(true);
        expect(again.toString()).toBe(c.toString());
      }),
    );
  });
});

describe("Cidr.fromIp", () => {
  it("masks host bits", () => {
    expect(Cidr.fromIp(parseIp("10.1.2.3"), 16).toString()).toBe("10.1.0.0/16");
    expect(Cidr.fromIp(parseIp("2001:db8::ff"), 120).toString()).toBe("2001:db8::/120");
  });

  it("rejects a bad prefix", () => {
    expect(errorOf(() => Cidr.fromIp(ipv4(0), 33)).code).toBe("INVALID_CIDR");
    expect(errorOf(() => Cidr.fromIp(ipv6(0n), -1)).code).toBe("INVALID_CIDR");
    expect(errorOf(() => Cidr.fromIp(ipv4(0), 1.5)).code).toBe("INVALID_CIDR");
  });
});

describe("contains / overlaps / equals / compare", () => {
  const net = Cidr.parse("10.0.0.0/16");
  it("contains addresses and blocks of the same family only", () => {
    expect(net.contains(parseIp("10.0.255.255"))).toBe(true);
    expect(net.contains(parseIp("10.1.0.0"))).toBe(false);
    expect(net.contains(Cidr.parse("10.0.4.0/24"))).toBe(true);
    expect(net.contains(Cidr.parse("10.0.0.0/8"))).toBe(false);
    expect(net.contains(net)).toBe(true);
    expect(net.contains(parseIp("::a00:1"))).toBe(false);
  });

  it("overlaps", () => {
    expect(net.overlaps(Cidr.parse("10.0.0.0/8"))).toBe(true);
    expect(net.overlaps(Cidr.parse("10.0.200.0/24"))).toBe(true);
    expect(net.overlaps(Cidr.parse("10.1.0.0/16"))).toBe(false);
    expect(Cidr.parse("::/0").overlaps(net)).toBe(false);
  });

  it("overlaps exactly when one contains the other (property)", () => {
    fc.assert(
      fc.property(v4Cidr, v4Cidr, (a, b) => {
        expect(a.overlaps(b)).toBe(a.contains(b) || b.contains(a));
        expect(a.overlaps(b)).toBe(b.overlaps(a));
      }),
    );
  });

  it("sorts by family, then start, then prefix", () => {
    const sorted = ["10.0.0.0/24", "::/0", "10.0.0.0/8", "9.0.0.0/8", "2001:db8::/32"]
      .map((t) => Cidr.parse(t))
      .sort(Cidr.compare)
      .map(String);
    expect(sorted).toEqual(["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/24", "::/0", "2001:db8::/32"]);
    expect(net.equals(Cidr.parse("10.0.0.0/16"))).toBe(true);
    expect(net.equals(Cidr.parse("10.0.0.0/17"))).toBe(false);
  });
});

describe("sub-blocks", () => {
  it("carves the nth sub-block and finds its index again", () => {
    const pool = Cidr.parse("10.0.0.0/16");
    expect(pool.subBlockCount(26)).toBe(1024n);
    expect(pool.subBlock(26, 0n).toString()).toBe("10.0.0.0/26");
    expect(pool.subBlock(26, 5).toString()).toBe("10.0.1.64/26");
    expect(pool.subBlock(26, 1023n).toString()).toBe("10.0.255.192/26");
    expect(pool.indexOfSubBlock(Cidr.parse("10.0.1.64/26"))).toBe(5n);
    expect(pool.subBlock(16, 0n).equals(pool)).toBe(true);

    const v6 = Cidr.parse("fd00::/48");
    expect(v6.subBlockCount(122)).toBe(1n << 74n);
    expect(v6.subBlock(122, (1n << 74n) - 1n).toString()).toBe(
      "fd00::ffff:ffff:ffff:ffff:ffc0/122",
    );
  });

  it("rejects bad prefixes and indexes", () => {
    const pool = Cidr.parse("10.0.0.0/16");
    expect(errorOf(() => pool.subBlockCount(15)).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => pool.subBlockCount(33)).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => pool.subBlock(24, 256n)).code).toBe("ADDRESS_OUT_OF_RANGE");
    expect(errorOf(() => pool.subBlock(24, -1n)).code).toBe("ADDRESS_OUT_OF_RANGE");
    expect(errorOf(() => pool.indexOfSubBlock(Cidr.parse("10.1.0.0/24"))).code).toBe(
      "ADDRESS_OUT_OF_RANGE",
    );
  });

  it("indexOfSubBlock inverts subBlock (property)", () => {
    fc.assert(
      fc.property(
        anyCidr,
        fc.integer({ min: 0, max: 128 }),
        fc.bigInt({ min: 0n, max: 1n << 128n }),
        (parent, extra, seed) => {
          const prefix = Math.min(parent.bits, parent.prefix + (extra % 40));
          const n = seed % parent.subBlockCount(prefix);
          const child = parent.subBlock(prefix, n);
          expect(parent.contains(child)).toBe(true);
          expect(child.prefix).toBe(prefix);
          expect(parent.indexOfSubBlock(child)).toBe(n);
        },
      ),
    );
  });
});

describe("offsets", () => {
  it("maps address <-> offset", () => {
    const c = Cidr.parse("192.168.10.0/24");
    expect(c.offsetOf(parseIp("192.168.10.7"))).toBe(7n);
    expect(formatIp(c.addressAt(255n))).toBe("192.168.10.255");
    expect(errorOf(() => c.addressAt(256n)).code).toBe("ADDRESS_OUT_OF_RANGE");
    expect(errorOf(() => c.offsetOf(parseIp("192.168.11.0"))).code).toBe("ADDRESS_OUT_OF_RANGE");
    expect(errorOf(() => c.offsetOf(parseIp("::1"))).code).toBe("ADDRESS_OUT_OF_RANGE");
  });

  it("addressAt inverts offsetOf (property)", () => {
    fc.assert(
      fc.property(anyCidr, fc.bigInt({ min: 0n, max: 1n << 128n }), (c, seed) => {
        const offset = seed % c.size();
        const ip = c.addressAt(offset);
        expect(c.contains(ip)).toBe(true);
        expect(c.offsetOf(ip)).toBe(offset);
      }),
    );
  });
});
