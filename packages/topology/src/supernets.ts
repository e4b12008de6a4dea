import { Cidr } from "@ipam/bitmap";
import type { SupernetConfig } from "./config-schema.js";
import {
  hostPrefix,
  type Pod,
  type ScopeRef,
  type Subnet,
  type Supernet,
  type Tor,
} from "./model.js";
import {
  checkCidr,
  DEFAULT_BLOCK_PREFIX,
  DEFAULT_PURPOSE,
  type IssueSink,
  joinPath,
} from "./normalize.js";

/**
 * Supernets (docs/topology.md, "Supernets"): their fields, and the rules that keep them apart
 * from declared subnets and from each other. Pure checks over already-normalized entities.
 */

/** Leased fraction of a TOR's subnets that triggers a carve when the file names none. */
export const DEFAULT_SUPERNET_THRESHOLD = 0.8;

/** A supernet with its parsed CIDR and the scope that declares it. */
export interface ScopedSupernet {
  readonly supernet: Supernet;
  readonly cidr: Cidr;
  readonly scope: ScopeRef;
  /** Where it was declared (`zones[0].pods[1].supernets[0]`), for messages. */
  readonly path: string;
}

function prefixValue(raw: number | string): number {
  return typeof raw === "number" ? raw : Number(raw.startsWith("/") ? raw.slice(1) : raw);
}

/**
 * Normalizes one supernet: canonical CIDR, carve prefix inside it, block prefix of the subnets
 * it carves (default per family; the host prefix /32 or /128 makes them direct-mode, so the
 * supernet feeds the TORs' direct-mode subnets instead of their block-mode ones), threshold in (0, 1] (default 0.8), purpose (default `default`).
 * Returns undefined (with issues appended at `path.<field>`) when a field is invalid.
 */
export function normalizeSupernet(
  raw: SupernetConfig,
  path: string,
  issues: IssueSink,
): { readonly supernet: Supernet; readonly cidr: Cidr } | undefined {
  const before = issues.length;
  const cidr = checkCidr(raw.cidr, joinPath(path, "cidr"), issues);
  if (cidr === undefined) return undefined;
  const host = hostPrefix(cidr.family);
  const prefix = prefixValue(raw.prefix);
  if (!Number.isInteger(prefix) || prefix < cidr.prefix || prefix > host) {
    issues.push({
      path: joinPath(path, "prefix"),
      message: `/${raw.prefix} is not a prefix length between the supernet's /${cidr.prefix} and /${host}`,
    });
  }
  const blockPrefix =
    raw.blockPrefix === undefined
      ? Math.max(DEFAULT_BLOCK_PREFIX[cidr.family], prefix)
      : prefixValue(raw.blockPrefix);
  if (!Number.isInteger(blockPrefix) || blockPrefix < prefix || blockPrefix > host) {
    issues.push({
      path: joinPath(path, "blockPrefix"),
      message: `/${raw.blockPrefix} must be from the carved /${prefix} to /${host} (/${host}: the supernet feeds direct-mode subnets)`,
    });
  }
  const threshold = raw.threshold ?? DEFAULT_SUPERNET_THRESHOLD;
  if (!(threshold > 0 && threshold <= 1)) {
    issues.push({
      path: joinPath(path, "threshold"),
      message: `${threshold} is outside (0, 1]: it is the leased fraction that triggers a carve (e.g. 0.8)`,
    });
  }
  if (issues.length !== before) return undefined;
  const supernet: Supernet = Object.freeze({
    cidr: cidr.toString(),
    family: cidr.family,
    purpose: raw.purpose ?? DEFAULT_PURPOSE,
    prefix,
    threshold,
    blockPrefix,
  });
  return { supernet, cidr };
}

/** True when TOR `torId` lies beneath `scope` (a zone or pod). */
export function torUnder(
  scope: ScopeRef,
  torId: string,
  tors: ReadonlyMap<string, Tor>,
  pods: ReadonlyMap<string, Pod>,
): boolean {
  const tor = tors.get(torId);
  if (tor === undefined) return false;
  if (scope.kind === "pod") return tor.pod === scope.id;
  if (scope.kind === "zone") return pods.get(tor.pod)?.zone === scope.id;
  return false;
}

/**
 * Why `subnet` may not overlap the supernet, or undefined when it may: only a TOR subnet of the
 * supernet's purpose and family, beneath its scope and wholly inside it, is a subnet it feeds.
 */
export function supernetClash(
  s: ScopedSupernet,
  subnet: Subnet,
  subnetCidr: Cidr,
  tors: ReadonlyMap<string, Tor>,
  pods: ReadonlyMap<string, Pod>,
): string | undefined {
  if (subnetCidr.family !== s.cidr.family || !subnetCidr.overlaps(s.cidr)) return undefined;
  if (
    subnet.scope.kind === "tor" &&
    subnet.purpose === s.supernet.purpose &&
    s.cidr.contains(subnetCidr) &&
    torUnder(s.scope, subnet.scope.id, tors, pods)
  )
    return undefined;
  return `supernet ${s.cidr} (${s.scope.kind} ${s.scope.id}, purpose ${s.supernet.purpose}) overlaps subnet ${JSON.stringify(subnet.id)} (${subnet.cidr}, ${subnet.scope.kind === "tor" ? "TOR" : subnet.scope.kind} ${subnet.scope.id}, purpose ${subnet.purpose}): only ${s.supernet.purpose} subnets of TORs beneath ${s.scope.kind} ${s.scope.id} may lie inside it; move the supernet or the subnet`;
}

/**
 * Appends an issue per supernet that overlaps another supernet, or overlaps a subnet it does
 * not feed (see {@link supernetClash}). O(supernets × (supernets + subnets)).
 */
export function checkSupernets(
  supernets: readonly ScopedSupernet[],
  subnets: ReadonlyMap<string, Subnet>,
  tors: ReadonlyMap<string, Tor>,
  pods: ReadonlyMap<string, Pod>,
  issues: IssueSink,
): void {
  const parsed = [...subnets.values()].map((s) => [s, Cidr.parse(s.cidr)] as const);
  supernets.forEach((s, i) => {
    const at = joinPath(s.path, "cidr");
    for (let j = 0; j < i; j++) {
      const other = supernets[j] as ScopedSupernet;
      if (other.cidr.overlaps(s.cidr))
        issues.push({
          path: at,
          message: `supernet ${s.cidr} overlaps supernet ${other.cidr} at ${other.path}`,
        });
    }
    for (const [subnet, cidr] of parsed) {
      const clash = supernetClash(s, subnet, cidr, tors, pods);
      if (clash !== undefined) issues.push({ path: at, message: clash });
    }
  });
}

/** Every supernet of the zones, then of the pods, of a topology (for the operations' checks). */
export function scopedSupernets(
  zones: ReadonlyMap<string, { readonly id: string; readonly supernets?: readonly Supernet[] }>,
  pods: ReadonlyMap<string, Pod>,
): ScopedSupernet[] {
  const out: ScopedSupernet[] = [];
  const add = (kind: "zone" | "pod", id: string, list: readonly Supernet[] = []): void => {
    list.forEach((supernet, i) => {
      out.push({
        supernet,
        cidr: Cidr.parse(supernet.cidr),
        scope: { kind, id },
        path: `${kind} ${id} supernets[${i}]`,
      });
    });
  };
  for (const z of zones.values()) add("zone", z.id, z.supernets);
  for (const p of pods.values()) add("pod", p.id, p.supernets);
  return out;
}
