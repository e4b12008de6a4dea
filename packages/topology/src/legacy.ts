import type { TopologyIssue } from "./errors.js";

/**
 * Reads the original project's snake_case topology documents: keys of zones, pods, TORs,
 * subnets and nodes are converted from snake_case to camelCase (`subnet_ranges` →
 * `subnetRanges`, `block_prefix` → `blockPrefix`, `cooldown_seconds` → `cooldownSeconds`,
 * `tor_id` → `torId` → `tor`), label keys are left alone, and a top-level `pods` list whose
 * entries name their zone (`zone_id` / `zone`) is moved under that zone. Entities with a
 * `name` but no `id` take the name as id (see `resolveId`). Anything else is left for the
 * schema to judge. The input is not modified.
 */

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Reference keys of the legacy format, renamed to the camelCase field they mean. */
const REFERENCE_KEYS: Readonly<Record<string, string>> = {
  torId: "tor",
  podId: "pod",
  zoneId: "zone",
};

type Children = Readonly<Record<string, Level>>;
interface Level {
  readonly children: Children;
}

const node: Level = { children: {} };
const subnet: Level = { children: {} };
const tor: Level = { children: { subnets: subnet, nodes: node } };
const pod: Level = { children: { subnets: subnet, tors: tor } };
const zone: Level = { children: { subnets: subnet, pods: pod } };
const root: Level = { children: { zones: zone, pods: pod, nodes: node } };

function convert(value: unknown, level: Level, path: string, issues: TopologyIssue[]): unknown {
  if (Array.isArray(value)) {
    return value.map((item, i) => convert(item, level, `${path}[${i}]`, issues));
  }
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    let name = key.includes("_") ? camel(key) : key;
    if (level !== root && key !== name) name = REFERENCE_KEYS[name] ?? name;
    if (name in out) {
      issues.push({ path: path === "" ? key : `${path}.${key}`, message: `duplicates ${name}` });
      continue;
    }
    const sub = level.children[name];
    const childPath = path === "" ? name : `${path}.${name}`;
    out[name] = sub === undefined ? child : convert(child, sub, childPath, issues);
  }
  return out;
}

/**
 * Converts a (possibly) legacy document to the camelCase shape. Returns the converted document
 * and any problems the conversion itself found (duplicate keys after renaming, a top-level pod
 * naming an unknown zone).
 */
export function fromLegacyDocument(input: unknown): {
  readonly document: unknown;
  readonly issues: TopologyIssue[];
} {
  const issues: TopologyIssue[] = [];
  const converted = convert(input, root, "", issues);
  if (!isObject(converted) || !Array.isArray(converted.pods)) {
    return { document: converted, issues };
  }
  const { pods, ...rest } = converted;
  const zones = Array.isArray(rest.zones)
    ? rest.zones.map((z) => (isObject(z) ? { ...z } : z))
    : [];
  (pods as unknown[]).forEach((p, i) => {
    const zoneRef = isObject(p) ? p.zone : undefined;
    const target = zones.find(
      (z): z is Json => isObject(z) && (z.id ?? z.name) === zoneRef && zoneRef !== undefined,
    );
    if (target === undefined || !isObject(p)) {
      issues.push({
        path: `pods[${i}].zone`,
        message: `unknown zone ${JSON.stringify(zoneRef ?? null)} for a top-level pod`,
      });
      return;
    }
    const { zone: _zone, ...podFields } = p;
    target.pods = [...(Array.isArray(target.pods) ? target.pods : []), podFields];
  });
  return { document: { ...rest, zones }, issues };
}
