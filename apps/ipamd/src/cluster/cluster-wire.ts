import { Family as WireFamily, StatsLevel as WireStatsLevel } from "@ipam/grpc-server";
import type {
  BlockLease,
  BlockState,
  DirectAllocation,
  StatsLevel,
  SubnetOrigin,
} from "@ipam/subnet-pool";
import type { Family, Subnet } from "@ipam/topology";
import { directAddress, wireAddress, wireFamily } from "../allocated-address.js";
import { IpamdError } from "../ipamd-error.js";

// The Cluster API's wire values: families and stats levels in, blocks, subnets and direct
// addresses out.

/** 4 or 6 from a wire family; INVALID_ARGUMENT naming `field` for anything else. */
export function requireFamily(field: string, value: WireFamily): Family {
  if (value === WireFamily.IPV4) return 4;
  if (value === WireFamily.IPV6) return 6;
  throw new IpamdError("INVALID_ARGUMENT", `${field}: must be FAMILY_IPV4 or FAMILY_IPV6`);
}

/** Like {@link requireFamily}, but FAMILY_UNSPECIFIED is undefined (any family). */
export function optionalFamily(field: string, value: WireFamily): Family | undefined {
  return value === WireFamily.UNSPECIFIED ? undefined : requireFamily(field, value);
}

/** The state machine's stats level of each wire level. */
export const LEVELS: ReadonlyMap<WireStatsLevel, StatsLevel> = new Map([
  [WireStatsLevel.ZONE, "zone"],
  [WireStatsLevel.POD, "pod"],
  [WireStatsLevel.TOR, "tor"],
  [WireStatsLevel.SUBNET, "subnet"],
  [WireStatsLevel.PURPOSE, "purpose"],
]);

/** A lease as the wire Block. */
export function wireBlock(lease: BlockLease) {
  return {
    cidr: lease.cidr,
    subnetId: lease.subnet.id,
    purpose: lease.subnet.purpose,
    family: wireFamily(lease.subnet.family),
    nodeId: lease.node,
    leasedAtUnixMs: BigInt(lease.leasedAt),
    state: lease.state ?? "leased",
    revokedAtUnixMs: BigInt(lease.revokedAt ?? 0),
  };
}

/**
 * The life-cycle fields of a lease from a wire Block: an empty state (a server of an earlier
 * version) is `leased`; an unknown one is taken as `revoked` (serve nothing new from it).
 */
export function blockState(block: { readonly state: string; readonly revokedAtUnixMs: bigint }): {
  state: BlockState;
  revokedAt?: number;
} {
  const state: BlockState =
    block.state === "" || block.state === "leased"
      ? "leased"
      : block.state === "draining"
        ? "draining"
        : "revoked";
  return block.revokedAtUnixMs > 0n
    ? { state, revokedAt: Number(block.revokedAtUnixMs) }
    : { state };
}

/** A direct allocation as the wire AllocatedAddress (`block_cidr` is the host prefix). */
export function wireDirectAddress(d: DirectAllocation) {
  return wireAddress(directAddress(d), d.purpose);
}

/** A subnet (whether it drains, is being removed, who manages it) as the wire Subnet. */
export function wireSubnet(
  s: Subnet,
  draining: boolean,
  life: { readonly removing?: boolean; readonly origin?: SubnetOrigin } = {},
) {
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
    removing: life.removing ?? false,
    origin: life.origin ?? "file",
  };
}
