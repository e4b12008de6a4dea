import { type Family, isDirectMode, type Subnet } from "@ipam/topology";

/**
 * How a node gets addresses of `purpose` and `family` from `subnets` (its path subnets):
 * `"block"` when any of them is block-mode (blocks are leased and allocated locally),
 * `"direct"` when all of them are direct-mode (each address is allocated in L1), `"none"` when
 * there is no such subnet.
 */
export function allocationMode(
  subnets: readonly Subnet[],
  purpose: string,
  family: Family,
): "block" | "direct" | "none" {
  let direct = false;
  for (const s of subnets) {
    if (s.purpose !== purpose || s.family !== family) continue;
    if (!isDirectMode(s)) return "block";
    direct = true;
  }
  return direct ? "direct" : "none";
}
