import type { AllocateOutput, BackendAddress } from "./backend.js";
import { CniError } from "./cni-error.js";
import { parseCidr } from "./ip.js";
import type { DnsConfig, RouteConfig } from "./net-conf.js";
import { type CniVersion, compareVersions } from "./versions.js";

/** One `ips` entry of an IPAM result (no `interface`: IPAM plugins do not know interfaces). */
export interface ResultIp {
  /** Only for 0.3.0, 0.3.1 and 0.4.0: `"4"` or `"6"`. */
  readonly version?: "4" | "6";
  readonly address: string;
  readonly gateway?: string;
}

/** One `routes` entry; the attributes beyond `dst`/`gw` only for 1.1.0. */
export type ResultRoute = RouteConfig;

/** The `dns` section; empty members are left out. */
export interface ResultDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** An IPAM plugin's ADD result in the shape of the requested version. */
export interface IpamResult {
  readonly cniVersion: CniVersion;
  readonly ips: readonly ResultIp[];
  readonly routes?: readonly ResultRoute[];
  readonly dns: ResultDns;
}

function mergeDns(sent: AllocateOutput["dns"], config: DnsConfig): ResultDns {
  const nameservers = config.nameservers ?? sent?.nameservers ?? [];
  const domain = config.domain ?? sent?.domain ?? "";
  const search = config.search ?? sent?.search ?? [];
  const options = config.options ?? sent?.options ?? [];
  return {
    ...(nameservers.length > 0 ? { nameservers: [...nameservers] } : {}),
    ...(domain !== "" ? { domain } : {}),
    ...(search.length > 0 ? { search: [...search] } : {}),
    ...(options.length > 0 ? { options: [...options] } : {}),
  };
}

/**
 * Build the ADD result for `version`: backend addresses as `address/prefix` with their gateway,
 * IPv4 first; backend routes followed by config routes (a config route replaces a backend route
 * with the same `dst`); DNS with config fields overriding backend fields.
 *
 * 0.3.x and 0.4.0 add `version` to each IP; 1.x do not. Route attributes `mtu`, `advmss`,
 * `priority`, `table`, `scope` appear only for 1.1.0. `routes` is left out when empty. The
 * returned object is fresh; the caller owns it.
 */
export function buildResult(
  version: CniVersion,
  output: AllocateOutput,
  config: { readonly routes: readonly RouteConfig[]; readonly dns: DnsConfig },
): IpamResult {
  const legacy = compareVersions(version, "1.0.0") < 0;
  const extended = compareVersions(version, "1.1.0") >= 0;
  const addresses = [...output.addresses].sort(
    (a, b) => (a.family === "ipv4" ? 0 : 1) - (b.family === "ipv4" ? 0 : 1),
  );
  const ips = addresses.map(
    (a): ResultIp => ({
      ...(legacy ? { version: a.family === "ipv4" ? ("4" as const) : ("6" as const) } : {}),
      address: `${a.address}/${a.prefixLength}`,
      ...(a.gateway === undefined || a.gateway === "" ? {} : { gateway: a.gateway }),
    }),
  );
  const configured = new Set(config.routes.map((r) => r.dst));
  const routes: ResultRoute[] = [];
  for (const r of output.routes) {
    if (configured.has(r.dst)) continue;
    routes.push({ dst: r.dst, ...(r.gw === undefined || r.gw === "" ? {} : { gw: r.gw }) });
  }
  for (const r of config.routes) {
    if (extended) routes.push({ ...r });
    else routes.push({ dst: r.dst, ...(r.gw === undefined ? {} : { gw: r.gw }) });
  }
  return {
    cniVersion: version,
    ips,
    ...(routes.length > 0 ? { routes } : {}),
    dns: mergeDns(output.dns, config.dns),
  };
}

/**
 * The addresses (canonical, without prefix) a `prevResult` lists in `ips[].address`.
 *
 * @throws CniError `INVALID_CONFIG` naming the field when `prevResult` or an address is malformed.
 */
export function prevResultAddresses(prevResult: unknown): string[] {
  if (typeof prevResult !== "object" || prevResult === null || Array.isArray(prevResult)) {
    throw new CniError("INVALID_CONFIG", "prevResult: must be an object", {
      details: { field: "prevResult" },
    });
  }
  const ips = (prevResult as { ips?: unknown }).ips;
  if (ips === undefined) return [];
  if (!Array.isArray(ips)) {
    throw new CniError("INVALID_CONFIG", "prevResult.ips: must be a list", {
      details: { field: "prevResult.ips" },
    });
  }
  return ips.map((ip: unknown, i) => {
    const text = (ip as { address?: unknown } | null)?.address;
    const parsed = typeof text === "string" ? parseCidr(text) : undefined;
    if (parsed === undefined) {
      const field = `prevResult.ips[${i}].address`;
      throw new CniError("INVALID_CONFIG", `${field}: ${JSON.stringify(text)} is not a CIDR`, {
        details: { field },
      });
    }
    return parsed.address;
  });
}

/** `address/prefix` of each held address, for messages. */
export function describeHeld(held: readonly BackendAddress[]): string {
  return held.length === 0
    ? "nothing"
    : held.map((a) => `${a.address}/${a.prefixLength}`).join(", ");
}
