import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BindStickyCommand,
  ClusterState,
  type ReleaseStickyCommand,
  type ResultOf,
  type UnbindStickyCommand,
} from "@ipam/subnet-pool";
import type { V1StatefulSet } from "@kubernetes/client-node";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createK8sMetrics } from "../src/kubernetes/k8s-metrics.js";
import { type KubeApi, openKubeApi } from "../src/kubernetes/kube-api.js";
import { KubeReflector } from "../src/kubernetes/kube-reflector.js";
import { reconcileSticky } from "../src/kubernetes/sticky-controller.js";
import { type KubeStandIn, startKubeStandIn } from "./helpers/kube-stand-in.js";
import { waitFor } from "./helpers/processes.js";

// The servers' sticky controller (src/kubernetes/sticky-controller.ts) against the API stand-in
// through the real @kubernetes/client-node, on the real ClusterState: a StatefulSet scaled down
// or deleted loses its pods' sticky addresses, only once each pod is gone, and never from a
// cache that is behind. Each rule has a case that fails when the rule is removed.

const silent = pino({ level: "silent" });
const config = {
  version: 1,
  zones: [
    {
      id: "z",
      pods: [
        {
          id: "p",
          tors: [
            {
              id: "t1",
              subnets: [{ id: "t1-v4", cidr: "10.99.0.0/24", blockPrefix: 32 }],
              nodes: [{ id: "w1" }, { id: "w2" }],
            },
          ],
        },
      ],
    },
  ],
};

let api: KubeStandIn;
let kube: KubeApi;
let dir: string;
const registry = new Registry();
const metrics = createK8sMetrics(registry);

beforeAll(async () => {
  api = await startKubeStandIn();
  dir = mkdtempSync(join(tmpdir(), "ipamd-sticky-"));
  kube = await openKubeApi({
    kubeconfig: api.kubeconfig(dir),
    zoneLabel: "z",
    podLabel: "p",
    torLabel: "t",
    nodeGraceMs: 0,
    podGraceMs: 0,
    resyncMs: 1000,
    watchIdleMs: 60_000,
  });
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A real ClusterState behind the controller's `execute`. */
function cluster() {
  const state = new ClusterState();
  const applied = state.apply({ type: "apply-topology", at: 1, config } as never);
  if (!applied.ok) throw new Error(applied.error.message);
  return {
    state,
    async execute<C extends ReleaseStickyCommand | UnbindStickyCommand>(command: C) {
      const r = state.apply(command);
      if (!r.ok) throw new Error(r.error.message);
      return r as ResultOf<C> & { ok: true };
    },
    bind(namespace: string, statefulSet: string, ordinal: number, podUid: string) {
      const c: BindStickyCommand = {
        type: "bind-sticky",
        at: 2,
        namespace,
        statefulSet,
        ordinal,
        purpose: "default",
        addresses: [`10.99.0.${10 + ordinal}`],
        node: "w1",
        podUid,
      };
      const r = state.apply(c);
      if (!r.ok) throw new Error(r.error.message);
    },
    ordinals(namespace: string, statefulSet: string) {
      return state.stickyBindings({ namespace, statefulSet }).map((b) => b.ordinal);
    },
  };
}

/** A synced StatefulSet reflector (the servers' cache). */
async function reflector(): Promise<KubeReflector<V1StatefulSet>> {
  const r = new KubeReflector<V1StatefulSet>(kube, "statefulsets", {}, {}, silent, 60_000);
  r.start();
  await waitFor("the StatefulSet cache to sync", () => (r.synced ? true : undefined));
  return r;
}

async function pass(c: ReturnType<typeof cluster>, sts: KubeReflector<V1StatefulSet>) {
  await reconcileSticky({
    api: kube,
    cluster: c,
    cached: (ns, name) => sts.get(ns, name),
    log: silent,
    metrics,
    now: Date.now,
  });
}

/** Until the cache shows `ns/name` with `replicas` (undefined: gone). */
async function cached(
  sts: KubeReflector<V1StatefulSet>,
  ns: string,
  name: string,
  replicas?: number,
) {
  await waitFor(`the cache to show ${ns}/${name} at ${replicas ?? "gone"}`, () => {
    const s = sts.get(ns, name);
    return (replicas === undefined ? s === undefined : s?.spec?.replicas === replicas)
      ? true
      : undefined;
  });
}

describe("the sticky controller", () => {
  it("scaled down: a binding goes only once its pod is gone; the kept ordinals stay", async () => {
    const c = cluster();
    api.putStatefulSet("a", "web", 3);
    const uids = [0, 1, 2].map((i) =>
      api.createPod("a", `web-${i}`, "w1", {}, { statefulSet: "web" }),
    );
    for (const [i, uid] of uids.entries()) c.bind("a", "web", i, uid);
    const sts = await reflector();
    try {
      api.putStatefulSet("a", "web", 1);
      await cached(sts, "a", "web", 1);
      // web-1 and web-2 still run (terminating): nothing goes.
      await pass(c, sts);
      expect(c.ordinals("a", "web")).toEqual([0, 1, 2]);
      api.deletePod("a", "web-2");
      await pass(c, sts);
      expect(c.ordinals("a", "web")).toEqual([0, 1]);
      // A pod of that name with another UID is not the holder: web-1's binding goes too.
      api.deletePod("a", "web-1");
      api.createPod("a", "web-1", "w2", {}, { statefulSet: "web" });
      await pass(c, sts);
      expect(c.ordinals("a", "web")).toEqual([0]);
      expect(
        c.state.stickyBinding({ namespace: "a", statefulSet: "web", ordinal: 0 })?.holder?.podUid,
      ).toBe(uids[0]);
    } finally {
      sts.stop();
    }
  });

  it("deleted: every binding of the StatefulSet goes once its pods are gone, others stay", async () => {
    const c = cluster();
    api.putStatefulSet("b", "db", 2);
    api.putStatefulSet("b", "keep", 1);
    const u0 = api.createPod("b", "db-0", "w1", {}, { statefulSet: "db" });
    c.bind("b", "db", 0, u0);
    c.bind("b", "db", 1, "uid-of-a-pod-long-gone");
    c.bind("b", "keep", 0, api.createPod("b", "keep-0", "w1", {}, { statefulSet: "keep" }));
    const sts = await reflector();
    try {
      api.deleteStatefulSet("b", "db");
      await cached(sts, "b", "db");
      await pass(c, sts);
      expect(c.ordinals("b", "db")).toEqual([0]);
      api.deletePod("b", "db-0");
      await pass(c, sts);
      expect(c.ordinals("b", "db")).toEqual([]);
      expect(c.ordinals("b", "keep")).toEqual([0]);
    } finally {
      sts.stop();
    }
  });

  it("never unbinds from a cache that is behind: the fresh read keeps it", async () => {
    const c = cluster();
    api.hide("statefulsets", "c", "late");
    api.putStatefulSet("c", "late", 2);
    c.bind("c", "late", 1, "uid-gone");
    const sts = await reflector();
    try {
      expect(sts.get("c", "late")).toBeUndefined();
      await pass(c, sts);
      await pass(c, sts);
      expect(c.ordinals("c", "late")).toEqual([1]);
    } finally {
      sts.stop();
    }
  });
});
