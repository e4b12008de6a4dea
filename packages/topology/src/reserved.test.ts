import { Cidr } from "@ipam/bitmap";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SubnetConfig } from "./config-schema.js";
import { normalizeSubnet } from "./normalize.js";
import { reservedIntervals } from "./reserved.js";

function subnet(raw: SubnetConfig) {
  const issues: Array<{ path: string; message: string }> = [];
  const result = normalizeSubnet(raw, { kind: "tor", id: "t" }, "", issues);
  expect(issues).toEqual([]);
  return result!.subnet;
}

const v4 = (text: string) => BigInt(Cidr.parse(`${text}/32`).start);

describe("reservedIntervals", () => {
  it("covers network, broadcast, gateway and configured ranges of an IPv4 subnet, merged", () => {
    const s = subnet({ cidr: "10.0.0.0/24", reserved: ["10.0.0.2-10.0.0.5", "10.0.0.128/30"] });
    expect(reservedIntervals(s)).toEqual([
      { start: v4("10.0.0.0"), end: v4("10.0.0.5") },
      { start: v4("10.0.0.128"), end: v4("10.0.0.131") },
      { start: v4("10.0.0.255"), end: v4("10.0.0.255") },
    ]);
  });

  it("reserves nothing implicit in /31 and /32, and no gateway when it is none", () => {
    expect(reservedIntervals(subnet({ cidr: "10.0.0.0/31" }))).toEqual([]);
    expect(reservedIntervals(subnet({ cidr: "10.0.0.0/24", gateway: "none" }))).toEqual([
      { start: v4("10.0.0.0"), end: v4("10.0.0.0") },
      { start: v4("10.0.0.255"), end: v4("10.0.0.255") },
    ]);
  });

  it("reserves the IPv6 subnet-router anycast address and the gateway, not the last address", () => {
    const base = Cidr.parse("fd00::/64").start;
    expect(reservedIntervals(subnet({ cidr: "fd00::/64", gateway: "fd00::9" }))).toEqual([
      { start: base, end: base },
      { start: base + 9n, end: base + 9n },
    ]);
  });

  it("agrees with a per-address model", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 24, max: 32 }),
        fc.array(fc.tuple(fc.nat(255), fc.nat(255)), { maxLength: 4 }),
        fc.option(fc.nat(255)),
        (prefix, ranges, gw) => {
          const cidr = Cidr.parse(`10.0.0.0/${prefix}`);
          const size = Number(cidr.size());
          const fit = (n: number) => n % size;
          const reserved = ranges.map(([a, b]) => {
            const [lo, hi] = [fit(a), fit(b)].sort((x, y) => x - y) as [number, number];
            return `10.0.0.${lo}-10.0.0.${hi}`;
          });
          const usable = (n: number) => size < 4 || (n !== 0 && n !== size - 1);
          const gateway = gw === null || !usable(fit(gw)) ? "none" : `10.0.0.${fit(gw)}`;
          const s = subnet({ cidr: cidr.toString(), reserved, gateway });
          const expected = new Set<number>();
          if (size >= 4) expected.add(0).add(size - 1);
          if (gateway !== "none") expected.add(fit(gw as number));
          for (const r of reserved) {
            const [lo, hi] = r.split("-").map((t) => Number(t.split(".")[3])) as [number, number];
            for (let n = lo; n <= hi; n++) expected.add(n);
          }
          const got = new Set<number>();
          const intervals = reservedIntervals(s);
          intervals.forEach((r, i) => {
            if (i > 0) expect(r.start).toBeGreaterThan((intervals[i - 1]?.end ?? 0n) + 1n);
            for (let v = r.start; v <= r.end; v++) got.add(Number(v - cidr.start));
          });
          expect([...got].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
        },
      ),
      { numRuns: 200 },
    );
  });
});
