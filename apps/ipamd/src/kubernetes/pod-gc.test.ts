import type { AllocationRecord } from "@ipam/store";
import { type AllocationKey, keyString } from "@ipam/subnet-pool";
import type { V1Pod } from "@kubernetes/client-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createK8sMetrics } from "./k8s-metrics.js";
import { PodGc } from "./pod-gc.js";
import { PodUids } from "./pod-uids.js";

// The pod GC's rules on a virtual clock, with the store's meta in a Map and the API's pods in
// another (the process test runs the same code against real processes and the API stand-in).

const GRACE = 60_000;

function setup() {
  let now = 1_000_000;
  const meta = new Map<string, string>();
  const uids = new PodUids({
    getMeta: (k) => meta.get(k),
    setMeta: (k, v) => {
      meta.set(k, v);
    },
  });
  const records: AllocationRecord[] = [];
  const api = new Map<string, V1Pod>();
  const cache = new Map<string, V1Pod>();
  const released: string[] = [];
  const reads: string[] = [];
  const gc = new PodGc({
    api: {
      readPod: async (ns, name) => {
        reads.push(`${ns}/${name}`);
        return api.get(`${ns}/${name}`);
      },
    },
    nodeId: "n1",
    records: () => records,
    uids,
    cached: (ns, name) => cache.get(`${ns}/${name}`),
    release: async (key: AllocationKey) => {
      released.push(key.containerId);
      const i = records.findIndex((r) => keyString(r) === keyString(key));
      if (i >= 0) records.splice(i, 1);
    },
    graceMs: GRACE,
    now: () => now,
    log: pino({ level: "silent" }),
    metrics: createK8sMetrics(new Registry()),
  });
  const pod = (ns: string, name: string, uid: string): V1Pod => ({
    metadata: { namespace: ns, name, uid },
    spec: { nodeName: "n1", containers: [] },
  });
  const add = (containerId: string, ns: string, name: string, uid?: string) => {
    const r: AllocationRecord = {
      network: "pods",
      containerId,
      ifname: "eth0",
      addresses: ["10.99.0.5"],
      node: "n1",
      purpose: "default",
      podNamespace: ns,
      podName: name,
      createdAt: now,
    };
    records.push(r);
    if (uid !== undefined) uids.set(r, uid, now);
  };
  return {
    gc,
    api,
    cache,
    released,
    reads,
    add,
    pod,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("PodGc", () => {
  it("releases a gone pod's address only after the grace, counted from when the cache missed it", async () => {
    const t = setup();
    t.add("c1", "ns", "a", "u1");
    t.advance(GRACE); // the record is old enough; the pod goes now
    expect(await t.gc.pass()).toEqual([]);
    t.advance(GRACE - 1);
    expect(await t.gc.pass()).toEqual([]);
    expect(t.reads).toEqual([]);
    t.advance(1);
    expect((await t.gc.pass()).map((k) => k.containerId)).toEqual(["c1"]);
    expect(t.released).toEqual(["c1"]);
  });

  it("keeps an address whose pod the cache misses but a fresh read finds", async () => {
    const t = setup();
    t.add("c1", "ns", "a", "u1");
    t.api.set("ns/a", t.pod("ns", "a", "u1"));
    t.advance(GRACE);
    await t.gc.pass();
    t.advance(GRACE);
    expect(await t.gc.pass()).toEqual([]);
    expect(t.reads).toEqual(["ns/a"]);
    expect(t.released).toEqual([]);
  });

  it("releases the record of an earlier pod of the same name (new UID), never the new pod's", async () => {
    const t = setup();
    t.add("old", "ns", "web-0", "u1");
    t.advance(GRACE);
    t.add("new", "ns", "web-0", "u2");
    const current = t.pod("ns", "web-0", "u2");
    t.cache.set("ns/web-0", current);
    t.api.set("ns/web-0", current);
    await t.gc.pass();
    t.advance(GRACE);
    expect((await t.gc.pass()).map((k) => k.containerId)).toEqual(["old"]);
    t.advance(10 * GRACE);
    expect(await t.gc.pass()).toEqual([]);
    expect(t.released).toEqual(["old"]);
  });

  it("without a recorded UID, keeps any pod of that name on this node and never touches records without a pod", async () => {
    const t = setup();
    t.add("c1", "ns", "a");
    t.cache.set("ns/a", t.pod("ns", "a", "whatever"));
    t.advance(GRACE);
    await t.gc.pass();
    t.advance(GRACE);
    expect(await t.gc.pass()).toEqual([]);
  });
});
