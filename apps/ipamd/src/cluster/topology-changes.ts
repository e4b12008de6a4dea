import type { ClusterCommand, ClusterState, StatsLevel } from "@ipam/subnet-pool";
import {
  DEFAULT_STRATEGY,
  type ScopeRef,
  type Topology,
  type TopologyDiff,
  toCanonicalConfig,
} from "@ipam/topology";
import { IpamdError } from "../ipamd-error.js";
import { requireText } from "../request-fields.js";
import { unwrap } from "./cluster-errors.js";

// What the Cluster API says about topologies: their version, the change lines of an apply (and
// of a dry run), scopes named in requests, and nodes beneath a level.

/**
 * The topology version the Cluster API reports: FNV-1a (64 bit) of the canonical JSON, never 0.
 * Equal topologies have equal versions on every replica; it is an identity, not a counter.
 */
export function topologyVersion(topology: Topology): bigint {
  return versionOfJson(JSON.stringify(toCanonicalConfig(topology)));
}

function versionOfJson(json: string): bigint {
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  const bytes = new TextEncoder().encode(json);
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & mask;
  return h === 0n ? 1n : h;
}

/** Human-readable change lines of a diff, deterministic order. */
export function changeLines(d: TopologyDiff, removedNodes: readonly string[] = []): string[] {
  const out: string[] = [];
  const kinds = [
    ["zone", d.zones],
    ["pod", d.pods],
    ["tor", d.tors],
    ["subnet", d.subnets],
    ["node", d.nodes],
  ] as const;
  for (const [kind, k] of kinds) {
    for (const e of k.added) out.push(`add ${kind} ${e.id}`);
    for (const e of k.changed) out.push(`change ${kind} ${e.id}`);
    for (const e of k.removed) out.push(`remove ${kind} ${e.id}`);
  }
  for (const e of d.purposePolicies.added) out.push(`add purpose ${e.id} (strategy ${e.strategy})`);
  for (const e of d.purposePolicies.changed)
    out.push(`change purpose ${e.id} (strategy ${e.before.strategy} → ${e.after.strategy})`);
  for (const e of d.purposePolicies.removed)
    out.push(`remove purpose ${e.id} (strategy ${e.strategy} → ${DEFAULT_STRATEGY}, the default)`);
  for (const n of removedNodes) out.push(`deregister node ${n} (its TOR is gone)`);
  return out;
}

/** `tor:t1`, `pod:p1`, `zone:z1`, or a bare id found in exactly one of those kinds. */
export function resolveScope(topology: Topology, field: string, text: string): ScopeRef {
  requireText(field, text);
  const m = /^(zone|pod|tor):(.+)$/.exec(text);
  if (m !== null) {
    const kind = m[1] as ScopeRef["kind"];
    const id = m[2] as string;
    const map = kind === "zone" ? topology.zones : kind === "pod" ? topology.pods : topology.tors;
    if (!map.has(id)) throw new IpamdError("NOT_FOUND", `${field}: no ${kind} ${id}`);
    return { kind, id };
  }
  const found: ScopeRef[] = [];
  if (topology.tors.has(text)) found.push({ kind: "tor", id: text });
  if (topology.pods.has(text)) found.push({ kind: "pod", id: text });
  if (topology.zones.has(text)) found.push({ kind: "zone", id: text });
  if (found.length === 0) {
    throw new IpamdError("NOT_FOUND", `${field}: ${text} is no TOR, pod or zone`);
  }
  if (found.length > 1) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${field}: ${text} names several levels; write ${found.map((f) => `${f.kind}:${text}`).join(" or ")}`,
    );
  }
  return found[0] as ScopeRef;
}

export function nodesBeneath(topology: Topology, level: StatsLevel, id: string): number {
  if (level !== "zone" && level !== "pod" && level !== "tor") return 0;
  let n = 0;
  for (const node of topology.nodes.values()) {
    const tor = topology.tors.get(node.tor);
    if (tor === undefined) continue;
    if (level === "tor" && tor.id === id) n++;
    else if (level === "pod" && tor.pod === id) n++;
    else if (level === "zone" && topology.pods.get(tor.pod)?.zone === id) n++;
  }
  return n;
}

/** The change lines `command` would produce on `state`, without changing it. */
export function dryRun(
  state: ClusterState,
  command: ClusterCommand & { type: "apply-topology" },
): string[] {
  const copy = new (state.constructor as new () => ClusterState)();
  copy.restore(state.snapshot());
  const r = copy.apply(command);
  const value = unwrap<{ diff: TopologyDiff; removedNodes: readonly string[] }>(
    r,
    "apply-topology",
  );
  return changeLines(value.diff, value.removedNodes);
}
