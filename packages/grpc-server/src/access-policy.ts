import type { PeerRole } from "./peer-identity.js";

/** Who may call one method under mutual TLS. */
export interface AccessRule {
  /** Roles that may call it with any request. */
  readonly roles: readonly PeerRole[];
  /**
   * When set, a `node` may call it too, for itself only: every node id this reads from the
   * request must equal the certificate's id (an empty list means "all nodes" and is refused).
   */
  readonly ownNodes?: (request: unknown) => readonly string[];
  /** What the method does, for refusals (`changes the Raft membership`). */
  readonly what: string;
}

/**
 * Who may call what, by method (`ipam.v1.Cluster/RemoveMember`). Methods of
 * `grpc.health.v1` and `grpc.reflection.*` are open to every verified certificate; any other
 * method missing from the policy is reserved to servers and operators.
 */
export type AccessPolicy = ReadonlyMap<string, AccessRule>;

const ADMIN: readonly PeerRole[] = ["server", "operator"];
const EVERYONE: readonly PeerRole[] = ["server", "operator", "node"];

function field(request: unknown, name: string): unknown {
  return typeof request === "object" && request !== null
    ? (request as Record<string, unknown>)[name]
    : undefined;
}

/** The request's `nodeId`, as a list of one (empty string when absent). */
const requestNode = (request: unknown): readonly string[] => [
  String(field(request, "nodeId") ?? ""),
];

/** Every item's `nodeId` of a batched request. */
const itemNodes = (request: unknown): readonly string[] => {
  const items = field(request, "items");
  return Array.isArray(items) ? items.map((item) => String(field(item, "nodeId") ?? "")) : [];
};

const admin = (what: string): AccessRule => ({ roles: ADMIN, what });
const read = (what: string): AccessRule => ({ roles: EVERYONE, what });
const ownNode = (what: string, ownNodes = requestNode): AccessRule => ({
  roles: ADMIN,
  ownNodes,
  what,
});

/**
 * The policy of ipamd's services (docs/operations.md, "Identities"):
 * - membership, topology, subnets, deregistration and every force operation: servers and
 *   operators;
 * - a node registers itself and leases, releases and allocates for itself only;
 * - reads (status, topology, stats, leases) are open to every identity;
 * - the Raft peer service: servers only;
 * - the node API over TCP (role all): reads for everyone, changes for servers and operators.
 */
export const IPAM_ACCESS_POLICY: AccessPolicy = new Map<string, AccessRule>([
  ["ipam.v1.Cluster/ApplyTopology", admin("changes the topology")],
  ["ipam.v1.Cluster/GetTopology", read("reads the topology")],
  ["ipam.v1.Cluster/RegisterNode", ownNode("registers a node")],
  ["ipam.v1.Cluster/DeregisterNode", admin("deregisters a node")],
  ["ipam.v1.Cluster/AddSubnet", admin("adds a subnet")],
  ["ipam.v1.Cluster/RemoveSubnet", admin("removes a subnet")],
  ["ipam.v1.Cluster/DrainSubnet", admin("drains a subnet")],
  ["ipam.v1.Cluster/CarveSubnet", admin("carves a subnet from a supernet")],
  ["ipam.v1.Cluster/ReserveRange", admin("reserves a range")],
  ["ipam.v1.Cluster/UnreserveRange", admin("ends a reservation")],
  ["ipam.v1.Cluster/LeaseBlock", ownNode("leases a block to a node")],
  ["ipam.v1.Cluster/ReportNode", ownNode("reports what a node's pods hold")],
  ["ipam.v1.Cluster/ReportAddressEvents", ownNode("ships a node's address history")],
  ["ipam.v1.Cluster/AddressHistory", admin("reads who held an address (pod identities)")],
  ["ipam.v1.Cluster/Forecast", read("reads the exhaustion forecast")],
  ["ipam.v1.Cluster/ListReservations", read("reads the run-time reservations")],
  ["ipam.v1.Cluster/TakeSnapshot", admin("snapshots the cluster state and compacts its log")],
  ["ipam.v1.Cluster/ReleaseBlock", ownNode("releases a node's block")],
  ["ipam.v1.Cluster/ClaimBlock", ownNode("re-claims a block for a node")],
  ["ipam.v1.Cluster/BindSticky", ownNode("binds a StatefulSet pod's sticky addresses on its node")],
  ["ipam.v1.Cluster/ReleaseSticky", ownNode("lets go of a StatefulSet pod's sticky addresses")],
  ["ipam.v1.Cluster/GetStickyBinding", read("reads a StatefulSet pod's sticky addresses")],
  ["ipam.v1.Cluster/AllocateDirect", ownNode("allocates addresses for a node", itemNodes)],
  ["ipam.v1.Cluster/ReleaseDirect", { roles: EVERYONE, what: "releases direct allocations" }],
  ["ipam.v1.Cluster/GetStats", read("reads pool statistics")],
  ["ipam.v1.Cluster/AddVoter", admin("changes the Raft membership")],
  ["ipam.v1.Cluster/AddLearner", admin("changes the Raft membership")],
  ["ipam.v1.Cluster/RemoveMember", admin("changes the Raft membership")],
  ["ipam.v1.Cluster/TransferLeadership", admin("moves the Raft leadership")],
  ["ipam.v1.Cluster/GetLeader", read("reads the leader")],
  ["ipam.v1.Cluster/GetStatus", read("reads the Raft status")],
  ["ipam.v1.Cluster/ListBlocks", read("lists block leases")],
  ["ipam.v1.Cluster/GetNodeLeases", read("reads a node's leases")],
  ["ipam.raft.v1.Raft/Stream", { roles: ["server"], what: "is the Raft peer service" }],
  ["ipam.raft.v1.Raft/InstallSnapshot", { roles: ["server"], what: "is the Raft peer service" }],
  ["ipam.v1.Ipam/Allocate", admin("allocates on this node")],
  ["ipam.v1.Ipam/Release", admin("releases on this node")],
  ["ipam.v1.Ipam/GarbageCollect", admin("garbage-collects this node's allocations")],
  ["ipam.v1.Ipam/Check", read("checks an allocation")],
  ["ipam.v1.Ipam/Status", read("reads the node's status")],
  ["ipam.v1.Ipam/ListAllocations", read("lists allocations")],
  ["ipam.v1.Ipam/GetNodeBlocks", read("reads the node's blocks")],
  ["ipam.v1.Ipam/GetPoolStats", read("reads pool statistics")],
  ["ipam.v1.Ipam/GetRuntimeView", read("reads the runtime's last CNI GC view")],
]);

/** Health and reflection: open to every verified certificate, whatever its identity. */
export function isOpenMethod(method: string): boolean {
  return method.startsWith("grpc.health.v1.") || method.startsWith("grpc.reflection.");
}
