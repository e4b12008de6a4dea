import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parseExposition, sampleValue } from "../test/exposition.js";
import { MetricsError } from "./metrics-error.js";
import { timeAsync } from "./time-async.js";

function setup() {
  const registry = new Registry();
  const histogram = new Histogram<"op" | "result">({
    name: "t_seconds",
    help: "t",
    labelNames: ["op", "result"],
    buckets: [1, 10],
    registers: [registry],
  });
  const counter = new Counter<"op" | "result">({
    name: "t_total",
    help: "t",
    labelNames: ["op", "result"],
    registers: [registry],
  });
  let t = 0;
  const clock = {
    now: () => t,
    advance: (s: number) => {
      t += s;
    },
  };
  const scrape = async () => parseExposition(await registry.metrics());
  return { histogram, counter, clock, scrape };
}

describe("timeAsync", () => {
  it("records the duration with result ok and returns the value", async () => {
    const { histogram, counter, clock, scrape } = setup();
    const value = await timeAsync(
      histogram,
      { op: "lease" },
      async () => {
        clock.advance(2.5);
        return 42;
      },
      { now: clock.now, counter },
    );
    expect(value).toBe(42);
    const s = await scrape();
    expect(sampleValue(s, "t_seconds_sum", { op: "lease", result: "ok" })).toBe(2.5);
    expect(sampleValue(s, "t_seconds_bucket", { op: "lease", result: "ok", le: "1" })).toBe(0);
    expect(sampleValue(s, "t_total", { op: "lease", result: "ok" })).toBe(1);
  });

  it("records the error code and rethrows the very same error, sync or async", async () => {
    const { histogram, counter, clock, scrape } = setup();
    const error = new MetricsError("UNAVAILABLE", "down");
    const rejected = timeAsync(
      histogram,
      { op: "a" },
      async () => {
        clock.advance(0.5);
        throw error;
      },
      { now: clock.now, counter },
    );
    await expect(rejected).rejects.toBe(error);
    const thrown = timeAsync(
      histogram,
      { op: "b" },
      () => {
        clock.advance(20);
        throw new Error("untyped");
      },
      { now: clock.now },
    );
    await expect(thrown).rejects.toThrow("untyped");
    const s = await scrape();
    expect(sampleValue(s, "t_seconds_sum", { op: "a", result: "UNAVAILABLE" })).toBe(0.5);
    expect(sampleValue(s, "t_total", { op: "a", result: "UNAVAILABLE" })).toBe(1);
    expect(sampleValue(s, "t_seconds_bucket", { op: "b", result: "INTERNAL", le: "10" })).toBe(0);
    expect(sampleValue(s, "t_seconds_count", { op: "b", result: "INTERNAL" })).toBe(1);
  });

  it("uses the monotonic clock by default", async () => {
    const { histogram, scrape } = setup();
    const started = performance.now();
    await timeAsync(histogram, { op: "c" }, () => undefined);
    const outside = (performance.now() - started) / 1000;
    const sum = sampleValue(await scrape(), "t_seconds_sum", { op: "c", result: "ok" });
    // Seconds on the monotonic clock: within the time measured around the call, however long
    // that was (milliseconds or an epoch clock would land far outside it).
    expect(sum).toBeGreaterThanOrEqual(0);
    expect(sum).toBeLessThanOrEqual(outside);
  });
});
