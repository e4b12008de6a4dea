import type { V1Node } from "@kubernetes/client-node";
import type { K8sConfig } from "./k8s-config.js";

/** Where a Node's labels place it, or why they do not. */
export type NodePlacement =
  | {
      readonly ok: true;
      readonly tor: string;
      /** The zone/pod/TOR labels, registered with the node. */
      readonly labels: Readonly<Record<string, string>>;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * The node's TOR from its TOR label (required), with its zone and pod labels when set. A
 * missing or empty TOR label is a reason naming the label and the command that fixes it.
 */
export function placementOf(
  node: Pick<V1Node, "metadata">,
  config: Pick<K8sConfig, "zoneLabel" | "podLabel" | "torLabel">,
): NodePlacement {
  const all = node.metadata?.labels ?? {};
  const name = node.metadata?.name ?? "";
  const tor = all[config.torLabel];
  if (tor === undefined || tor === "") {
    return {
      ok: false,
      reason: `Node ${name} has no ${config.torLabel} label: label it with its TOR (kubectl label node ${name} ${config.torLabel}=<tor id>)`,
    };
  }
  const labels: Record<string, string> = { [config.torLabel]: tor };
  for (const key of [config.zoneLabel, config.podLabel]) {
    const v = all[key];
    if (v !== undefined && v !== "") labels[key] = v;
  }
  return { ok: true, tor, labels };
}
