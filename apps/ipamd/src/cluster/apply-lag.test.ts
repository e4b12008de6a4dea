import { describe, expect, it } from "vitest";
import { ApplyLag } from "./apply-lag.js";

describe("ApplyLag", () => {
  it("is not lagging while every announced commit index is applied within the bound, even under a steady stream", () => {
    const lag = new ApplyLag(1000);
    // Applied is always a little behind the newest commit index, but each index is applied fast.
    for (let t = 0; t <= 10_000; t += 100) lag.observe(t, t / 10, t / 10 + 5);
    expect(lag.lagging(10_000)).toBeUndefined();
  });

  it("lags once an announced commit index waits longer than the bound, and names it", () => {
    const lag = new ApplyLag(1000);
    lag.observe(0, 40, 100);
    lag.observe(500, 40, 120);
    expect(lag.lagging(1000)).toBeUndefined();
    lag.observe(1500, 41, 130);
    expect(lag.lagging(1500)).toEqual({ target: 100, applied: 41, forMs: 1500 });
    // Caught up: applied reached the target; the next target starts a new wait.
    lag.observe(1600, 100, 130);
    expect(lag.lagging(1600)).toBeUndefined();
  });

  it("knows no lag without a leader's commit index (0)", () => {
    const lag = new ApplyLag(10);
    lag.observe(0, 5, 0);
    expect(lag.lagging(1000)).toBeUndefined();
  });
});
