import { afterEach, describe, expect, it } from "vitest";
import { VirtualTime } from "./virtual-time.js";

let time: VirtualTime | undefined;
afterEach(async () => {
  await time?.stop();
  time = undefined;
});

describe("VirtualTime (test support for RaftNode tests)", () => {
  it("advances by hand: fires due timers in time order and runs queued work after each", () => {
    const t = new VirtualTime();
    const seen: string[] = [];
    t.clock.setTimeout(() => seen.push(`b@${t.now()}`), 20);
    t.clock.setTimeout(() => {
      seen.push(`a@${t.now()}`);
      t.schedule(() => seen.push(`a-work@${t.now()}`));
    }, 10);
    const cancelled = t.clock.setTimeout(() => seen.push("never"), 15);
    t.clock.clearTimeout(cancelled);
    t.advance(15);
    expect(seen).toEqual(["a@10", "a-work@10"]);
    expect(t.now()).toBe(15);
    t.advance(100);
    expect(seen).toEqual(["a@10", "a-work@10", "b@20"]);
    expect(t.pendingTimers()).toBe(0);
  });

  it("lets no time pass while work is queued, however long the work takes", async () => {
    time = new VirtualTime();
    const t = time;
    let fired = false;
    t.clock.setTimeout(() => {
      fired = true;
    }, 1);
    const stamps: number[] = [];
    let left = 200;
    const step = (): void => {
      stamps.push(t.now());
      // Each step queues the next from a promise reaction, as code awaiting a proposal does.
      if (--left > 0) void Promise.resolve().then(() => t.schedule(step));
    };
    t.schedule(step);
    t.start();
    await t.waitFor(() => fired, 1000, "the timer");
    expect(stamps).toHaveLength(200);
    expect(new Set(stamps)).toEqual(new Set([0]));
    expect(t.now()).toBe(1);
  });

  it("waits in virtual time and names what it waited for when the deadline passes", async () => {
    time = new VirtualTime();
    const t = time;
    t.start();
    await t.sleep(5000);
    expect(t.now()).toBe(5000);
    await expect(t.waitFor(() => false, 250, "a leader")).rejects.toThrow(
      "not true after 250 virtual ms: a leader",
    );
    expect(t.now()).toBe(5250);
  });
});
