import { formatIp, tryParseIp } from "@ipam/bitmap";
import type { AllocationRecord } from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";
import { IpamdError } from "../ipamd-error.js";

/**
 * The static addresses of an Allocate by family, canonical: at most one per family, each of a
 * requested family. @throws IpamdError `INVALID_ARGUMENT` (`details.field`
 * `requested_addresses`) naming the address and the rule it breaks.
 */
export function staticByFamily(
  requested: readonly string[] | undefined,
  families: readonly Family[],
): Map<Family, string> {
  const out = new Map<Family, string>();
  (requested ?? []).forEach((text, i) => {
    const field = `requested_addresses[${i}]`;
    const ip = tryParseIp(text);
    if (ip === undefined) {
      throw new IpamdError("INVALID_ARGUMENT", `${field}: ${text} is not an IP address`, {
        details: { field: "requested_addresses", address: text },
      });
    }
    const address = formatIp(ip);
    if (!families.includes(ip.family)) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `${field}: ${address} is IPv${ip.family}, a family not requested (families: ${families.map((f) => `IPv${f}`).join(", ")})`,
        { details: { field: "requested_addresses", address } },
      );
    }
    const before = out.get(ip.family);
    if (before !== undefined && before !== address) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `${field}: ${address} is a second IPv${ip.family} address (already ${before}); one per family`,
        { details: { field: "requested_addresses", address } },
      );
    }
    out.set(ip.family, address);
  });
  return out;
}

/**
 * Checks that the record a key already holds has every static address asked for again (a
 * retried ADD gets the same answer). @throws IpamdError `CONFLICT` naming what the key holds
 * and what was asked.
 */
export function requireSameStatic(
  record: AllocationRecord,
  statics: ReadonlyMap<Family, string>,
): void {
  const held = record.addresses.map((a) => a.address);
  const missing = [...statics.values()].filter((a) => !held.includes(a));
  if (missing.length === 0) return;
  const k = record.key;
  throw new IpamdError(
    "CONFLICT",
    `key ${k.network}/${k.containerId}/${k.ifname} holds ${held.join(", ")}, not ${missing.join(", ")}: release it (CNI DEL) first to change its address`,
    { details: { held, requested: [...statics.values()] } },
  );
}
