import type { AllocationRecord as StoredRecord } from "@ipam/store";
import { type AllocationKey, keyString } from "@ipam/subnet-pool";
import type { V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { K8sMetrics } from "./k8s-metrics.js";
import type { KubeApi } from "./kube-api.js";
import type { PodUids } from "./pod-uids.js";

/**
 * Whether `pod` (the API's copy, cached or fresh) is the pod that holds record `r` on node
 * `nodeId`: same UID when the record knows it; without a UID, any pod of that name on this node
 * or not scheduled yet (a pod of that name on another node is another pod: its predecessor
 * here is gone).
 */
export function holdsRecord(
  pod: V1Pod | undefined,
  uid: string | undefined,
  nodeId: string,
): boolean {
  if (pod === undefined) return false;
  if (uid !== undefined) return pod.metadata?.uid === uid;
  const node = pod.spec?.nodeName;
  return node === undefined || node === "" || node === nodeId;
}

/** What the pod GC reads and calls. */
export interface PodGcOptions {
  readonly api: Pick<KubeApi, "readPod">;
  readonly nodeId: string;
  /** The node's records (the agent's store). */
  readonly records: () => readonly StoredRecord[];
  readonly uids: PodUids;
  /** The cached pod (the agent's own-node Pod reflector). */
  readonly cached: (namespace: string, name: string) => V1Pod | undefined;
  /** Releases a key as a CNI DEL would. */
  readonly release: (key: AllocationKey) => Promise<unknown>;
  readonly graceMs: number;
  readonly now: () => number;
  readonly log: Logger;
  readonly metrics: K8sMetrics;
}

/**
 * The agent's pod GC: releases the addresses whose pod no longer exists, on this node, as the
 * node's own allocator (so "confirmed on the node" holds by construction). Its safety rules,
 * each against a known GC bug of Whereabouts' or Calico's reconcilers:
 * 1. The cache only nominates: a record is released only after a **fresh read** of the pod
 *    from the API (never from the reflector's cache alone, which may be behind a pod created a
 *    moment ago) finds no pod holding it.
 * 2. **By UID**: a pod of the same name with another UID (a restarted StatefulSet pod, a name
 *    reused) does not keep an old record alive, and the old record's release never touches the
 *    new pod's record (each record is released by its own key).
 * 3. **Grace**: a record younger than `graceMs`, or missing from the cache for less than
 *    `graceMs`, is left alone (a pod's ADD can come before the watch shows the pod).
 * Records without a pod name (not made for a Kubernetes pod) are never touched.
 */
export class PodGc {
  readonly #o: PodGcOptions;
  /** When each key was first seen without its pod in the cache. */
  readonly #missingSince = new Map<string, number>();

  constructor(options: PodGcOptions) {
    this.#o = options;
  }

  /** One pass; resolves with the keys it released. */
  async pass(): Promise<AllocationKey[]> {
    const o = this.#o;
    const released: AllocationKey[] = [];
    const startedAt = o.now();
    const records = o.records();
    const live = new Set<string>();
    for (const r of records) {
      const k = keyString(r);
      live.add(k);
      const ns = r.podNamespace;
      const name = r.podName;
      if (ns === undefined || name === undefined) continue;
      const uid = o.uids.get(r);
      if (holdsRecord(o.cached(ns, name), uid, o.nodeId)) {
        this.#missingSince.delete(k);
        continue;
      }
      const now = o.now();
      const since = this.#missingSince.get(k) ?? now;
      this.#missingSince.set(k, since);
      if (now - r.createdAt < o.graceMs || now - since < o.graceMs) continue;
      const fresh = await o.api.readPod(ns, name);
      if (holdsRecord(fresh, uid, o.nodeId)) {
        o.metrics.kept("pod-gc", "fresh-read");
        o.log.info(
          { pod: `${ns}/${name}`, uid, containerId: r.containerId },
          "pod GC: the cache missed a pod the API still has; its address stays",
        );
        this.#missingSince.delete(k);
        continue;
      }
      const key: AllocationKey = {
        network: r.network,
        containerId: r.containerId,
        ifname: r.ifname,
      };
      await o.release(key);
      this.#missingSince.delete(k);
      released.push(key);
      o.metrics.released("pod-gc", "address");
      o.log.info(
        {
          pod: `${ns}/${name}`,
          uid,
          foundUid: fresh?.metadata?.uid,
          containerId: r.containerId,
          addresses: r.addresses,
        },
        `pod GC: released ${r.addresses.join(", ")} of ${ns}/${name} (${fresh === undefined ? "the pod is gone" : "the pod of that name is another pod"})`,
      );
    }
    for (const k of [...this.#missingSince.keys()]) if (!live.has(k)) this.#missingSince.delete(k);
    o.uids.prune((k) => live.has(k), startedAt - 60_000);
    return released;
  }
}
