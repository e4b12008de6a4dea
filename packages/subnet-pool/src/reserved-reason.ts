import { Cidr, type Ip, ipToBigInt, parseIp } from "@ipam/bitmap";
import type { Subnet } from "@ipam/topology";
import { parseReservedEntry } from "./subnet-geometry.js";

/**
 * Why `ip` (an address inside `subnet`) can never be handed out, in words an operator can act
 * on, or undefined when it is not reserved: the subnet's network address (IPv4, and IPv6's
 * subnet-router anycast `::0`) and IPv4 broadcast (both except /31, /32, /127, /128), the
 * gateway, or a `reserved` entry (configured, or a run-time reservation where `extra` or the
 * lease's subnet carries it). The rules are those of `reservedIntervals` in @ipam/topology.
 */
export function reservedReason(
  subnet: Subnet,
  ip: Ip,
  extra: readonly string[] = [],
): string | undefined {
  const cidr = Cidr.parse(subnet.cidr);
  const value = ipToBigInt(ip);
  if (cidr.prefix <= cidr.bits - 2) {
    if (value === cidr.start) {
      return cidr.family === 4
        ? `the network address of ${subnet.cidr}`
        : `the subnet-router anycast address of ${subnet.cidr}`;
    }
    if (cidr.family === 4 && value === cidr.end) return `the broadcast address of ${subnet.cidr}`;
  }
  if (subnet.gateway !== "none" && ipToBigInt(parseIp(subnet.gateway)) === value) {
    return `the gateway of ${subnet.id}`;
  }
  for (const entry of [...subnet.reserved, ...extra]) {
    const range = parseReservedEntry(entry);
    const [first, last] =
      range instanceof Cidr
        ? [range.start, range.end]
        : [ipToBigInt(range.first), ipToBigInt(range.last)];
    if (value >= first && value <= last) return `in the reserved range ${entry} of ${subnet.id}`;
  }
  return undefined;
}
