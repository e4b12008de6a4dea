import type { StickyKey } from "@ipam/subnet-pool";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type StickyCluster, StickyPods } from "./sticky-pods.js";

const log = pino({ level: "silent" });
const KEY: StickyKey = { namespace: "db", statefulSet: "web", ordinal: 0 };
const ALLOCATION = { network: "net", containerId: "c1", ifname: "eth0" };

/** A cluster whose ReleaseSticky fails `failures` times, then succeeds; calls are recorded. */
function cluster(failures: number) {
  const releases: Array<{ key: StickyKey; podUid: string }> = [];
  let left = failures;
  const c: StickyCluster = {
    stickyBinding: async () => undefined,
    bindSticky: async (key, bind) => ({
      binding: {
        ...key,
        purpose: bind.purpose,
        addresses: [...bind.addresses],
        tor: "t1",
        boundAt: 0,
        holder: { node: bind.node, podUid: bind.podUid },
      },
    }),
    releaseSticky: async (key, podUid) => {
      releases.push({ key, podUid });
      if (left-- > 0) throw new Error("cluster unreachable");
      return true;
    },
  };
  return { c, releases };
}

/** The agent store's meta and records, in memory (the seam StickyPods reads and writes). */
function store(records: Array<typeof ALLOCATION> = []) {
  const meta = new Map<string, string>();
  return {
    meta,
    getMeta: (k: string) => meta.get(k),
    setMeta: (k: string, v: string): void => {
      meta.set(k, v);
    },
    listByNode: () =>
      records.map((r) => ({
        ...r,
        addresses: ["10.99.5.1"],
        node: "w1",
        purpose: "sts",
        createdAt: 0,
      })),
  };
}

const PLAN = { key: KEY, podUid: "uid-a", purpose: "sts", unheld: true };

describe("StickyPods lets go of a binding after the pod's DEL", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("retries a release that failed (the cluster unreachable at the DEL) until it succeeds", async () => {
    const { c, releases } = cluster(2);
    const s = store();
    const pods = new StickyPods(c, s, "w1", log);
    await pods.bind(PLAN, ALLOCATION, ["10.99.5.1"]);
    pods.released(ALLOCATION);
    await vi.waitFor(() => expect(releases).toHaveLength(1));
    await vi.advanceTimersByTimeAsync(1000);
    expect(releases).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(releases).toHaveLength(3);
    expect(releases.every((r) => r.podUid === "uid-a")).toBe(true);
    // Released: nothing left to retry, and the holder is gone from the store's meta.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(releases).toHaveLength(3);
    expect(JSON.parse(s.meta.get("k8s.sticky-holders") ?? "{}")).toEqual({});
  });

  it("after a restart, lets go of a holder whose allocation is gone, and keeps the others", async () => {
    const { c, releases } = cluster(0);
    const s = store([ALLOCATION]);
    const before = new StickyPods(c, s, "w1", log);
    await before.bind(PLAN, ALLOCATION, ["10.99.5.1"]);
    await before.bind(
      { key: { ...KEY, ordinal: 1 }, podUid: "uid-b", purpose: "sts", unheld: true },
      { ...ALLOCATION, containerId: "c2" },
      ["10.99.5.2"],
    );
    // Restarted: c1 still allocated (its pod runs), c2's allocation was released while the
    // release of its binding failed.
    new StickyPods(c, s, "w1", log);
    await vi.waitFor(() => expect(releases).toHaveLength(1));
    expect(releases[0]).toEqual({ key: { ...KEY, ordinal: 1 }, podUid: "uid-b" });
  });
});
