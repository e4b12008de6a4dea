import type {
  ClusterState,
  ReleaseStickyCommand,
  ResultOf,
  StickyBinding,
  UnbindStickyCommand,
} from "@ipam/subnet-pool";
import type { V1StatefulSet } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { K8sMetrics } from "./k8s-metrics.js";
import type { KubeApi } from "./kube-api.js";

/** What the sticky controller reads and runs of the cluster (a server's replicated state). */
export interface StickyControllerCluster {
  readonly state: Pick<ClusterState, "stickyBindings">;
  execute<C extends ReleaseStickyCommand | UnbindStickyCommand>(
    command: C,
  ): Promise<ResultOf<C> & { ok: true }>;
}

/** The sticky controller's inputs. */
export interface StickyControllerOptions {
  readonly api: Pick<KubeApi, "readPod" | "readStatefulSet">;
  readonly cluster: StickyControllerCluster;
  /** The cached StatefulSet (the servers' StatefulSet reflector). */
  readonly cached: (namespace: string, name: string) => V1StatefulSet | undefined;
  readonly log: Logger;
  readonly metrics: K8sMetrics;
  readonly now: () => number;
}

/** The ordinals a StatefulSet keeps: `[start, start + replicas)`; undefined when it is gone. */
function kept(sts: V1StatefulSet | undefined): { from: number; to: number } | undefined {
  if (sts === undefined || sts.metadata?.deletionTimestamp !== undefined) return undefined;
  const from = sts.spec?.ordinals?.start ?? 0;
  return { from, to: from + (sts.spec?.replicas ?? 1) };
}

/**
 * One pass of the sticky controller (the active server only): a binding whose StatefulSet was
 * deleted, or scaled below its ordinal, is unbound once its pod is gone. Rules:
 * 1. The cache only nominates: the StatefulSet is read fresh before anything is unbound (a
 *    cache behind a scale-up never drops a binding a pod is about to use).
 * 2. Never while a pod holds it: a held binding is released only when a fresh read of the pod
 *    `<sts>-<ordinal>` finds none, or one with another UID; then it is unbound.
 * Each StatefulSet is unbound from its lowest nominated ordinal up (`unbind-sticky` leaves
 * held bindings alone, so a pod that appeared meanwhile keeps its own).
 */
export async function reconcileSticky(o: StickyControllerOptions): Promise<void> {
  const bindings = o.cluster.state.stickyBindings();
  o.metrics.stickyBindings(bindings.length);
  const bySts = new Map<string, StickyBinding[]>();
  for (const b of bindings) {
    const k = `${b.namespace}/${b.statefulSet}`;
    const list = bySts.get(k) ?? [];
    list.push(b);
    bySts.set(k, list);
  }
  for (const list of bySts.values()) {
    const first = list[0] as StickyBinding;
    const { namespace, statefulSet } = first;
    const nominated = (range: { from: number; to: number } | undefined) =>
      list.filter((b) => range === undefined || b.ordinal < range.from || b.ordinal >= range.to);
    if (nominated(kept(o.cached(namespace, statefulSet))).length === 0) continue;
    const fresh = kept(await o.api.readStatefulSet(namespace, statefulSet));
    const candidates = nominated(fresh);
    if (candidates.length === 0) {
      o.metrics.kept("sticky", "fresh-read");
      continue;
    }
    let lowest: number | undefined;
    for (const b of candidates) {
      if (b.holder !== undefined) {
        const pod = await o.api.readPod(namespace, `${statefulSet}-${b.ordinal}`);
        if (pod !== undefined && pod.metadata?.uid === b.holder.podUid) {
          o.metrics.kept("sticky", "pod-alive");
          continue;
        }
        await o.cluster.execute({
          type: "release-sticky",
          at: o.now(),
          namespace,
          statefulSet,
          ordinal: b.ordinal,
          podUid: b.holder.podUid,
        });
        o.metrics.released("sticky", "holder");
      }
      // Above the kept range, every higher ordinal is nominated too; below it (ordinals.start
      // raised) only this one: unbind from the lowest only when nothing kept lies above it.
      if (fresh === undefined || b.ordinal >= fresh.to)
        lowest = Math.min(lowest ?? b.ordinal, b.ordinal);
    }
    if (lowest === undefined) continue;
    const result = await o.cluster.execute<UnbindStickyCommand>({
      type: "unbind-sticky",
      at: o.now(),
      namespace,
      statefulSet,
      fromOrdinal: lowest,
    });
    for (const b of result.value.unbound) {
      o.metrics.released("sticky", "binding");
      o.log.info(
        { sticky: `${namespace}/${statefulSet}/${b.ordinal}`, addresses: b.addresses },
        `sticky controller: unbound ${b.addresses.join(", ")} of ${namespace}/${statefulSet}-${b.ordinal} (${fresh === undefined ? "the StatefulSet is gone" : `scaled to ${fresh.to - fresh.from}`})`,
      );
    }
  }
}
