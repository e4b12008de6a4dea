import type { AllocationKey } from "@ipam/subnet-pool";
import { IpamdError } from "./ipamd-error.js";

// Validation of request fields at the gRPC edges (Ipam and Cluster APIs): errors name the
// request field (`items[2].network: must not be empty`). Past the edge, values are trusted.

/** `value`, or INVALID_ARGUMENT naming `field` when it is empty. */
export function requireText(field: string, value: string): string {
  if (value === "") throw new IpamdError("INVALID_ARGUMENT", `${field}: must not be empty`);
  return value;
}

/** The interface name a request means: empty is `eth0`. */
export function ifnameOf(text: string): string {
  return text === "" ? "eth0" : text;
}

/**
 * The allocation key a request names, normalised: `network` and `container_id` are required
 * (INVALID_ARGUMENT naming `<prefix>network` / `<prefix>container_id`), an empty `ifname` is
 * `eth0`. The one place keys are normalised.
 */
export function keyOf(
  req: { readonly network: string; readonly containerId: string; readonly ifname: string },
  prefix = "",
): AllocationKey {
  return {
    network: requireText(`${prefix}network`, req.network),
    containerId: requireText(`${prefix}container_id`, req.containerId),
    ifname: ifnameOf(req.ifname),
  };
}
