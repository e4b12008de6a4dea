import type { AllocationRecord } from "../../src/allocation-record.js";

/** A valid record for container `c<i>` on `network`, holding 10.x.y.z derived from `i`. */
export function recordFor(i: number, overrides: Partial<AllocationRecord> = {}): AllocationRecord {
  return {
    network: "default",
    containerId: `c${i}`,
    ifname: "eth0",
    addresses: [`10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`],
    node: "node-a",
    purpose: "default",
    createdAt: 1_700_000_000_000 + i,
    ...overrides,
  };
}
