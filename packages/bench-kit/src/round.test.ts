import { describe, expect, it } from "vitest";
import { round } from "./round.js";

describe("round", () => {
  it("keeps about three significant digits at every size", () => {
    expect(round(1234.56)).toBe(1235);
    expect(round(41.27)).toBe(41.3);
    expect(round(1.2345)).toBe(1.23);
    expect(round(0.012345)).toBe(0.0123);
    expect(round(0.00042345)).toBe(0.000423);
  });

  it("keeps the sign, zero and non-finite numbers", () => {
    expect(round(-4096.4)).toBe(-4096);
    expect(round(-0.5556)).toBe(-0.556);
    expect(round(0)).toBe(0);
    expect(round(Number.NaN)).toBeNaN();
    expect(round(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});
