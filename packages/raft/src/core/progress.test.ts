import { describe, expect, it } from "vitest";
import { Progress } from "./progress.js";

describe("Progress", () => {
  it("probes one append at a time, then pipelines up to the in-flight limit", () => {
    const p = new Progress(10, 2, false);
    expect(p.isPaused()).toBe(false);
    p.probeSent = true;
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(9)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(10);
    p.inflights.add(12);
    p.inflights.add(14);
    expect(p.isPaused()).toBe(true);
    p.inflights.freeLE(12);
    expect(p.isPaused()).toBe(false);
  });

  it("ignores stale rejections and backs off using the hint", () => {
    const p = new Progress(20, 4, false);
    expect(p.maybeDecrTo(15, 3)).toBe(false); // not the append we sent (prevIndex 19)
    expect(p.maybeDecrTo(19, 3)).toBe(true);
    expect(p.next).toBe(4);
    p.maybeUpdate(8);
    p.becomeReplicate();
    expect(p.maybeDecrTo(5, 0)).toBe(false); // below match: stale
    expect(p.maybeDecrTo(12, 0)).toBe(true);
    expect(p.next).toBe(9);
  });

  it("after a snapshot, probes right after the snapshot index", () => {
    const p = new Progress(2, 4, true);
    p.becomeSnapshot({
      meta: { index: 50, term: 3, conf: { voters: [], learners: [] } },
      data: new Uint8Array(),
    });
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(51);
    expect(p.view(true)).toMatchObject({ state: "probe", learner: true, next: 51 });
  });
});
