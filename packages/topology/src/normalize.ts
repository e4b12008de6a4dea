import { Cidr, formatIp, ipFromBigInt, tryParseIp } from "@ipam/bitmap";
import type { SubnetConfig } from "./config-schema.js";
import type { TopologyIssue } from "./errors.js";
import { type Family, hostPrefix, type Labels, type ScopeRef, type Subnet } from "./model.js";
import { resolveStrategy } from "./strategy.js";

/**
 * Field-level normalization shared by whole-document validation and by the operations:
 * each function checks one entity's own fields, appends an issue (with `path`) per problem,
 * and returns the canonical value or `undefined` when it cannot be built.
 */

export type IssueSink = TopologyIssue[];

export const DEFAULT_PURPOSE = "default";
export const DEFAULT_PRIORITY = 100;
export const DEFAULT_COOLDOWN_SECONDS = 30;
/** Default block prefix per family; raised to the subnet's own prefix when that is longer. */
export const DEFAULT_BLOCK_PREFIX: Readonly<Record<Family, number>> = { 4: 26, 6: 122 };

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** Joins a path and a key the way issues print them: `zones[0].pods`, `zones[0]`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base === "" ? key : `${base}.${key}`;
}

/** Parses a CIDR, reporting an invalid or non-canonical one at `path`. */
export function checkCidr(text: string, path: string, issues: IssueSink): Cidr | undefined {
  try {
    return Cidr.parse(text);
  } catch (error) {
    issues.push({ path, message: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
}

/**
 * Resolves an entity id: `id`, else `name` (the legacy format names entities only).
 * Reports a missing or malformed id at `path.id`.
 */
export function resolveId(
  raw: { readonly id?: string | undefined; readonly name?: string | undefined },
  kind: string,
  path: string,
  issues: IssueSink,
): string | undefined {
  const id = raw.id ?? raw.name;
  if (id === undefined) {
    issues.push({ path: joinPath(path, "id"), message: `${kind} id is required` });
    return undefined;
  }
  if (typeof id !== "string" || id.length === 0 || id.length > 253 || !ID_PATTERN.test(id)) {
    issues.push({
      path: joinPath(path, raw.id === undefined ? "name" : "id"),
      message: `${JSON.stringify(id)} is not a valid ${kind} id (letters, digits, '.', '_', ':', '-'; starting with a letter or digit)`,
    });
    return undefined;
  }
  return id;
}

/** Copies labels into a frozen object with sorted keys (so equal labels serialize equally). */
export function normalizeLabels(labels: Readonly<Record<string, string>> | undefined): Labels {
  const out: Record<string, string> = {};
  if (labels !== undefined) {
    for (const key of Object.keys(labels).sort()) out[key] = labels[key] as string;
  }
  return Object.freeze(out);
}

/** Parses `subnetRanges`, returning the valid ones in canonical order (family, then address). */
export function normalizeRanges(
  ranges: readonly string[] | undefined,
  path: string,
  issues: IssueSink,
  each?: (cidr: Cidr, path: string) => void,
): Cidr[] {
  const out: Cidr[] = [];
  (ranges ?? []).forEach((text, i) => {
    const cidr = checkCidr(text, joinPath(path, i), issues);
    if (cidr === undefined) return;
    out.push(cidr);
    each?.(cidr, joinPath(path, i));
  });
  return out.sort(Cidr.compare);
}

/**
 * Reports `cidr` when its family has ranges in `ranges` and none contains it. A family with no
 * ranges at all is unconstrained (a zone may restrict IPv4 only).
 */
export function checkInsideRanges(
  cidr: Cidr,
  ranges: readonly Cidr[],
  owner: string,
  path: string,
  issues: IssueSink,
): void {
  let sameFamily = false;
  for (const r of ranges) {
    if (r.family !== cidr.family) continue;
    if (r.contains(cidr)) return;
    sameFamily = true;
  }
  if (sameFamily) {
    const list = ranges.filter((r) => r.family === cidr.family).join(", ");
    issues.push({ path, message: `${cidr} is outside the subnetRanges of ${owner} (${list})` });
  }
}

/** A subnet with its parsed CIDR, as produced by {@link normalizeSubnet}. */
export interface NormalizedSubnet {
  readonly subnet: Subnet;
  readonly cidr: Cidr;
}

function familyName(family: Family): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/** True when `offset` from the subnet start is a network, broadcast or subnet-router address. */
function isUnusableAddress(cidr: Cidr, value: bigint): boolean {
  const hasNetworkAddress = cidr.prefix <= cidr.bits - 2;
  if (!hasNetworkAddress) return false;
  if (value === cidr.start) return true;
  return cidr.family === 4 && value === cidr.end;
}

function defaultGateway(cidr: Cidr): string {
  if (cidr.prefix > cidr.bits - 2) return "none";
  return formatIp(ipFromBigInt(cidr.family, cidr.start + 1n));
}

function normalizeGateway(
  text: string | undefined,
  cidr: Cidr,
  path: string,
  issues: IssueSink,
): string | undefined {
  if (text === undefined) return defaultGateway(cidr);
  if (text === "none") return "none";
  const ip = tryParseIp(text);
  if (ip === undefined) {
    issues.push({ path, message: `${JSON.stringify(text)} is not a valid IP address or "none"` });
    return undefined;
  }
  if (ip.family !== cidr.family) {
    issues.push({
      path,
      message: `mixed families: gateway ${text} is ${familyName(ip.family)} but subnet ${cidr} is ${familyName(cidr.family)}`,
    });
    return undefined;
  }
  if (!cidr.contains(ip)) {
    issues.push({ path, message: `gateway ${text} is outside subnet ${cidr}` });
    return undefined;
  }
  const value = BigInt(ip.value);
  if (isUnusableAddress(cidr, value)) {
    const what =
      value === cidr.start
        ? cidr.family === 4
          ? "the network address"
          : "the subnet-router anycast address"
        : "the broadcast address";
    issues.push({ path, message: `gateway ${text} is ${what} of ${cidr}` });
    return undefined;
  }
  return formatIp(ip);
}

interface ReservedRange {
  readonly start: bigint;
  readonly end: bigint;
  readonly text: string;
}

function normalizeReservedEntry(
  text: string,
  cidr: Cidr,
  path: string,
  issues: IssueSink,
): ReservedRange | undefined {
  const dash = text.indexOf("-");
  let family: Family;
  let start: bigint;
  let end: bigint;
  let canonical: string;
  if (dash >= 0) {
    const a = tryParseIp(text.slice(0, dash).trim());
    const b = tryParseIp(text.slice(dash + 1).trim());
    if (a === undefined || b === undefined) {
      issues.push({ path, message: `${JSON.stringify(text)} is not a valid "first-last" range` });
      return undefined;
    }
    if (a.family !== b.family) {
      issues.push({ path, message: `mixed families in range ${text}` });
      return undefined;
    }
    family = a.family;
    start = BigInt(a.value);
    end = BigInt(b.value);
    if (start > end) {
      issues.push({ path, message: `range ${text} ends before it starts` });
      return undefined;
    }
    canonical = `${formatIp(a)}-${formatIp(b)}`;
  } else if (text.includes("/")) {
    const r = checkCidr(text, path, issues);
    if (r === undefined) return undefined;
    family = r.family;
    start = r.start;
    end = r.end;
    canonical = r.toString();
  } else {
    const ip = tryParseIp(text);
    if (ip === undefined) {
      issues.push({
        path,
        message: `${JSON.stringify(text)} is not a valid address, CIDR or "first-last" range`,
      });
      return undefined;
    }
    family = ip.family;
    start = BigInt(ip.value);
    end = start;
    canonical = `${formatIp(ip)}/${hostPrefix(family)}`;
  }
  if (family !== cidr.family) {
    issues.push({
      path,
      message: `mixed families: reserved ${text} is ${familyName(family)} but subnet ${cidr} is ${familyName(cidr.family)}`,
    });
    return undefined;
  }
  if (start < cidr.start || end > cidr.end) {
    issues.push({ path, message: `reserved ${text} is outside subnet ${cidr}` });
    return undefined;
  }
  return { start, end, text: canonical };
}

/** The block prefix `raw` names (default per family), checked against `cidr`. */
export function normalizeBlockPrefix(
  raw: number | string | undefined,
  cidr: Cidr,
  path: string,
  issues: IssueSink,
): number | undefined {
  const family = cidr.family;
  if (raw === undefined) return Math.max(DEFAULT_BLOCK_PREFIX[family], cidr.prefix);
  const value = typeof raw === "number" ? raw : Number(raw.startsWith("/") ? raw.slice(1) : raw);
  const host = hostPrefix(family);
  if (!Number.isInteger(value) || value > host) {
    issues.push({
      path,
      message: `mixed families: blockPrefix /${value} is not an ${familyName(family)} prefix length (0-${host})`,
    });
    return undefined;
  }
  if (value < cidr.prefix) {
    issues.push({
      path,
      message: `blockPrefix /${value} is shorter than the subnet's prefix /${cidr.prefix}`,
    });
    return undefined;
  }
  return value;
}

/**
 * Normalizes one subnet's settings: canonical CIDR, default id/purpose/gateway/blockPrefix/
 * priority/cooldown, gateway and reserved entries of the subnet's family and inside it.
 * Returns `undefined` (with issues appended) when any field is invalid.
 */
export function normalizeSubnet(
  raw: SubnetConfig,
  scope: ScopeRef,
  path: string,
  issues: IssueSink,
): NormalizedSubnet | undefined {
  const before = issues.length;
  const cidr = checkCidr(raw.cidr, joinPath(path, "cidr"), issues);
  if (raw.id !== undefined && raw.id.trim() !== raw.id) {
    issues.push({
      path: joinPath(path, "id"),
      message: "subnet id must not have surrounding spaces",
    });
  }
  if (cidr === undefined) return undefined;
  const gateway = normalizeGateway(raw.gateway, cidr, joinPath(path, "gateway"), issues);
  const reserved: ReservedRange[] = [];
  (raw.reserved ?? []).forEach((text, i) => {
    const r = normalizeReservedEntry(text, cidr, joinPath(joinPath(path, "reserved"), i), issues);
    if (r !== undefined) reserved.push(r);
  });
  const blockPrefix = normalizeBlockPrefix(
    raw.blockPrefix,
    cidr,
    joinPath(path, "blockPrefix"),
    issues,
  );
  if (issues.length !== before || gateway === undefined || blockPrefix === undefined) {
    return undefined;
  }
  reserved.sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : 1,
  );
  const text = cidr.toString();
  const subnet: Subnet = Object.freeze({
    id: raw.id ?? text,
    cidr: text,
    family: cidr.family,
    purpose: raw.purpose ?? DEFAULT_PURPOSE,
    scope: Object.freeze({ kind: scope.kind, id: scope.id }),
    gateway,
    reserved: Object.freeze(dedupe(reserved.map((r) => r.text))),
    blockPrefix,
    priority: raw.priority ?? DEFAULT_PRIORITY,
    cooldownSeconds: raw.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS,
    ...(raw.strategy === undefined ? {} : { strategy: resolveStrategy(raw.strategy) }),
  });
  return { subnet, cidr };
}

function dedupe(sorted: string[]): string[] {
  return sorted.filter((s, i) => i === 0 || sorted[i - 1] !== s);
}
