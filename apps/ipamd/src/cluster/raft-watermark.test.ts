import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStorage } from "@ipam/raft";
import { describe, expect, it } from "vitest";
import {
  checkWatermark,
  onTermOrVote,
  readWatermark,
  type Watermark,
  watermarkPath,
  writeWatermark,
} from "./raft-watermark.js";

const wm = (w: Partial<Watermark> = {}): Watermark => ({
  clusterId: "c1",
  nodeId: "s1",
  term: 5,
  vote: "s2",
  applied: 100,
  writtenAt: "2026-01-01T00:00:00.000Z",
  ...w,
});

describe("checkWatermark", () => {
  it("accepts the same or newer state", () => {
    expect(checkWatermark(wm(), { term: 5, vote: "s2", lastIndex: 100 })).toBeUndefined();
    expect(checkWatermark(wm(), { term: 7, vote: null, lastIndex: 250 })).toBeUndefined();
  });

  it("names each thing that went backwards: term, vote in the same term, log end", () => {
    expect(checkWatermark(wm(), { term: 4, vote: "s2", lastIndex: 100 })).toBe("term 5 → 4");
    expect(checkWatermark(wm(), { term: 5, vote: null, lastIndex: 100 })).toBe(
      "vote in term 5: s2 → none",
    );
    expect(checkWatermark(wm(), { term: 3, vote: null, lastIndex: 40 })).toBe(
      "term 5 → 3, log end 100 → 40",
    );
  });
});

describe("the watermark file", () => {
  it("round-trips, and a damaged file is an error naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "ipamd-wm-"));
    const path = watermarkPath(dir);
    expect(readWatermark(path)).toBeUndefined();
    writeWatermark(path, wm({ removed: { why: "x", at: "now" } }));
    expect(readWatermark(path)).toEqual(wm({ removed: { why: "x", at: "now" } }));
    writeFileSync(path as string, JSON.stringify({ clusterId: "c1" }));
    expect(() => readWatermark(path)).toThrow(/raft-watermark.json is damaged/);
    expect(readFileSync(path as string, "utf8")).toContain("c1");
  });
});

describe("onTermOrVote", () => {
  it("calls the hook after a hard state with a new term or vote is stored, not for commit-only changes", () => {
    const inner = new MemoryStorage();
    const seen: string[] = [];
    const storage = onTermOrVote(inner, (hs) => {
      // Already stored when the hook runs.
      expect(inner.initialState().hardState.term).toBe(hs.term);
      seen.push(`${hs.term}/${hs.vote}`);
    });
    storage.setHardState({ term: 1, vote: "a", commit: 0 });
    storage.setHardState({ term: 1, vote: "a", commit: 3 });
    storage.setHardState({ term: 2, vote: null, commit: 3 });
    storage.setHardState({ term: 2, vote: "b", commit: 4 });
    expect(seen).toEqual(["1/a", "2/null", "2/b"]);
  });
});
