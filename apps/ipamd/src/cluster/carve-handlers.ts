import { Cidr } from "@ipam/bitmap";
import type { ClusterHandlers } from "@ipam/grpc-server";
import { supernetsForTor, type Topology } from "@ipam/topology";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import { requireText } from "../request-fields.js";
import { logCarved } from "./carve-log.js";
import type { ClusterDataSource } from "./cluster-data-handlers.js";
import { requireFamily, wireSubnet } from "./cluster-wire.js";

/**
 * The supernet a carved subnet came from: the one of its TOR's pod or zone, of its purpose and
 * family, that contains it (supernets never overlap, so at most one). Undefined when none does
 * (the file dropped the supernet since).
 */
export function supernetOf(
  topology: Topology,
  subnet: {
    readonly cidr: string;
    readonly purpose: string;
    readonly scope: { readonly id: string };
  },
): { readonly cidr: string; readonly scope: string } | undefined {
  const cidr = Cidr.parse(subnet.cidr);
  if (!topology.tors.has(subnet.scope.id)) return undefined;
  const found = supernetsForTor(topology, subnet.scope.id, subnet.purpose, cidr.family).find((s) =>
    Cidr.parse(s.supernet.cidr).contains(cidr),
  );
  return found === undefined
    ? undefined
    : { cidr: found.supernet.cidr, scope: `${found.scope.kind}:${found.scope.id}` };
}

/**
 * The CarveSubnet RPC: one carve-subnet command (idempotent with `request_id`), logged like a
 * carve an allocation triggers (`subnet carved from supernet`, reason `command`).
 */
export function carveHandlers(
  cluster: ClusterDataSource,
  now: () => number,
  log?: Pick<Logger, "info">,
): Partial<ClusterHandlers> {
  return {
    carveSubnet: async (req) => {
      const tor = requireText("tor_id", req.torId);
      const purpose = requireText("purpose", req.purpose);
      const family = requireFamily("family", req.family);
      if (req.mode !== "" && req.mode !== "block" && req.mode !== "direct") {
        throw new IpamdError("INVALID_ARGUMENT", 'mode: must be empty, "block" or "direct"');
      }
      if (req.requestId.length > 128) {
        throw new IpamdError("INVALID_ARGUMENT", "request_id: at most 128 characters");
      }
      const r = await cluster.execute({
        type: "carve-subnet",
        at: now(),
        tor,
        purpose,
        family,
        ...(req.prefixLength === 0 ? {} : { prefix: req.prefixLength }),
        ...(req.mode === "" ? {} : { mode: req.mode }),
        ...(req.requestId === "" ? {} : { requestId: req.requestId }),
      });
      const v = r.value;
      if (log !== undefined) logCarved(log, undefined, v.carved);
      const subnet = v.carved?.subnet ?? v.alreadyCarved;
      if (subnet === undefined) throw new IpamdError("INTERNAL", "carve-subnet: no subnet");
      return {
        subnet: wireSubnet(subnet, false, { origin: "carved" }),
        carved: v.carved !== undefined,
        supernet: v.carved?.supernet ?? "",
        supernetScope: v.carved === undefined ? "" : `${v.carved.scope.kind}:${v.carved.scope.id}`,
        placement: v.carved?.placement ?? "",
        torSubnets: v.subnets,
      };
    },
  };
}
