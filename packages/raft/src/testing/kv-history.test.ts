import { describe, expect, it } from "vitest";
import { checkKvHistory, type HistoryRead, type HistoryWrite } from "./kv-history.js";

const w = (value: string, invokedAt: number, ackedAt?: number): HistoryWrite => ({
  key: "k",
  value,
  invokedAt,
  ackedAt,
});
const r = (value: string | undefined, invokedAt: number, returnedAt: number): HistoryRead => ({
  key: "k",
  value,
  invokedAt,
  returnedAt,
});

describe("checkKvHistory", () => {
  const order = new Map([
    ["v1", 1],
    ["v2", 2],
  ]);
  const idx = (v: string) => order.get(v);

  it("accepts a linearizable history, including reads concurrent with a write", () => {
    expect(
      checkKvHistory(
        [w("v1", 1, 2), w("v2", 3, 6)],
        [r("v1", 4, 5), r("v2", 5, 7), r("v2", 8, 9)],
        idx,
      ),
    ).toEqual([]);
  });

  it("flags a stale read, a lost acknowledged write and a read from the future", () => {
    expect(checkKvHistory([w("v1", 1, 2), w("v2", 3, 4)], [r("v1", 5, 6)], idx)[0]).toContain(
      "stale read",
    );
    expect(checkKvHistory([w("v3", 1, 2)], [], idx)[0]).toContain("not in the committed log");
    expect(checkKvHistory([w("v1", 5, 6)], [r("v1", 1, 2)], idx)[0]).toContain(
      "before that write began",
    );
  });

  it("flags non-monotonic reads and writes ordered against real time", () => {
    expect(
      checkKvHistory([w("v1", 1), w("v2", 2)], [r("v2", 3, 4), r("v1", 5, 6)], idx),
    ).toContainEqual(expect.stringContaining("non-monotonic"));
    expect(checkKvHistory([w("v2", 1, 2), w("v1", 3, 4)], [], idx)[0]).toContain("precedes it");
  });
});
