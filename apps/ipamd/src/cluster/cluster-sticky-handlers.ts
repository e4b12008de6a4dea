import type { ClusterHandlers, StickyBinding as WireStickyBinding } from "@ipam/grpc-server";
import type { StickyBinding, StickyKey } from "@ipam/subnet-pool";
import { requireText } from "../request-fields.js";
import type { ClusterDataSource } from "./cluster-data-handlers.js";

/** A binding as the wire carries it (holder fields empty between pods). */
export function wireStickyBinding(b: StickyBinding): WireStickyBinding {
  return {
    $typeName: "ipam.v1.StickyBinding",
    namespace: b.namespace,
    statefulSet: b.statefulSet,
    ordinal: b.ordinal,
    purpose: b.purpose,
    addresses: [...b.addresses],
    torId: b.tor,
    boundAtMs: BigInt(b.boundAt),
    holderNodeId: b.holder?.node ?? "",
    holderPodUid: b.holder?.podUid ?? "",
  };
}

function keyOf(req: { namespace: string; statefulSet: string; ordinal: number }): StickyKey {
  return {
    namespace: requireText("namespace", req.namespace),
    statefulSet: requireText("stateful_set", req.statefulSet),
    ordinal: req.ordinal,
  };
}

/**
 * The Cluster API's sticky-address RPCs: BindSticky and ReleaseSticky (the `bind-sticky` and
 * `release-sticky` commands; writes, served by the leader) and GetStickyBinding (a
 * linearizable read). The state machine checks every field; a binding held by another pod is
 * `CONFLICT` (ALREADY_EXISTS on the wire) with the holder in the message.
 */
export function clusterStickyHandlers(
  cluster: ClusterDataSource,
  now: () => number,
): Partial<ClusterHandlers> {
  return {
    bindSticky: async (req) => {
      const r = await cluster.execute({
        type: "bind-sticky",
        at: now(),
        ...keyOf(req),
        purpose: requireText("purpose", req.purpose),
        addresses: [...req.addresses],
        node: requireText("node_id", req.nodeId),
        podUid: requireText("pod_uid", req.podUid),
      });
      return {
        binding: wireStickyBinding(r.value.binding),
        movedFrom: [...(r.value.moved?.addresses ?? [])],
        movedFromTorId: r.value.moved?.tor ?? "",
      };
    },
    releaseSticky: async (req) => {
      requireText("node_id", req.nodeId);
      const r = await cluster.execute({
        type: "release-sticky",
        at: now(),
        ...keyOf(req),
        podUid: requireText("pod_uid", req.podUid),
      });
      return { released: r.value.released };
    },
    getStickyBinding: async (req) => {
      const key = keyOf(req);
      const b = await cluster.read((s) => s.stickyBinding(key));
      return b === undefined ? {} : { binding: wireStickyBinding(b) };
    },
  };
}
