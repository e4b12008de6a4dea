import { Family as WireFamily, StatsLevel as WireStatsLevel } from "@ipam/grpc-server";
import type { BlockLease, DirectAllocation, StatsLevel } from "@ipam/subnet-pool";
import type { Family, Subnet } from "@ipam/topology";
import { IpamdError } from "../ipamd-error.js";

// The Cluster API's wire values: families and stats levels in, blocks, subnets and direct
// addresses out.

export function requireFamily(field: string, value: WireFamily): Family {
  if (value === WireFamily.IPV4) return 4;
  if (value === WireFamily.IPV6) return 6;
  throw new IpamdError("INVALID_ARGUMENT", `${field}: must be FAMILY_IPV4 or FAMILY_IPV6`);
}

export function optionalFamily(field: string, value: WireFamily): Family | undefined {
  return value === WireFamily.UNSPECIFIED ? undefined : requireFamily(field, value);
}

export function wireFamily(family: Family): WireFamily {
  return family === 4 ? WireFamily.IPV4 : WireFamily.IPV6;
}

export const LEVELS: ReadonlyMap<WireStatsLevel, StatsLevel> = new Map([
  [WireStatsLevel.ZONE, "zone"],
  [WireStatsLevel.POD, "pod"],
  [WireStatsLevel.TOR, "tor"],
  [WireStatsLevel.SUBNET, "subnet"],
  [WireStatsLevel.PURPOSE, "purpose"],
]);

export function wireBlock(lease: BlockLease) {
  return {
    cidr: lease.cidr,
    subnetId: lease.subnet.id,
    purpose: lease.subnet.purpose,
    family: wireFamily(lease.subnet.family),
    nodeId: lease.node,
    leasedAtUnixMs: BigInt(lease.leasedAt),
  };
}

/** A direct allocation as the wire AllocatedAddress (`block_cidr` is the host prefix). */
export function wireDirectAddress(d: DirectAllocation) {
  return {
    address: d.address,
    prefixLength: d.prefixLength,
    gateway: d.gateway ?? "",
    family: wireFamily(d.family),
    subnetId: d.subnet,
    blockCidr: `${d.address}/${d.family === 4 ? 32 : 128}`,
    purpose: d.purpose,
  };
}

export function wireSubnet(s: Subnet, draining: boolean) {
  return {
    id: s.id,
    cidr: s.cidr,
    purpose: s.purpose,
    scope: s.scope.id,
    gateway: s.gateway,
    reserved: [...s.reserved],
    blockPrefix: s.blockPrefix,
    cooldownSeconds: s.cooldownSeconds,
    priority: s.priority,
    family: wireFamily(s.family),
    draining,
  };
}
