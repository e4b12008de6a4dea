import type { AccessPolicy, AccessRule } from "@ipam/grpc-server";
import type { ClusterState } from "@ipam/subnet-pool";
import { ifnameOf } from "../request-fields.js";

/** What a node's ReleaseDirect is checked against when the key's owner is not known here. */
const UNKNOWN_OWNER = "(an allocation this server does not hold)";

/**
 * `policy` with ReleaseDirect open to a node for its own direct allocations only: each key's
 * owner is read from `state` (this server's replica), and a key this replica does not hold is
 * refused to a node (servers and operators may release any key). A node's ReleaseDirect names
 * no node ids, so ownership is the only way to keep one node from freeing another's addresses.
 */
export function withDirectOwners(
  policy: AccessPolicy,
  state: () => Pick<ClusterState, "directAllocation">,
): AccessPolicy {
  const method = "ipam.v1.Cluster/ReleaseDirect";
  const rule: AccessRule = {
    roles: ["server", "operator"],
    what: "releases direct allocations",
    ownNodes: (request) => {
      const keys = (request as { keys?: unknown }).keys;
      if (!Array.isArray(keys)) return [];
      return keys.map((k: { network?: string; containerId?: string; ifname?: string }) => {
        const key = {
          network: k.network ?? "",
          containerId: k.containerId ?? "",
          ifname: ifnameOf(k.ifname ?? ""),
        };
        const s = state();
        const owner = s.directAllocation(key, 4)?.node ?? s.directAllocation(key, 6)?.node;
        return owner ?? UNKNOWN_OWNER;
      });
    },
  };
  return new Map([...policy, [method, rule]]);
}
