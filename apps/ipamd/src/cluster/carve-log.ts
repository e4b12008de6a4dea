import type { CarvedSubnet } from "@ipam/subnet-pool";
import type { Logger } from "pino";

/**
 * Logs a subnet the cluster carved from a supernet during a lease (the log line operators and
 * audits look for: `subnet carved from supernet`). Nothing when `carved` is undefined.
 */
export function logCarved(
  log: Pick<Logger, "info">,
  node: string,
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
      node,
    },
    "subnet carved from supernet",
  );
}
