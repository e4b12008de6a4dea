import type { ClusterState, DeregisterNodeCommand } from "@ipam/subnet-pool";
import type { Node } from "@ipam/topology";
import type { V1Node } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { K8sConfig } from "./k8s-config.js";
import type { K8sMetrics } from "./k8s-metrics.js";
import type { KubeApi } from "./kube-api.js";
import { placementOf } from "./node-labels.js";

/** Why the controller takes a node's blocks back. */
export type NodeVerdict = "deleted" | "not-ready" | "moved" | "keep";

/**
 * What the API says about registered node `node`: `deleted` (no Node), `not-ready` (its Ready
 * condition not True for longer than `graceMs` by `now`; never with `graceMs` 0), `moved` (its
 * TOR label names another TOR than the one it is registered under), else `keep`.
 */
export function nodeVerdict(
  node: Pick<Node, "tor">,
  k8s: V1Node | undefined,
  config: Pick<K8sConfig, "zoneLabel" | "podLabel" | "torLabel" | "nodeGraceMs">,
  now: number,
): NodeVerdict {
  if (k8s === undefined) return "deleted";
  const placement = placementOf(k8s, config);
  if (placement.ok && placement.tor !== node.tor) return "moved";
  if (config.nodeGraceMs > 0) {
    const ready = k8s.status?.conditions?.find((c) => c.type === "Ready");
    if (ready !== undefined && ready.status !== "True") {
      const since = ready.lastTransitionTime ? new Date(ready.lastTransitionTime).getTime() : now;
      if (now - since >= config.nodeGraceMs) return "not-ready";
    }
  }
  return "keep";
}

/** What the node controller needs of the cluster. */
export interface NodeControllerCluster {
  readonly state: Pick<ClusterState, "nodes" | "node">;
  execute(command: DeregisterNodeCommand): Promise<unknown>;
}

/** The node controller's inputs. */
export interface NodeControllerOptions {
  readonly api: KubeApi;
  readonly cluster: NodeControllerCluster;
  readonly config: K8sConfig;
  /** The cached Node named `name` (the servers' Node reflector). */
  readonly cached: (name: string) => V1Node | undefined;
  readonly log: Logger;
  readonly metrics: K8sMetrics;
  readonly now: () => number;
  /** This server's id (the source of Events). */
  readonly host: string;
}

const EVENT_REASONS: Readonly<Record<Exclude<NodeVerdict, "keep">, string>> = {
  deleted: "IpamdNodeDeleted",
  "not-ready": "IpamdBlocksRevoked",
  moved: "IpamdNodeMoving",
};

/**
 * One pass of the server-side node controller (run by the Raft leader or the etcd store's
 * active controller only). For each node registered by a `--kubernetes` agent (its labels carry
 * the TOR label) and not already deregistering, whose cached Node looks deleted, NotReady past
 * the grace or moved to another TOR: reads the Node again from the API (never the cache alone)
 * and, when the fresh copy agrees, deregisters it with `mode: "revoke"` (issue 15: its blocks
 * become revoked, nothing is re-leased until its agent returns them or an operator declares it
 * dead; its pods keep their addresses). Returns the nodes it revoked.
 */
export async function reconcileNodes(o: NodeControllerOptions): Promise<string[]> {
  const revoked: string[] = [];
  for (const node of o.cluster.state.nodes()) {
    if (node.labels[o.config.torLabel] === undefined) continue;
    if (o.cluster.state.node(node.id)?.deregistering !== false) continue;
    if (nodeVerdict(node, o.cached(node.id), o.config, o.now()) === "keep") continue;
    const fresh = await o.api.readNode(node.id);
    const verdict = nodeVerdict(node, fresh, o.config, o.now());
    if (verdict === "keep") {
      o.metrics.kept("node", "fresh-read");
      continue;
    }
    await o.cluster.execute({
      type: "deregister-node",
      at: o.now(),
      node: node.id,
      mode: "revoke",
    });
    revoked.push(node.id);
    o.metrics.released("node", "node-blocks");
    const message =
      verdict === "deleted"
        ? `Node ${node.id} was deleted: its blocks are revoked (its pods keep their addresses; nothing is re-leased until its agent returns them or the node is declared dead)`
        : verdict === "moved"
          ? `Node ${node.id} moved from TOR ${node.tor}: its blocks there are revoked; it registers under its new TOR once its agent has returned them`
          : `Node ${node.id} NotReady for longer than ${o.config.nodeGraceMs / 1000}s: its blocks are revoked (its pods keep their addresses)`;
    o.log.warn({ node: node.id, verdict, tor: node.tor }, message);
    if (fresh !== undefined) {
      const reason = EVENT_REASONS[verdict];
      await o.api
        .createEvent({
          kind: "Node",
          namespace: "",
          name: node.id,
          ...(fresh.metadata?.uid === undefined ? {} : { uid: fresh.metadata.uid }),
          type: "Warning",
          reason,
          message,
          host: o.host,
        })
        .then(
          () => o.metrics.event(reason, "ok"),
          (err: unknown) => {
            o.metrics.event(reason, "error");
            o.log.warn({ err, node: node.id }, "could not record a Kubernetes Event");
          },
        );
    }
  }
  return revoked;
}
