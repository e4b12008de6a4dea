import { Cidr } from "@ipam/bitmap";
import type { z } from "zod";
import { type SubnetConfig, type TopologyConfig, topologyConfigSchema } from "./config-schema.js";
import { issuesError, type TopologyIssue } from "./errors.js";
import type {
  Node,
  Pod,
  PurposePolicy,
  ScopeRef,
  Subnet,
  Supernet,
  Topology,
  Tor,
  Zone,
} from "./model.js";
import {
  checkInsideRanges,
  type IssueSink,
  joinPath,
  normalizeLabels,
  normalizeRanges,
  normalizeSubnet,
  resolveId,
} from "./normalize.js";
import { findOverlaps } from "./overlap.js";
import { resolveStrategy } from "./strategy.js";
import { checkSupernets, normalizeSupernet, type ScopedSupernet } from "./supernets.js";
import { makeTopology, type SubnetInterval } from "./topology.js";

type ParsedConfig = z.output<typeof topologyConfigSchema>;

/** Formats a zod issue path (`["zones", 0, "id"]`) as `zones[0].id`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    out = typeof key === "number" ? joinPath(out, key) : joinPath(out, String(key));
  }
  return out;
}

/** Checks the document's shape; returns the typed config or the shape issues (all of them). */
export function checkShape(
  input: unknown,
): { readonly config: ParsedConfig } | { readonly issues: TopologyIssue[] } {
  const result = topologyConfigSchema.safeParse(input);
  if (result.success) return { config: result.data };
  return {
    issues: result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
  };
}

/** The overlap finder; replaceable so the benchmark can run a quadratic baseline in-process. */
export type OverlapFinder = typeof findOverlaps;

interface PendingSubnet {
  /** Undefined when a field other than the CIDR is invalid (still checked for overlaps). */
  readonly subnet: Subnet | undefined;
  readonly cidr: Cidr;
  readonly path: string;
}

/**
 * Builds a topology from a shape-checked config, collecting every semantic problem: invalid
 * or non-canonical CIDRs, duplicate ids, unknown TORs, subnets outside their pod's or zone's
 * subnetRanges, overlapping subnets anywhere in the tree, bad gateways, reserved ranges and
 * block prefixes. O(n log n) in the number of entities.
 */
