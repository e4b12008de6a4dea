import type { Family, Subnet } from "@ipam/topology";
import type { ClusterParts } from "./cluster-parts.js";
import { fail, requireFamily, requireString } from "./command-args.js";
import type { CarveSubnetCommand } from "./commands.js";
import type { SubnetState } from "./subnet-table.js";
import {
  type CarvedSubnet,
  type CarveMode,
  carveForTor,
  feedingSupernets,
  prefixFits,
  torSubnets,
} from "./supernet-growth.js";

/** The value of carve-subnet: `carved` is absent when `basis` shows it already happened. */
export interface CarveSubnetValue {
  readonly tor: string;
  readonly purpose: string;
  readonly family: Family;
  readonly carved?: CarvedSubnet;
  /** The number of the TOR's open subnets of the purpose, family and mode, after. */
  readonly subnets: number;
  /**
   * When `requestId` names a carve already done (and its subnet still exists): that subnet;
   * nothing changed and `carved` is absent.
   */
  readonly alreadyCarved?: Subnet;
}

/**
 * The mode a carve-subnet without `mode` uses: `direct` when every supernet feeding the TOR's
 * purpose and family carves direct-mode subnets, else `block`.
 */
function defaultMode(parts: ClusterParts, tor: string, purpose: string, family: Family): CarveMode {
  const block = feedingSupernets(parts, tor, purpose, family, "block").length;
  const direct = feedingSupernets(parts, tor, purpose, family, "direct").length;
  return block === 0 && direct > 0 ? "direct" : "block";
}

/** The carved subnet that `requestId` carved and that still exists, if any. */
function carvedBy(parts: ClusterParts, requestId: string): SubnetState | undefined {
  for (const st of parts.subnets.unordered()) if (st.carveRequest === requestId) return st;
  return undefined;
}

function optionalRequestId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > 128)
    fail("INVALID_ARGUMENT", "carve-subnet.requestId: must be a string of 1 to 128 characters", {
      field: "requestId",
    });
  return value;
}

/** A repeat of the carve `st` records: that subnet, nothing changed. */
function repeat(
  parts: ClusterParts,
  st: SubnetState,
  c: { tor: string; purpose: string; family: Family; requestId: string },
): CarveSubnetValue {
  const s = st.subnet;
  if (s.scope.id !== c.tor || s.purpose !== c.purpose || s.family !== c.family)
    fail(
      "CONFLICT",
      `carve-subnet.requestId: ${c.requestId} already carved ${s.id} for TOR ${s.scope.id} (${s.purpose}, IPv${s.family}); use another request id`,
      { field: "requestId", subnet: s.id, tor: s.scope.id },
    );
  const mode: CarveMode = st.direct ? "direct" : "block";
  const subnets = torSubnets(parts, c.tor, c.purpose, c.family, mode).length;
  return { tor: c.tor, purpose: c.purpose, family: c.family, subnets, alreadyCarved: s };
}

/**
 * The carve-subnet command (see {@link CarveSubnetCommand}): validates, answers a repeat from
 * `basis` or `requestId`, then carves or refuses naming the field: `NOT_FOUND` (tor),
 * `NO_SUBNET` (no supernet of the purpose, family and mode feeds the TOR), `INVALID_ARGUMENT`
 * (a prefix no feeding supernet can carve), `POOL_EXHAUSTED` (every feeding supernet full).
 */
export function carveSubnet(parts: ClusterParts, c: CarveSubnetCommand): CarveSubnetValue {
  const tor = requireString(c.tor, "carve-subnet.tor");
  if (!parts.registry.topology.tors.has(tor))
    fail("NOT_FOUND", `carve-subnet.tor: TOR ${tor} does not exist`, { tor, field: "tor" });
  const purpose = requireString(c.purpose, "carve-subnet.purpose");
  const family = requireFamily(c.family, "carve-subnet.family");
  if (c.basis !== undefined && (!Number.isInteger(c.basis) || c.basis < 0))
    fail("INVALID_ARGUMENT", "carve-subnet.basis: must be a non-negative integer", {
      field: "basis",
    });
  if (c.mode !== undefined && c.mode !== "block" && c.mode !== "direct")
    fail("INVALID_ARGUMENT", 'carve-subnet.mode: must be "block" or "direct"', { field: "mode" });
  if (c.prefix !== undefined && (!Number.isInteger(c.prefix) || c.prefix < 0 || c.prefix > 128))
    fail("INVALID_ARGUMENT", "carve-subnet.prefix: must be a prefix length (0 to 128)", {
      field: "prefix",
    });
  const requestId = optionalRequestId(c.requestId);
  if (requestId !== undefined) {
    const done = carvedBy(parts, requestId);
    if (done !== undefined) return repeat(parts, done, { tor, purpose, family, requestId });
  }
  const mode = c.mode ?? defaultMode(parts, tor, purpose, family);
  const count = torSubnets(parts, tor, purpose, family, mode).length;
  if (c.basis !== undefined && c.basis !== count) return { tor, purpose, family, subnets: count };
  const feeding = feedingSupernets(parts, tor, purpose, family, mode);
  if (feeding.length === 0)
    fail(
      "NO_SUBNET",
      `carve-subnet.purpose: no IPv${family} ${purpose} supernet${mode === "direct" ? " of direct mode" : ""} feeds TOR ${tor} (declare one on its pod or zone)`,
      { tor, purpose, family, mode, field: "purpose" },
    );
  const prefix = c.prefix;
  if (prefix !== undefined && !feeding.some((f) => prefixFits(f.supernet, prefix)))
    fail(
      "INVALID_ARGUMENT",
      `carve-subnet.prefix: /${prefix} fits no supernet feeding TOR ${tor} (${feeding.map((f) => `${f.supernet.cidr} carves /${Number(f.supernet.cidr.split("/")[1])} to /${f.supernet.blockPrefix}`).join("; ")})`,
      { field: "prefix", prefix },
    );
  const carved = carveForTor(parts, tor, purpose, family, "command", {
    mode,
    ...(prefix === undefined ? {} : { prefix }),
  });
  if (carved === undefined)
    fail(
      "POOL_EXHAUSTED",
      `carve-subnet: every IPv${family} ${purpose} supernet feeding TOR ${tor} is full (${feeding.map((f) => f.supernet.cidr).join(", ")})`,
      { tor, purpose, family, supernets: feeding.map((f) => f.supernet.cidr) },
    );
  if (requestId !== undefined) {
    const st = parts.subnets.get(carved.subnet.id) as SubnetState;
    parts.subnets.setCarveRequest(st, requestId);
  }
  return { tor, purpose, family, carved, subnets: count + 1 };
}
