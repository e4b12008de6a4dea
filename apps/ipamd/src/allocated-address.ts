import { Family as WireFamily } from "@ipam/grpc-server";
import type { AllocatedAddress, DirectAllocation } from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";

// The address a node answers with (`AllocatedAddress`), from a direct allocation of L1, and as
// both gRPC APIs put it on the wire.

/** `a.b.c.d/32` or `x::y/128`: the block a direct-mode address stands in. */
export function hostPrefixOf(address: string): string {
  return `${address}/${address.includes(":") ? 128 : 32}`;
}

/** A direct allocation of L1 as the address the node answers with. */
export function directAddress(d: DirectAllocation): AllocatedAddress {
  return {
    address: d.address,
    family: d.family,
    prefixLength: d.prefixLength,
    gateway: d.gateway,
    subnet: d.subnet,
    block: hostPrefixOf(d.address),
  };
}

/** The wire family of 4 or 6. */
export function wireFamily(family: Family): WireFamily {
  return family === 4 ? WireFamily.IPV4 : WireFamily.IPV6;
}

/** `a` of `purpose` as the wire AllocatedAddress (no gateway = ""). */
export function wireAddress(a: AllocatedAddress, purpose: string) {
  return {
    address: a.address,
    prefixLength: a.prefixLength,
    gateway: a.gateway ?? "",
    family: wireFamily(a.family),
    subnetId: a.subnet,
    blockCidr: a.block,
    purpose,
  };
}
