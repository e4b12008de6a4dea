import { Cidr, type Ip, IpBlock, type IpBlockOptions, type IpRange, parseIp } from "@ipam/bitmap";
import type { Subnet } from "@ipam/topology";

/** Parsed address facts of a topology subnet, computed once per subnet value. */
export interface SubnetGeometry {
  readonly cidr: Cidr;
  /** Gateway address, or undefined for `"none"`. */
  readonly gateway: Ip | undefined;
  /** The configured `reserved` entries, parsed. */
  readonly reserved: readonly (Cidr | IpRange)[];
  /** Number of blocks of `blockPrefix` in the subnet. */
  readonly blockCount: bigint;
}

const cache = new WeakMap<Subnet, SubnetGeometry>();

/** Parses one canonical reserved entry (`10.0.0.0/28` or `10.0.0.5-10.0.0.9`). */
export function parseReservedEntry(text: string): Cidr | IpRange {
  const dash = text.indexOf("-");
  if (dash < 0)
    return text.includes("/")
      ? Cidr.parse(text)
      : Cidr.fromIp(parseIp(text), parseIp(text).family === 4 ? 32 : 128);
  return { first: parseIp(text.slice(0, dash)), last: parseIp(text.slice(dash + 1)) };
}

/** The geometry of a subnet from a Topology (canonical fields; trusted). */
export function geometryOf(subnet: Subnet): SubnetGeometry {
  let geometry = cache.get(subnet);
  if (geometry === undefined) {
    const cidr = Cidr.parse(subnet.cidr);
    geometry = {
      cidr,
      gateway: subnet.gateway === "none" ? undefined : parseIp(subnet.gateway),
      reserved: subnet.reserved.map(parseReservedEntry),
      blockCount: cidr.subBlockCount(subnet.blockPrefix),
    };
    cache.set(subnet, geometry);
  }
  return geometry;
}

/**
 * A fresh IpBlock for `block` (a block of `subnet`, or the whole subnet in direct mode) with
 * the subnet's special addresses reserved where they fall inside it: network and broadcast of
 * the SUBNET (not of each block), IPv6 `::0` of the subnet, the gateway, the configured ranges
 * and `extra` ranges (run-time reservations).
 */
export function ipBlockFor(
  subnet: Subnet,
  block: Cidr,
  extra: readonly (Cidr | IpRange)[] = [],
): IpBlock {
  const geometry = geometryOf(subnet);
  const options: IpBlockOptions = {
    subnet: geometry.cidr,
    gateway: geometry.gateway ?? "none",
    reserved: extra.length === 0 ? geometry.reserved : [...geometry.reserved, ...extra],
  };
  return new IpBlock(block, options);
}
