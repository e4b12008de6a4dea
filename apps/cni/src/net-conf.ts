import { CniError } from "./cni-error.js";
import { type IpFamily, parseCidr, parseIp } from "./ip.js";
import { type CniVersion, negotiateVersion } from "./versions.js";

/** A route from the `ipam.routes` config, copied into every ADD result. */
export interface RouteConfig {
  readonly dst: string;
  readonly gw?: string;
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}

/** DNS settings from the `ipam.dns` config; each field overrides what ipamd sends. */
export interface DnsConfig {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** The validated `ipam` section. */
export interface IpamConfig {
  /** ipamd's node API unix socket; default `/run/ipamd/ipamd.sock`. */
  readonly socketPath: string;
  /** Which purpose's subnets to draw from; default `default`. */
  readonly purpose: string;
  /** Families to allocate, IPv4 first; default `["ipv4"]`. */
  readonly families: readonly IpFamily[];
  /** Extra routes appended to ipamd's (a config route replaces ipamd's with the same `dst`). */
  readonly routes: readonly RouteConfig[];
  /** DNS overrides. */
  readonly dns: DnsConfig;
  /** Deadline of each call to ipamd, ms; default 10 000. */
  readonly timeoutMs: number;
  /** Write debug lines to stderr. */
  readonly debug: boolean;
}

/** A requested static address and the config field it came from (for error messages). */
export interface RequestedIp {
  readonly field: string;
  readonly value: string;
}

/** A still-valid attachment of a GC request. */
export interface ValidAttachment {
  readonly containerId: string;
  readonly ifname: string;
}

/** The decoded network configuration, as the plugin uses it. */
export interface NetConf {
  readonly cniVersion: CniVersion;
  readonly name: string;
  readonly ipam: IpamConfig;
  /** `runtimeConfig.ips` then `args.cni.ips`, in order; not yet validated as addresses. */
  readonly requestedIps: readonly RequestedIp[];
  /** The raw `prevResult`, when present. */
  readonly prevResult?: unknown;
}

/** The stdin document after JSON decoding and version negotiation, before validation. */
export interface DecodedConf {
  readonly cniVersion: CniVersion;
  readonly raw: Readonly<Record<string, unknown>>;
}

export const DEFAULT_SOCKET_PATH = "/run/ipamd/ipamd.sock";
export const DEFAULT_PURPOSE = "default";
export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 600_000;

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const IPAM_KEYS = new Set([
  "type",
  "socketPath",
  "purpose",
  "families",
  "routes",
  "dns",
  "timeoutMs",
  "debug",
]);
const ROUTE_KEYS = new Set(["dst", "gw", "mtu", "advmss", "priority", "table", "scope"]);
const DNS_KEYS = new Set(["nameservers", "domain", "search", "options"]);

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(field: string, problem: string): CniError {
  return new CniError("INVALID_CONFIG", `${field}: ${problem}`, { details: { field } });
}

function unsupported(field: string, value: unknown): CniError {
  return new CniError(
    "UNSUPPORTED_FIELD",
    `${field}: unsupported field (value ${JSON.stringify(value)})`,
    { details: { field } },
  );
}

function rejectUnknownKeys(object: Json, allowed: ReadonlySet<string>, path: string): void {
  for (const [key, value] of Object.entries(object)) {
    if (!allowed.has(key)) throw unsupported(`${path}.${key}`, value);
  }
}

/**
 * Decode stdin: JSON text of an object, then the CNI version to speak.
 *
 * @throws CniError `DECODE_FAILED` (not JSON, not an object), `INCOMPATIBLE_VERSION`.
 */
export function decodeConf(stdin: string): DecodedConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (error) {
    throw new CniError(
      "DECODE_FAILED",
      `network configuration is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (!isObject(raw)) {
    throw new CniError("DECODE_FAILED", "network configuration must be a JSON object");
  }
  return { cniVersion: negotiateVersion(raw.cniVersion, raw.cniVersions), raw };
}

function optionalString(object: Json, key: string, path: string): string | undefined {
  const value = object[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalid(`${path}.${key}`, "must be a string");
  return value;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw invalid(field, "must be a list of strings");
  }
  return value as string[];
}

function optionalInteger(
  object: Json,
  key: string,
  path: string,
  min: number,
  max: number,
): number | undefined {
  const value = object[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${path}.${key}`, `${JSON.stringify(value)} is not an integer in ${min}..${max}`);
  }
  return value;
}

