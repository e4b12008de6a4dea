import { loadavg } from "node:os";
import { describe, expect, it } from "vitest";
import { summarize } from "./summarize.js";

describe("summarize", () => {
  it("reports the median as value and p50, the 99th percentile as p99, rounded", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i + 0.123); // unsorted
    expect(summarize("op", "ns/op", samples, { loadavg: [1.5, 2, 3] })).toEqual({
      name: "op",
      unit: "ns/op",
      value: 50.1,
      p50: 50.1,
      p99: 99.1,
      samples: 100,
      loadavg: [1.5, 2, 3],
    });
  });

  it("does not reorder the caller's samples", () => {
    const samples = [3, 1, 2];
    summarize("op", "ms", samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it("takes the operation count for samples and can leave numbers unrounded", () => {
    const row = summarize("batched", "ns/op", [1.23456, 2.34567, 3.45678], {
      count: 30_000,
      round: false,
    });
    expect(row).toMatchObject({ value: 2.34567, p50: 2.34567, p99: 3.45678, samples: 30_000 });
  });

  it("for rates reports the 1st percentile (the slowest run) as p99", () => {
    const row = summarize("commits", "commits/s", [900, 1000, 1100], { better: "higher" });
    expect(row).toMatchObject({ value: 1000, p50: 1000, p99: 900, samples: 3 });
  });

  it("summarises a single measurement into a row where every statistic is that number", () => {
    expect(summarize("size", "MB", [12.345], { count: 1 })).toMatchObject({
      value: 12.3,
      p50: 12.3,
      p99: 12.3,
      samples: 1,
    });
  });

  it("records the machine's load averages when the row is summarised", () => {
    const before = loadavg();
    const row = summarize("op", "ns/op", [1, 2, 3]);
    const after = loadavg();
    expect(row.loadavg).toHaveLength(3);
    row.loadavg?.forEach((load, i) => {
      const low = Math.min(before[i]!, after[i]!);
      const high = Math.max(before[i]!, after[i]!);
      expect(load).toBeGreaterThanOrEqual(Math.floor(low * 100) / 100);
      expect(load).toBeLessThanOrEqual(Math.ceil(high * 100) / 100);
    });
  });

  it("refuses an empty sample list, naming the row", () => {
    expect(() => summarize("nothing ran", "ms", [])).toThrow(/nothing ran.*no samples/);
  });
});
