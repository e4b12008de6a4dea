import { isIP } from "node:net";
import type { V1ObjectMeta } from "@kubernetes/client-node";
import { IpamdError } from "../ipamd-error.js";

/** The annotations ipamd reads (docs/kubernetes.md, "Annotations"). */
export const ANNOTATIONS = {
  /** On a Pod, or on its Namespace as the default of its pods: the purpose of its addresses. */
  purpose: "ipam.io/purpose",
  /** On a Pod: its static addresses, comma-separated (at most one per family). */
  addresses: "ipam.io/ip-addresses",
} as const;

/** What a pod's (and its namespace's) annotations ask of its primary interface. */
export interface PodWishes {
  readonly purpose?: string;
  readonly addresses?: readonly string[];
}

const PURPOSE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Reads the annotations of a pod and its namespace (the pod's purpose wins over the
 * namespace's). A malformed value is an error naming the object and the annotation (never
 * ignored: a static address a pod asked for is never silently replaced).
 */
export function podWishes(pod: V1ObjectMeta, namespace: V1ObjectMeta | undefined): PodWishes {
  const where = `pod ${pod.namespace}/${pod.name}`;
  const purpose =
    pod.annotations?.[ANNOTATIONS.purpose] ?? namespace?.annotations?.[ANNOTATIONS.purpose];
  if (purpose !== undefined && !PURPOSE.test(purpose)) {
    const on =
      pod.annotations?.[ANNOTATIONS.purpose] !== undefined ? where : `namespace ${pod.namespace}`;
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${on}: annotation ${ANNOTATIONS.purpose}: "${purpose}" is not a purpose name (lower-case letters, digits, '-')`,
      { details: { field: ANNOTATIONS.purpose } },
    );
  }
  const text = pod.annotations?.[ANNOTATIONS.addresses];
  let addresses: string[] | undefined;
  if (text !== undefined) {
    addresses = text
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const families = new Set<number>();
    for (const a of addresses) {
      const family = isIP(a);
      if (family === 0 || families.has(family)) {
        throw new IpamdError(
          "INVALID_ARGUMENT",
          `${where}: annotation ${ANNOTATIONS.addresses}: "${text}" must list IP addresses, at most one IPv4 and one IPv6`,
          { details: { field: ANNOTATIONS.addresses } },
        );
      }
      families.add(family);
    }
  }
  return {
    ...(purpose === undefined ? {} : { purpose }),
    ...(addresses === undefined || addresses.length === 0 ? {} : { addresses }),
  };
}