function parseFamilies(value: unknown): IpFamily[] {
  if (value === undefined) return ["ipv4"];
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid("ipam.families", 'must be a non-empty list of "ipv4" and/or "ipv6"');
  }
  const seen = new Set<IpFamily>();
  value.forEach((family: unknown, i) => {
    if (family !== "ipv4" && family !== "ipv6") {
      throw invalid(`ipam.families[${i}]`, `${JSON.stringify(family)} is not "ipv4" or "ipv6"`);
    }
    if (seen.has(family)) throw invalid(`ipam.families[${i}]`, `${family} is listed twice`);
    seen.add(family);
  });
  return (["ipv4", "ipv6"] as const).filter((f) => seen.has(f));
}

function parseRoute(value: unknown, path: string): RouteConfig {
  if (!isObject(value)) throw invalid(path, "must be an object with dst");
  rejectUnknownKeys(value, ROUTE_KEYS, path);
  const dstText = value.dst;
  const dst = typeof dstText === "string" ? parseCidr(dstText) : undefined;
  if (dst === undefined) {
    throw invalid(`${path}.dst`, `${JSON.stringify(dstText)} is not a CIDR`);
  }
  const gwText = optionalString(value, "gw", path);
  let gw: string | undefined;
  if (gwText !== undefined) {
    const parsed = parseIp(gwText);
    if (parsed === undefined)
      throw invalid(`${path}.gw`, `${JSON.stringify(gwText)} is not an IP address`);
    if (parsed.family !== dst.family) {
      throw invalid(`${path}.gw`, `${gwText} is not in the family of dst ${dstText}`);
    }
    gw = parsed.address;
  }
  const u32 = 0xffff_ffff;
  const mtu = optionalInteger(value, "mtu", path, 0, u32);
  const advmss = optionalInteger(value, "advmss", path, 0, u32);
  const priority = optionalInteger(value, "priority", path, 0, u32);
  const table = optionalInteger(value, "table", path, 0, u32);
  const scope = optionalInteger(value, "scope", path, 0, 255);
  return {
    dst: `${dst.address}/${dst.prefixLength}`,
    ...(gw === undefined ? {} : { gw }),
    ...(mtu === undefined ? {} : { mtu }),
    ...(advmss === undefined ? {} : { advmss }),
    ...(priority === undefined ? {} : { priority }),
    ...(table === undefined ? {} : { table }),
    ...(scope === undefined ? {} : { scope }),
  };
}

function parseDns(value: unknown): DnsConfig {
  if (value === undefined) return {};
  if (!isObject(value)) throw invalid("ipam.dns", "must be an object");
  rejectUnknownKeys(value, DNS_KEYS, "ipam.dns");
  const dns: {
    nameservers?: string[];
    domain?: string;
    search?: string[];
    options?: string[];
  } = {};
  if (value.nameservers !== undefined) {
    dns.nameservers = stringList(value.nameservers, "ipam.dns.nameservers").map((ns, i) => {
      const parsed = parseIp(ns);
      if (parsed === undefined) {
        throw invalid(`ipam.dns.nameservers[${i}]`, `${JSON.stringify(ns)} is not an IP address`);
      }
      return parsed.address;
    });
  }
  const domain = optionalString(value, "domain", "ipam.dns");
  if (domain !== undefined) dns.domain = domain;
  if (value.search !== undefined) dns.search = stringList(value.search, "ipam.dns.search");
  if (value.options !== undefined) dns.options = stringList(value.options, "ipam.dns.options");
  return dns;
}

