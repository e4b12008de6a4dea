import type { V1Node, V1StatefulSet } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ControllerLoop } from "./controller-loop.js";
import type { K8sConfig } from "./k8s-config.js";
import { createK8sMetrics } from "./k8s-metrics.js";
import { openKubeApi } from "./kube-api.js";
import { KubeReflector } from "./kube-reflector.js";
import { type NodeControllerCluster, reconcileNodes } from "./node-controller.js";
import { reconcileSticky, type StickyControllerCluster } from "./sticky-controller.js";

/** What a server hands the Kubernetes controllers. */
export interface ServerControllersOptions {
  readonly config: K8sConfig;
  readonly cluster: NodeControllerCluster & {
    readonly state: StickyControllerCluster["state"];
    readonly execute: StickyControllerCluster["execute"] & NodeControllerCluster["execute"];
  };
  /** Whether this server acts (the Raft leader; the etcd store's active controller). */
  readonly isActive: () => boolean;
  readonly registry: Registry;
  readonly log: Logger;
  readonly nodeId: string;
}

/**
 * Starts the servers' side of `--kubernetes`: a Node reflector on every server (so that a new
 * leader acts from a warm cache) and the node controller, which only the active server runs.
 * Resolves once the client is configured (a bad `--kubeconfig` rejects); returns the stop.
 */
export async function startServerControllers(o: ServerControllersOptions): Promise<() => void> {
  const api = await openKubeApi(o.config);
  const metrics = createK8sMetrics(o.registry);
  const log = o.log.child({ controller: "node" });
  let loop: ControllerLoop | undefined;
  const nodes = new KubeReflector<V1Node>(
    api,
    "nodes",
    {},
    {
      onUpsert: () => loop?.trigger(),
      onDelete: () => loop?.trigger(),
      onSynced: () => loop?.trigger(),
      onRestart: (reason) => metrics.watchRestart("nodes", reason),
    },
    log,
    o.config.watchIdleMs,
  );
  loop = new ControllerLoop(
    "node",
    async () => {
      if (!o.isActive() || !nodes.synced) return;
      await reconcileNodes({
        api,
        cluster: o.cluster,
        config: o.config,
        cached: (name) => nodes.get("", name),
        log,
        metrics,
        now: Date.now,
        host: o.nodeId,
      });
    },
    log,
    metrics,
  );
  const stickyLog = o.log.child({ controller: "sticky" });
  let stickyLoop: ControllerLoop | undefined;
  const statefulSets = new KubeReflector<V1StatefulSet>(
    api,
    "statefulsets",
    {},
    {
      onUpsert: () => stickyLoop?.trigger(),
      onDelete: () => stickyLoop?.trigger(),
      onSynced: () => stickyLoop?.trigger(),
      onRestart: (reason) => metrics.watchRestart("statefulsets", reason),
    },
    stickyLog,
    o.config.watchIdleMs,
  );
  stickyLoop = new ControllerLoop(
    "sticky",
    async () => {
      if (!o.isActive() || !statefulSets.synced) return;
      await reconcileSticky({
        api,
        cluster: o.cluster,
        cached: (ns, name) => statefulSets.get(ns, name),
        log: stickyLog,
        metrics,
        now: Date.now,
      });
    },
    stickyLog,
    metrics,
  );
  nodes.start();
  statefulSets.start();
  loop.start(o.config.resyncMs);
  stickyLoop.start(o.config.resyncMs);
  log.info("Kubernetes node and sticky-address controllers started (act while this server leads)");
  return () => {
    loop?.stop();
    stickyLoop?.stop();
    nodes.stop();
    statefulSets.stop();
  };
}
