import { Cidr, tryParseIp } from "@ipam/bitmap";
import type { Subnet } from "./model.js";

/** An inclusive range of address values (bigint for both families). */
export interface AddressInterval {
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * Every address of `subnet` that must never be handed out (DESIGN §4), as sorted, merged,
 * non-adjacent inclusive intervals inside the subnet:
 * - IPv4: the network and broadcast addresses (except /31 and /32);
 * - IPv6: the subnet-router anycast address (`::0` of the subnet; except /127 and /128);
 * - the gateway (unless `"none"`);
 * - the configured `reserved` entries.
 * Returns a new array owned by the caller. Expects a subnet from a Topology (canonical fields).
 */
export function reservedIntervals(subnet: Subnet): AddressInterval[] {
  const cidr = Cidr.parse(subnet.cidr);
  const list: AddressInterval[] = [];
  if (cidr.prefix <= cidr.bits - 2) {
    list.push({ start: cidr.start, end: cidr.start });
    if (cidr.family === 4) list.push({ start: cidr.end, end: cidr.end });
  }
  if (subnet.gateway !== "none") {
    const gw = tryParseIp(subnet.gateway);
    if (gw !== undefined) list.push({ start: BigInt(gw.value), end: BigInt(gw.value) });
  }
  for (const entry of subnet.reserved) {
    const dash = entry.indexOf("-");
    if (dash >= 0) {
      const a = tryParseIp(entry.slice(0, dash));
      const b = tryParseIp(entry.slice(dash + 1));
      if (a !== undefined && b !== undefined) {
        list.push({ start: BigInt(a.value), end: BigInt(b.value) });
      }
    } else {
      const r = Cidr.parse(entry);
      list.push({ start: r.start, end: r.end });
    }
  }
  list.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
  const merged: Array<{ start: bigint; end: bigint }> = [];
  for (const r of list) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.start <= last.end + 1n) {
      if (r.end > last.end) last.end = r.end;
    } else {
      merged.push({ start: r.start, end: r.end });
    }
  }
  return merged;
}