export function buildFromConfig(
  config: ParsedConfig,
  overlaps: OverlapFinder = findOverlaps,
): { readonly topology: Topology } | { readonly issues: TopologyIssue[] } {
  const issues: IssueSink = [];
  const zones = new Map<string, Zone>();
  const pods = new Map<string, Pod>();
  const tors = new Map<string, Tor>();
  const nodes = new Map<string, Node>();
  const seen = {
    zone: new Map<string, string>(),
    pod: new Map<string, string>(),
    tor: new Map<string, string>(),
    node: new Map<string, string>(),
    subnet: new Map<string, string>(),
  };
  const pending: PendingSubnet[] = [];
  const supernetList: ScopedSupernet[] = [];

  /** Normalizes a scope's supernets (inside `limits`), remembering them for the overlap checks. */
  const addSupernets = (
    list: ParsedConfig["zones"][number]["supernets"],
    scope: ScopeRef | undefined,
    base: string,
    limits: ReadonlyArray<{ readonly owner: string; readonly ranges: readonly Cidr[] }>,
  ): Supernet[] => {
    const out: ScopedSupernet[] = [];
    (list ?? []).forEach((raw, i) => {
      const path = joinPath(joinPath(base, "supernets"), i);
      const normalized = normalizeSupernet(raw, path, issues);
      if (normalized === undefined) return;
      for (const limit of limits)
        checkInsideRanges(
          normalized.cidr,
          limit.ranges,
          limit.owner,
          joinPath(path, "cidr"),
          issues,
        );
      if (scope !== undefined) out.push({ ...normalized, scope, path });
    });
    out.sort((a, b) => Cidr.compare(a.cidr, b.cidr));
    supernetList.push(...out);
    return out.map((s) => s.supernet);
  };

  const claim = (kind: keyof typeof seen, id: string, path: string): boolean => {
    const first = seen[kind].get(id);
    if (first !== undefined) {
      issues.push({
        path,
        message: `duplicate ${kind === "tor" ? "TOR" : kind} id ${JSON.stringify(id)} (also at ${first})`,
      });
      return false;
    }
    seen[kind].set(id, path);
    return true;
  };

  const addSubnets = (
    list: readonly SubnetConfig[] | undefined,
    scope: ScopeRef | undefined,
    base: string,
    limits: ReadonlyArray<{ readonly owner: string; readonly ranges: readonly Cidr[] }>,
  ): void => {
    (list ?? []).forEach((raw, i) => {
      const path = joinPath(joinPath(base, "subnets"), i);
      const normalized = normalizeSubnet(raw, scope ?? { kind: "tor", id: "" }, path, issues);
      if (normalized === undefined) {
        const cidr = Cidr.tryParse(raw.cidr);
        if (cidr !== undefined) pending.push({ subnet: undefined, cidr, path });
        return;
      }
      for (const limit of limits) {
        checkInsideRanges(
          normalized.cidr,
          limit.ranges,
          limit.owner,
          joinPath(path, "cidr"),
          issues,
        );
      }
      const idPath = joinPath(path, raw.id === undefined ? "cidr" : "id");
      const keep = claim("subnet", normalized.subnet.id, idPath) && scope !== undefined;
      pending.push({ subnet: keep ? normalized.subnet : undefined, cidr: normalized.cidr, path });
    });
  };

  config.zones.forEach((zc, zi) => {
    const zPath = joinPath("zones", zi);
    const zoneId = resolveId(zc, "zone", zPath, issues);
    const zoneRanges = normalizeRanges(zc.subnetRanges, joinPath(zPath, "subnetRanges"), issues);
    let zoneOk = false;
    if (zoneId !== undefined && claim("zone", zoneId, joinPath(zPath, "id"))) {
      zoneOk = true;
    }
    const zoneLimit = { owner: `zone ${JSON.stringify(zoneId ?? "")}`, ranges: zoneRanges };
    const zoneSupernets = addSupernets(
      zc.supernets,
      zoneOk ? { kind: "zone", id: zoneId as string } : undefined,
      zPath,
      [zoneLimit],
    );
    if (zoneOk && zoneId !== undefined) {
      zones.set(
        zoneId,
        Object.freeze({
          id: zoneId,
          name: zc.name ?? zoneId,
          labels: normalizeLabels(zc.labels),
          subnetRanges: Object.freeze(zoneRanges.map(String)),
          ...(zoneSupernets.length === 0 ? {} : { supernets: Object.freeze(zoneSupernets) }),
        }),
      );
    }
    addSubnets(zc.subnets, zoneOk ? { kind: "zone", id: zoneId as string } : undefined, zPath, [
      zoneLimit,
    ]);

    (zc.pods ?? []).forEach((pc, pi) => {
      const pPath = joinPath(joinPath(zPath, "pods"), pi);
      const podId = resolveId(pc, "pod", pPath, issues);
      const rangesPath = joinPath(pPath, "subnetRanges");
      const podRanges = normalizeRanges(pc.subnetRanges, rangesPath, issues, (r, at) =>
        checkInsideRanges(r, zoneRanges, zoneLimit.owner, at, issues),
      );
      let podOk = false;
      if (podId !== undefined && claim("pod", podId, joinPath(pPath, "id")) && zoneOk) {
        podOk = true;
      }
      const podLimit = { owner: `pod ${JSON.stringify(podId ?? "")}`, ranges: podRanges };
      const podSupernets = addSupernets(
        pc.supernets,
        podOk ? { kind: "pod", id: podId as string } : undefined,
        pPath,
        [podLimit, zoneLimit],
      );
      if (podOk && podId !== undefined) {
        pods.set(
          podId,
          Object.freeze({
            id: podId,
            name: pc.name ?? podId,
            zone: zoneId as string,
            labels: normalizeLabels(pc.labels),
            subnetRanges: Object.freeze(podRanges.map(String)),
            ...(podSupernets.length === 0 ? {} : { supernets: Object.freeze(podSupernets) }),
          }),
        );
      }
      addSubnets(pc.subnets, podOk ? { kind: "pod", id: podId as string } : undefined, pPath, [
        podLimit,
        zoneLimit,
      ]);

      (pc.tors ?? []).forEach((tc, ti) => {
        const tPath = joinPath(joinPath(pPath, "tors"), ti);
        const torId = resolveId(tc, "TOR", tPath, issues);
        let torOk = false;
        if (torId !== undefined && claim("tor", torId, joinPath(tPath, "id")) && podOk) {
          torOk = true;
          const tor: Tor = {
            id: torId,
            name: tc.name ?? torId,
            pod: podId as string,
            ...(tc.location === undefined ? {} : { location: tc.location }),
            labels: normalizeLabels(tc.labels),
          };
          tors.set(torId, Object.freeze(tor));
        }
        addSubnets(tc.subnets, torOk ? { kind: "tor", id: torId as string } : undefined, tPath, [
          podLimit,
          zoneLimit,
        ]);
        (tc.nodes ?? []).forEach((nc, ni) => {
          const nPath = joinPath(joinPath(tPath, "nodes"), ni);
          const nodeId = resolveId(nc, "node", nPath, issues);
          if (nodeId !== undefined && claim("node", nodeId, joinPath(nPath, "id")) && torOk) {
            nodes.set(
              nodeId,
              Object.freeze({
                id: nodeId,
                name: nc.name ?? nodeId,
                tor: torId as string,
                labels: normalizeLabels(nc.labels),
              }),
            );
          }
        });
      });
    });
  });

  (config.nodes ?? []).forEach((nc, ni) => {
    const nPath = joinPath("nodes", ni);
    const nodeId = resolveId(nc, "node", nPath, issues);
    const torKnown = seen.tor.has(nc.tor);
    if (!torKnown) {
      issues.push({
        path: joinPath(nPath, "tor"),
        message: `unknown TOR ${JSON.stringify(nc.tor)}`,
      });
    }
    if (nodeId !== undefined && claim("node", nodeId, joinPath(nPath, "id")) && tors.has(nc.tor)) {
      nodes.set(
        nodeId,
        Object.freeze({
          id: nodeId,
          name: nc.name ?? nodeId,
          tor: nc.tor,
          labels: normalizeLabels(nc.labels),
        }),
      );
    }
  });

  const byKey = new Map<string, PendingSubnet>();
  const intervals: SubnetInterval[][] = [[], []];
  for (const p of pending) {
    byKey.set(p.path, p);
    intervals[p.cidr.family === 4 ? 0 : 1]?.push({
      start: p.cidr.start,
      end: p.cidr.end,
      id: p.path,
    });
  }
  for (const list of intervals) {
    for (const { first, second } of overlaps(list)) {
      const a = byKey.get(first.id) as PendingSubnet;
      const b = byKey.get(second.id) as PendingSubnet;
      issues.push({
        path: joinPath(b.path, "cidr"),
        message: `${b.cidr} overlaps ${a.cidr} at ${a.path}`,
      });
    }
  }

  const subnets = new Map<string, Subnet>();
  for (const p of pending) if (p.subnet !== undefined) subnets.set(p.subnet.id, p.subnet);
  checkSupernets(supernetList, subnets, tors, pods, issues);
  const purposes = new Map<string, PurposePolicy>();
  for (const name of Object.keys(config.purposes ?? {}).sort()) {
    const policy = config.purposes?.[name];
    if (policy?.strategy !== undefined)
      purposes.set(name, Object.freeze({ strategy: resolveStrategy(policy.strategy) }));
  }
  if (issues.length > 0) return { issues };
  return { topology: makeTopology({ zones, pods, tors, nodes, subnets, purposes }) };
}

/**
 * Every problem in a config document (shape first; address and tree rules once the shape is
 * right), or an empty array when `createTopology` would accept it. Never throws.
 */
export function validateTopologyConfig(input: unknown): readonly TopologyIssue[] {
  const shape = checkShape(input);
  if ("issues" in shape) return shape.issues;
  const built = buildFromConfig(shape.config);
  return "issues" in built ? built.issues : [];
}

/** Pluralized summary line for an INVALID_CONFIG error. */
export function configSummary(count: number): string {
  return `invalid topology config (${count} ${count === 1 ? "problem" : "problems"})`;
}

/**
 * Validates a config object (camelCase) and returns the topology.
 * @throws TopologyError `INVALID_CONFIG` with `details.issues` listing every problem.
 */
export function createTopology(config: TopologyConfig): Topology {
  const shape = checkShape(config);
  if ("issues" in shape)
    throw issuesError("INVALID_CONFIG", configSummary(shape.issues.length), shape.issues);
  const built = buildFromConfig(shape.config);
  if ("issues" in built) {
    throw issuesError("INVALID_CONFIG", configSummary(built.issues.length), built.issues);
  }
  return built.topology;
}
