import { describe, expect, it } from "vitest";
import type { BenchRow } from "./bench-row.js";
import { withBaseline } from "./with-baseline.js";

const row = (name: string, value: number, unit = "ms"): BenchRow => ({
  name,
  unit,
  value,
  p50: value,
  p99: value * 2,
  samples: 10,
});

describe("withBaseline", () => {
  it("for costs gives baseline / this, above 1 when this is faster", () => {
    const ours = withBaseline(row("ours", 2), row("naive", 82.6));
    expect(ours).toEqual({ ...row("ours", 2), baseline: "naive", ratio: 41.3 });
    expect(withBaseline(row("ours", 4), row("naive", 2)).ratio).toBe(0.5);
  });

  it("for rates gives this / baseline, above 1 when this is faster", () => {
    const group = withBaseline(row("group", 6000, "saves/s"), row("single", 1500), "higher");
    expect(group.ratio).toBe(4);
    expect(group.baseline).toBe("single");
  });

  it("returns a copy and leaves both rows unchanged", () => {
    const ours = row("ours", 2);
    const base = row("naive", 4);
    const compared = withBaseline(ours, base);
    expect(compared).not.toBe(ours);
    expect(ours).toEqual(row("ours", 2));
    expect(base).toEqual(row("naive", 4));
  });
});
