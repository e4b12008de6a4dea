import type { CarvedSubnet } from "@ipam/subnet-pool";
import type { Logger } from "pino";

/**
 * Logs a subnet the cluster carved from a supernet, during an allocation for `node` or by an
 * operator's CarveSubnet (`node` undefined): the log line operators and audits look for,
 * `subnet carved from supernet`. Nothing when `carved` is undefined.
 */
export function logCarved(
  log: Pick<Logger, "info">,
  node: string | undefined,
  carved: CarvedSubnet | undefined,
): void {
  if (carved === undefined) return;
  log.info(
    {
      subnet: carved.subnet.id,
      cidr: carved.subnet.cidr,
      tor: carved.subnet.scope.id,
      purpose: carved.subnet.purpose,
      supernet: carved.supernet,
      supernetScope: `${carved.scope.kind} ${carved.scope.id}`,
      placement: carved.placement,
      reason: carved.reason,
      ...(node === undefined ? {} : { node }),
    },
    "subnet carved from supernet",
  );
}

/**
 * Logs a carved subnet given back to its supernet (removed: its range is free to carve again):
 * `carved subnet returned to supernet`.
 */
export function logReturned(
  log: Pick<Logger, "info">,
  subnet: { readonly id: string; readonly cidr: string; readonly scope: { readonly id: string } },
  supernet: string,
): void {
  log.info(
    { subnet: subnet.id, cidr: subnet.cidr, tor: subnet.scope.id, supernet },
    "carved subnet returned to supernet",
  );
}
