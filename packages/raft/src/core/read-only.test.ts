import { describe, expect, it } from "vitest";
import { ReadOnly } from "./read-only.js";

const ctx = (s: string) => new TextEncoder().encode(s);

describe("ReadOnly", () => {
  it("confirms a request (and every earlier one) once a majority acknowledged it", () => {
    const ro = new ReadOnly();
    expect(ro.add(5, ctx("r1"), "a", "a")).toBe(true);
    expect(ro.add(6, ctx("r2"), "c", "a")).toBe(true);
    expect(ro.add(6, ctx("r2"), "c", "a")).toBe(false);
    const voters = ["a", "b", "c"];
    expect(ro.ack(ctx("r2"), "x", voters)).toEqual([]); // not a voter
    const done = ro.ack(ctx("r2"), "b", voters);
    expect(done.map((r) => [r.index, r.from])).toEqual([
      [5, "a"],
      [6, "c"],
    ]);
    expect(ro.pending).toBe(0);
    expect(ro.ack(ctx("r1"), "b", voters)).toEqual([]);
  });
});
