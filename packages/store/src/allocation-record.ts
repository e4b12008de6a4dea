import { isIP } from "node:net";
import { StoreError } from "./store-error.js";

/** Identity of a node allocation record: one interface of one container on one network. */
export interface AllocationKey {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
}

/**
 * A node-local (L2) allocation record: which addresses a container interface holds.
 * Addresses are stored in canonical text (IPv4 dotted quad, IPv6 RFC 5952 lower case) and
 * keep the caller's order; both families may be present.
 */
export interface AllocationRecord extends AllocationKey {
  /** At least one address, no duplicates. Non-canonical input is canonicalised on save. */
  readonly addresses: readonly string[];
  /** Node that made the allocation. */
  readonly node: string;
  /** Purpose of the network (`default`, `storage`, ...). */
  readonly purpose: string;
  /** Record-level subnet label (e.g. the primary subnet id), free text. */
  readonly subnet?: string;
  /** Subnet (CIDR or id) of each address, index-aligned with `addresses`. */
  readonly subnets?: readonly string[];
  readonly podNamespace?: string;
  readonly podName?: string;
  /** Kubernetes pod UID (`K8S_POD_UID`), recorded in the address history. */
  readonly podUid?: string;
  /** Creation time, milliseconds since the Unix epoch, supplied by the caller. */
  readonly createdAt: number;
}

/** Result of `saveAllocation`: the stored record and whether this call created it. */
export interface SaveResult {
  readonly record: AllocationRecord;
  readonly created: boolean;
}

/**
 * Canonical text of an IP address, or `undefined` when `text` is not an IPv4/IPv6 address.
 * IPv6 is compressed per RFC 5952 (lower case, longest zero run as `::`); zone ids are refused.
 */
export function canonicalAddress(text: string): string | undefined {
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6 || text.includes("%")) return undefined;
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

function text(field: string, value: unknown, optional: boolean): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string" || value.length === 0) {
    throw new StoreError("INVALID_ARGUMENT", `${field}: expected a non-empty string`, {
      details: { field },
    });
  }
  return value;
}

/** Checks a key; throws `INVALID_ARGUMENT` naming the field. */
export function validateKey(key: AllocationKey, prefix = "key"): AllocationKey {
  if (typeof key !== "object" || key === null) {
    throw new StoreError("INVALID_ARGUMENT", `${prefix}: expected an object`, {
      details: { field: prefix },
    });
  }
  text(`${prefix}.network`, key.network, false);
  text(`${prefix}.containerId`, key.containerId, false);
  text(`${prefix}.ifname`, key.ifname, false);
  return key;
}

/**
 * Validates a record and returns it in stored form (canonical addresses, no extra fields).
 * @throws StoreError `INVALID_ARGUMENT` naming the first bad field.
 */
export function normaliseRecord(record: AllocationRecord): AllocationRecord {
  validateKey(record, "record");
  const node = text("record.node", record.node, false)!;
  const purpose = text("record.purpose", record.purpose, false)!;
  const subnet = text("record.subnet", record.subnet, true);
  const podNamespace = text("record.podNamespace", record.podNamespace, true);
  const podName = text("record.podName", record.podName, true);
  const podUid = text("record.podUid", record.podUid, true);
  if (
    typeof record.createdAt !== "number" ||
    !Number.isSafeInteger(record.createdAt) ||
    record.createdAt < 0
  ) {
    throw new StoreError(
      "INVALID_ARGUMENT",
      `record.createdAt: ${String(record.createdAt)} is not a non-negative integer of milliseconds`,
      { details: { field: "record.createdAt" } },
    );
  }
  if (!Array.isArray(record.addresses) || record.addresses.length === 0) {
    throw new StoreError("INVALID_ARGUMENT", "record.addresses: expected at least one address", {
      details: {
        field: "record.addresses",
      },
    });
  }
  const addresses: string[] = [];
  const seen = new Set<string>();
  record.addresses.forEach((a, i) => {
    const canon = typeof a === "string" ? canonicalAddress(a) : undefined;
    if (canon === undefined) {
      throw new StoreError(
        "INVALID_ARGUMENT",
        `record.addresses[${i}]: ${String(a)} is not an IP address`,
        { details: { field: `record.addresses[${i}]` } },
      );
    }
    if (seen.has(canon)) {
      throw new StoreError(
        "INVALID_ARGUMENT",
        `record.addresses[${i}]: ${canon} appears twice in the record`,
        { details: { field: `record.addresses[${i}]` } },
      );
    }
    seen.add(canon);
    addresses.push(canon);
  });
  let subnets: string[] | undefined;
  if (record.subnets !== undefined) {
    if (!Array.isArray(record.subnets) || record.subnets.length !== addresses.length) {
      throw new StoreError(
        "INVALID_ARGUMENT",
        `record.subnets: expected ${addresses.length} entries, one per address`,
        { details: { field: "record.subnets" } },
      );
    }
    subnets = record.subnets.map((s, i) => text(`record.subnets[${i}]`, s, false)!);
  }
  return buildRecord({
    network: record.network,
    containerId: record.containerId,
    ifname: record.ifname,
    addresses,
    node,
    purpose,
    subnet,
    subnets,
    podNamespace,
    podName,
    podUid,
    createdAt: record.createdAt,
  });
}

/** Assembles a record, leaving absent optional fields out (exactOptionalPropertyTypes). */
export function buildRecord(parts: {
  network: string;
  containerId: string;
  ifname: string;
  addresses: string[];
  node: string;
  purpose: string;
  subnet: string | null | undefined;
  subnets: string[] | undefined;
  podNamespace: string | null | undefined;
  podName: string | null | undefined;
  podUid?: string | null | undefined;
  createdAt: number;
}): AllocationRecord {
  const out: {
    -readonly [K in keyof AllocationRecord]: AllocationRecord[K];
  } = {
    network: parts.network,
    containerId: parts.containerId,
    ifname: parts.ifname,
    addresses: parts.addresses,
    node: parts.node,
    purpose: parts.purpose,
    createdAt: parts.createdAt,
  };
  if (parts.subnet != null) out.subnet = parts.subnet;
  if (parts.subnets !== undefined) out.subnets = parts.subnets;
  if (parts.podNamespace != null) out.podNamespace = parts.podNamespace;
  if (parts.podName != null) out.podName = parts.podName;
  if (parts.podUid != null) out.podUid = parts.podUid;
  return out;
}
