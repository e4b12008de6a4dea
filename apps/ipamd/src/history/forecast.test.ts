import { describe, expect, it } from "vitest";
import { forecast, rSquared } from "./forecast.js";
import { holdersAt } from "./holders.js";

const subnet = {
  id: "s1",
  purpose: "default",
  family: 4 as const,
  zone: "z",
  pod: "p",
  tor: "t",
  capacity: 1000n,
  leased: 256n,
  held: 400n,
};
const HOUR = 3_600_000;

describe("forecast", () => {
  it("divides the free addresses by the net rate over the window", () => {
    // 24 buckets of an hour, 10 net allocations each: 10 per hour, 600 free → 60 h.
    const growth = Array.from({ length: 24 }, (_, bucket) => ({
      subnet: "s1",
      bucket,
      allocated: 12,
      released: 2,
    }));
    const [row] = forecast({
      subnets: [subnet],
      growth,
      windowStart: 0,
      windowEnd: 24 * HOUR,
      bucketMs: HOUR,
    });
    expect(row?.ratePerHour).toBeCloseTo(10);
    expect(row?.fullInSeconds).toBeCloseTo(60 * 3600);
    expect(row?.samples).toBe(24 * 14);
    expect(row?.rSquared).toBeCloseTo(1);
  });

  it("says no growth (no time to full) when releases match allocations or nothing happened", () => {
    const flat = forecast({
      subnets: [subnet],
      growth: [{ subnet: "s1", bucket: 0, allocated: 5, released: 5 }],
      windowStart: 0,
      windowEnd: HOUR,
      bucketMs: HOUR,
    });
    expect(flat[0]?.fullInSeconds).toBeUndefined();
    expect(flat[0]?.samples).toBe(10);
    const none = forecast({
      subnets: [subnet],
      growth: [],
      windowStart: 5,
      windowEnd: 5,
      bucketMs: 1,
    });
    expect(none[0]).toMatchObject({ ratePerHour: 0, samples: 0, rSquared: 0, windowMs: 0 });
    expect(none[0]?.fullInSeconds).toBeUndefined();
  });

  it("groups subnets of one place, purpose and family", () => {
    const rows = forecast({
      subnets: [
        subnet,
        { ...subnet, id: "s2", capacity: 24n, held: 0n },
        { ...subnet, id: "s6", family: 6 },
      ],
      growth: [],
      windowStart: 0,
      windowEnd: HOUR,
      bucketMs: HOUR,
    });
    expect(rows.map((r) => [r.family, r.capacity, r.held])).toEqual([
      [4, 1024n, 400n],
      [6, 1000n, 400n],
    ]);
  });

  it("rates a straight series R² 1 and a jump lower", () => {
    expect(rSquared([1, 1, 1, 1], 1)).toBeCloseTo(1);
    expect(rSquared([0, 0, 0, 8], 1)).toBeLessThan(0.8);
    expect(rSquared([0, 0], 1)).toBe(0);
  });
});

describe("holdersAt", () => {
  const e = (at: number, event: "allocate" | "release", containerId: string) => ({
    node: "x",
    journal: "j",
    seq: at,
    at,
    event,
    address: "10.0.0.1",
    network: "n",
    containerId,
    ifname: "eth0",
    purpose: "default",
  });
  const events = [e(10, "allocate", "a"), e(20, "release", "a"), e(30, "allocate", "b")];

  it("names the key that held the address at the time, none between holders", () => {
    expect(holdersAt(events, 5)).toEqual([]);
    expect(holdersAt(events, 10).map((h) => h.containerId)).toEqual(["a"]);
    expect(holdersAt(events, 20)).toEqual([]);
    expect(holdersAt(events, 31).map((h) => h.containerId)).toEqual(["b"]);
  });
});
