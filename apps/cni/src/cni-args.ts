import { CniError } from "./cni-error.js";

/** What the plugin reads from `CNI_ARGS`. */
export interface CniArgs {
  /** `K8S_POD_NAMESPACE`, when given and non-empty. */
  readonly podNamespace?: string;
  /** `K8S_POD_NAME`, when given and non-empty. */
  readonly podName?: string;
  /** `K8S_POD_UID`, when given and non-empty (recorded in the address history). */
  readonly podUid?: string;
  /** `IP`: requested static addresses, comma-separated (host-local's convention). */
  readonly ips: readonly string[];
}

/** Keys understood; others are refused unless `IgnoreUnknown` is true (CNI convention). */
const KNOWN = new Set([
  "IgnoreUnknown",
  "K8S_POD_NAMESPACE",
  "K8S_POD_NAME",
  "K8S_POD_INFRA_CONTAINER_ID",
  "K8S_POD_UID",
  "IP",
]);

/**
 * Parse `CNI_ARGS`: `KEY=VALUE` pairs separated by `;`. Empty input gives no args.
 *
 * @throws CniError `INVALID_ENV` for a pair without `=`, or an unknown key while `IgnoreUnknown`
 *   is not `1`/`true` (the message names the key).
 */
export function parseCniArgs(raw: string | undefined): CniArgs {
  const pairs = new Map<string, string>();
  for (const item of (raw ?? "").split(";")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) {
      throw new CniError(
        "INVALID_ENV",
        `CNI_ARGS: ${JSON.stringify(item)} is not a KEY=VALUE pair`,
      );
    }
    pairs.set(item.slice(0, eq), item.slice(eq + 1));
  }
  const ignore = pairs.get("IgnoreUnknown")?.toLowerCase();
  if (ignore !== "1" && ignore !== "true") {
    for (const key of pairs.keys()) {
      if (!KNOWN.has(key)) {
        throw new CniError(
          "INVALID_ENV",
          `CNI_ARGS: unknown key ${JSON.stringify(key)} (add IgnoreUnknown=1 to allow it)`,
          { details: { key } },
        );
      }
    }
  }
  const namespace = pairs.get("K8S_POD_NAMESPACE");
  const name = pairs.get("K8S_POD_NAME");
  const uid = pairs.get("K8S_POD_UID");
  const ip = pairs.get("IP");
  return {
    ...(namespace ? { podNamespace: namespace } : {}),
    ...(name ? { podName: name } : {}),
    ...(uid ? { podUid: uid } : {}),
    ips: ip ? ip.split(",").filter((s) => s !== "") : [],
  };
}
