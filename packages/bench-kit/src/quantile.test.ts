import { describe, expect, it } from "vitest";
import { quantile } from "./quantile.js";

describe("quantile (nearest rank)", () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it("gives the lower median of an even count and the middle of an odd one", () => {
    expect(quantile(ten, 0.5)).toBe(5);
    expect(quantile([1, 2, 3], 0.5)).toBe(2);
  });

  it("gives the minimum at 0, the maximum at 1 and the top sample at 0.99 of 10", () => {
    expect(quantile(ten, 0)).toBe(1);
    expect(quantile(ten, 1)).toBe(10);
    expect(quantile(ten, 0.99)).toBe(10);
    expect(quantile(ten, 0.01)).toBe(1);
  });

  it("picks the 99th of 100 samples at 0.99 and the 1st at 0.01", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(hundred, 0.99)).toBe(99);
    expect(quantile(hundred, 0.01)).toBe(1);
  });

  it("clamps q outside 0..1, reads typed arrays, and is NaN for no samples", () => {
    expect(quantile(ten, -1)).toBe(1);
    expect(quantile(ten, 2)).toBe(10);
    expect(quantile(Float64Array.of(0.5, 1.5), 0.5)).toBe(0.5);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