function parseIpam(value: unknown): IpamConfig {
  if (value === undefined) throw invalid("ipam", "required (the ipam section of the network)");
  if (!isObject(value)) throw invalid("ipam", "must be an object");
  rejectUnknownKeys(value, IPAM_KEYS, "ipam");
  const socketPath = optionalString(value, "socketPath", "ipam") ?? DEFAULT_SOCKET_PATH;
  if (!socketPath.startsWith("/")) {
    throw invalid("ipam.socketPath", `${JSON.stringify(socketPath)} is not an absolute path`);
  }
  const purpose = optionalString(value, "purpose", "ipam") ?? DEFAULT_PURPOSE;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(purpose)) {
    throw invalid(
      "ipam.purpose",
      `${JSON.stringify(purpose)} is not a purpose name (letters, digits, _ . -; at most 63)`,
    );
  }
  const routesValue = value.routes;
  if (routesValue !== undefined && !Array.isArray(routesValue)) {
    throw invalid("ipam.routes", "must be a list of routes");
  }
  const routes = (routesValue ?? []).map((r: unknown, i: number) =>
    parseRoute(r, `ipam.routes[${i}]`),
  );
  const debug = value.debug;
  if (debug !== undefined && typeof debug !== "boolean") {
    throw invalid("ipam.debug", "must be true or false");
  }
  return {
    socketPath,
    purpose,
    families: parseFamilies(value.families),
    routes,
    dns: parseDns(value.dns),
    timeoutMs: optionalInteger(value, "timeoutMs", "ipam", 1, MAX_TIMEOUT_MS) ?? DEFAULT_TIMEOUT_MS,
    debug: debug === true,
  };
}

function requested(list: unknown, field: string): RequestedIp[] {
  if (list === undefined) return [];
  return stringList(list, field).map((value, i) => ({ field: `${field}[${i}]`, value }));
}

/**
 * Validate a decoded configuration: `name`, the `ipam` section, and the requested-address
 * sources (`runtimeConfig.ips`, `args.cni.ips`).
 *
 * @throws CniError `INVALID_CONFIG` naming the bad field; `UNSUPPORTED_FIELD` for an unknown key
 *   inside `ipam` (a typo there would otherwise be silently ignored).
 */
export function parseNetConf(decoded: DecodedConf): NetConf {
  const { raw } = decoded;
  const name = raw.name;
  if (typeof name !== "string" || name === "") throw invalid("name", "required");
  if (!NAME.test(name)) {
    throw invalid("name", `${JSON.stringify(name)} is not a network name (letters, digits, _ . -)`);
  }
  const ipam = parseIpam(raw.ipam);
  const runtimeConfig = raw.runtimeConfig;
  if (runtimeConfig !== undefined && !isObject(runtimeConfig)) {
    throw invalid("runtimeConfig", "must be an object");
  }
  const args = raw.args;
  if (args !== undefined && !isObject(args)) throw invalid("args", "must be an object");
  const argsCni = args?.cni;
  if (argsCni !== undefined && !isObject(argsCni)) throw invalid("args.cni", "must be an object");
  return {
    cniVersion: decoded.cniVersion,
    name,
    ipam,
    requestedIps: [
      ...requested(runtimeConfig?.ips, "runtimeConfig.ips"),
      ...requested(argsCni?.ips, "args.cni.ips"),
    ],
    ...(raw.prevResult === undefined ? {} : { prevResult: raw.prevResult }),
  };
}

/**
 * The `cni.dev/valid-attachments` list of a GC request (or the legacy `cni.dev/attachments`
 * spelling some runtimes also send).
 *
 * @throws CniError `INVALID_CONFIG` when the list is missing (GC without it would free every
 *   address of the network) or an entry lacks `containerID`/`ifname`.
 */
export function parseValidAttachments(raw: Json): ValidAttachment[] {
  let field = "cni.dev/valid-attachments";
  let list = raw[field];
  if (list === undefined) {
    field = "cni.dev/attachments";
    list = raw[field];
  }
  if (list === undefined) {
    throw invalid("cni.dev/valid-attachments", "required for GC");
  }
  if (!Array.isArray(list)) throw invalid(field, "must be a list");
  return list.map((entry: unknown, i) => {
    const path = `${field}[${i}]`;
    if (!isObject(entry)) throw invalid(path, "must be an object with containerID and ifname");
    const containerId = entry.containerID;
    const ifname = entry.ifname;
    if (typeof containerId !== "string" || containerId === "") {
      throw invalid(`${path}.containerID`, "required");
    }
    if (typeof ifname !== "string" || ifname === "") throw invalid(`${path}.ifname`, "required");
    return { containerId, ifname };
  });
}
