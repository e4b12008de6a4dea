import { type ClusterHandlers, MemberRole, RaftRole } from "@ipam/grpc-server";
import { IpamdError } from "../ipamd-error.js";
import type { EtcdCluster } from "./etcd-cluster.js";

/** What a Raft membership RPC answers on an etcd-backed server. */
function membershipIsEtcds(method: string): never {
  throw new IpamdError(
    "UNIMPLEMENTED",
    `${method}: the cluster store is etcd, which has no ipamd Raft membership: etcd's members are etcd's (etcdctl member list, etcdctl member add/remove); an ipamd server joins by starting with the same --etcd-endpoints and --etcd-prefix and leaves by stopping`,
  );
}

/** What TransferLeadership answers on an etcd-backed server. */
function noLeaderToTransfer(): never {
  throw new IpamdError(
    "UNIMPLEMENTED",
    "TransferLeadership: the cluster store is etcd, which has no ipamd Raft leader to hand over: the controller lease moves to another server when its holder stops (SIGTERM it); etcd's own leader moves with etcdctl move-leader (see etcdctl endpoint status)",
  );
}

/**
 * GetLeader, GetStatus and the membership RPCs of an etcd-backed server. GetLeader names the
 * controller (the server holding the controller lease); GetStatus says `cluster_store: "etcd"`,
 * lists the live servers as members (role unspecified: they are not Raft members), and reports
 * etcd's raft term and revision as term and commit index, the replica's applied revision and
 * the snapshot's revision, and `not_ready_reason` (empty while etcd answers and the watch runs,
 * else why not: what /readyz says). AddVoter, AddLearner, RemoveMember and TransferLeadership answer
 * UNIMPLEMENTED naming etcd. TakeSnapshot writes the replica's ClusterState snapshot to etcd
 * now (any server may: the write is a compare-and-swap on the current snapshot's meta).
 */
export function etcdStatusHandlers(cluster: EtcdCluster): Partial<ClusterHandlers> {
  return {
    getLeader: () => {
      const st = cluster.status();
      return {
        leaderId: st.controller?.id ?? "",
        leaderAddress: st.controller?.address ?? "",
        term: st.term,
      };
    },
    getStatus: async () => {
      const st = cluster.status();
      const servers = await cluster.servers().catch(() => []);
      return {
        id: st.id,
        role: st.isController ? RaftRole.LEADER : RaftRole.FOLLOWER,
        term: st.term,
        commitIndex: st.etcdRevision,
        appliedIndex: st.appliedRevision,
        snapshotIndex: st.snapshotRevision,
        leaderId: st.controller?.id ?? "",
        leaderAddress: st.controller?.address ?? "",
        members: servers.map((s) => ({
          id: s.id,
          address: s.address,
          role: MemberRole.UNSPECIFIED,
        })),
        clusterId: st.clusterId,
        clusterStore: "etcd",
        notReadyReason: cluster.available()
          ? ""
          : (cluster.unavailableReason ?? "etcd unreachable"),
      };
    },
    takeSnapshot: async () => {
      const meta = await cluster.snapshotNow();
      if (meta === undefined) {
        throw new IpamdError(
          "CONFLICT",
          "TakeSnapshot: another server installed a snapshot meanwhile; ask again",
        );
      }
      return {
        serverId: meta.writer === "" ? cluster.nodeId : meta.writer,
        index: meta.revision,
        bytes: BigInt(meta.bytes),
        clusterStore: "etcd",
        firstLogIndex: 0n,
      };
    },
    addVoter: () => membershipIsEtcds("AddVoter"),
    addLearner: () => membershipIsEtcds("AddLearner"),
    removeMember: () => membershipIsEtcds("RemoveMember"),
    transferLeadership: () => noLeaderToTransfer(),
  };
}
