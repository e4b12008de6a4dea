import type { Store, AllocationRecord as StoredRecord } from "@ipam/store";
import type { AllocatedAddress, AllocationRecord, BlockLease } from "@ipam/subnet-pool";
import type { Family, Subnet } from "@ipam/topology";
import { hostPrefixOf } from "../allocated-address.js";
import type { PodRef } from "./allocation-request.js";

// The node's records in its store: what is written before an answer, and how a restart turns
// the stored text back into allocation records.

/** The store operations the agent uses (the SQLite `Store`; `:memory:` in tests). */
export type AgentStore = Pick<
  Store,
  | "saveAllocation"
  | "deleteAllocation"
  | "listByNode"
  | "listByNetwork"
  | "listCooling"
  | "pruneCooling"
  | "putLeasedBlock"
  | "replaceLeasedBlocks"
  | "deleteLeasedBlock"
  | "listLeasedBlocks"
  | "getMeta"
  | "setMeta"
  | "addressHistory"
>;

/** The store record of `record`, made by `node` for `pod`. */
export function toStoredRecord(
  record: AllocationRecord,
  node: string,
  pod: PodRef | undefined,
): StoredRecord {
  // Built field by field rather than from spreads: this runs for every Allocate.
  const addresses: string[] = [];
  const subnets: string[] = [];
  for (const a of record.addresses) {
    addresses.push(a.address);
    subnets.push(a.subnet);
  }
  const stored: { -readonly [K in keyof StoredRecord]: StoredRecord[K] } = {
    network: record.key.network,
    containerId: record.key.containerId,
    ifname: record.key.ifname,
    addresses,
    subnets,
    node,
    purpose: record.purpose,
    createdAt: record.createdAt,
  };
  if (pod !== undefined) {
    if (pod.namespace !== undefined && pod.namespace !== "") stored.podNamespace = pod.namespace;
    if (pod.name !== undefined && pod.name !== "") stored.podName = pod.name;
    if (pod.uid !== undefined && pod.uid !== "") stored.podUid = pod.uid;
  }
  return stored;
}

/** The subnet id of each stored address (index-aligned; "" when the record names none). */
export function storedSubnetIds(r: StoredRecord): string[] {
  return r.addresses.map((_, i) => r.subnets?.[i] ?? r.subnet ?? "");
}

function keyOf(r: StoredRecord): AllocationRecord["key"] {
  return { network: r.network, containerId: r.containerId, ifname: r.ifname };
}

/**
 * A block-mode record from the store: prefix length, gateway and block are re-derived from the
 * lease of the address's subnet (the first lease when none matches; the allocator's rebuild
 * drops addresses outside the held blocks).
 */
export function blockRecordFromStore(
  r: StoredRecord,
  leases: readonly BlockLease[],
): AllocationRecord {
  const addresses: AllocatedAddress[] = r.addresses.map((address, i) => {
    const subnetId = r.subnets?.[i] ?? r.subnet;
    const lease = leases.find((l) => l.subnet.id === subnetId) ?? leases[0];
    const family: Family = address.includes(":") ? 6 : 4;
    const prefixLength = Number(lease?.subnet.cidr.split("/")[1] ?? (family === 4 ? 32 : 128));
    return {
      address,
      family,
      prefixLength,
      gateway: lease?.subnet.gateway ?? null,
      subnet: subnetId ?? "",
      block: lease?.cidr ?? "",
    };
  });
  return { key: keyOf(r), purpose: r.purpose, addresses, createdAt: r.createdAt };
}

/**
 * A direct-mode record from the store, its addresses described by their subnets. Every
 * address's subnet must be in `subnets` (the caller checked).
 */
export function directRecordFromStore(
  r: StoredRecord,
  subnets: ReadonlyMap<string, Subnet>,
): AllocationRecord {
  const ids = storedSubnetIds(r);
  const addresses: AllocatedAddress[] = r.addresses.map((address, i) => {
    const subnet = subnets.get(ids[i] ?? "") as Subnet;
    return {
      address,
      family: subnet.family,
      prefixLength: Number(subnet.cidr.split("/")[1]),
      gateway: subnet.gateway === "none" ? null : subnet.gateway,
      subnet: subnet.id,
      block: hostPrefixOf(address),
    };
  });
  return { key: keyOf(r), purpose: r.purpose, addresses, createdAt: r.createdAt };
}
