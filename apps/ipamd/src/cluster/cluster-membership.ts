import {
  type CallContext,
  type ClientTlsOptions,
  type ClusterClient,
  type ClusterHandlers,
  createClusterClient,
  type Member,
  MemberRole,
  RaftRole,
} from "@ipam/grpc-server";
import type { ConfState, RaftNode, RaftNodeStatus } from "@ipam/raft";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import { requireText } from "../request-fields.js";
import { toClusterError } from "./cluster-errors.js";
import type { RaftCluster } from "./raft-cluster.js";

/** Request metadata marking a call a follower forwarded to the leader (never forwarded twice). */
export const FORWARDED_HEADER = "ipam-forwarded-by";
/**
 * Request metadata a client sends (any value) to ask a follower not to forward its write: the
 * follower answers NOT_LEADER with the leader's id and address instead.
 */
export const NO_FORWARD_HEADER = "ipam-no-forward";

/** Cluster RPCs that change the replicated state: served by the leader only. */
export const WRITE_METHODS: ReadonlySet<keyof ClusterHandlers> = new Set<keyof ClusterHandlers>([
  "applyTopology",
  "registerNode",
  "deregisterNode",
  "addSubnet",
  "removeSubnet",
  "drainSubnet",
  "carveSubnet",
  "reserveRange",
  "unreserveRange",
  "leaseBlock",
  "releaseBlock",
  "claimBlock",
  "bindSticky",
  "releaseSticky",
  "allocateDirect",
  "releaseDirect",
  "addVoter",
  "addLearner",
  "removeMember",
  "transferLeadership",
  "takeSnapshot",
]);

/** The members of a configuration as the wire reports them (voters first, ids sorted). */
export function wireMembers(conf: ConfState): Member[] {
  const address = (id: string) => conf.addresses?.[id] ?? "";
  return [
    ...[...conf.voters]
      .sort()
      .map((id) => ({ id, address: address(id), role: MemberRole.VOTER }) as Member),
    ...[...conf.learners]
      .sort()
      .map((id) => ({ id, address: address(id), role: MemberRole.LEARNER }) as Member),
  ];
}

function wireRole(st: RaftNodeStatus): RaftRole {
  switch (st.role) {
    case "leader":
      return RaftRole.LEADER;
    case "candidate":
    case "pre-candidate":
      return RaftRole.CANDIDATE;
    default:
      return st.members.learners.includes(st.id) ? RaftRole.LEARNER : RaftRole.FOLLOWER;
  }
}

/**
 * TakeSnapshot over a Raft node: snapshots the state machine at its applied index and compacts
 * the log (`RaftNode.snapshotNow`). Served by the leader (followers forward it: WRITE_METHODS).
 * `node` is asked at each call (the Raft node exists once the server started).
 */
export function takeSnapshotHandler(
  node: () => Pick<RaftNode, "snapshotNow" | "status">,
): Partial<ClusterHandlers> {
  return {
    takeSnapshot: async () => {
      try {
        const raft = node();
        const taken = await raft.snapshotNow();
        return {
          serverId: raft.status().id,
          index: BigInt(taken.index),
          bytes: BigInt(taken.bytes),
          clusterStore: "raft",
          firstLogIndex: BigInt(taken.firstIndex),
        };
      } catch (err) {
        throw toClusterError(err, "TakeSnapshot");
      }
    },
  };
}

/** What GetLeader and GetStatus report from. */
export interface StatusSource {
  status(): RaftNodeStatus;
  /** The leader's id and advertise address, when known. */
  leader(): { readonly id: string; readonly address: string } | undefined;
  readonly clusterId: string;
  /** Why this server is not ready (undefined: ready); absent: ready when a leader is known. */
  notReadyReason?(): string | undefined;
  /** Set once this server learnt it was removed from the membership. */
  readonly removed?: string | undefined;
}

/** GetLeader and GetStatus: this server's view, answered locally (never forwarded). */
export function statusHandlers(source: StatusSource): Partial<ClusterHandlers> {
  return {
    getLeader: () => {
      const st = source.status();
      const leader = source.leader();
      return {
        leaderId: leader?.id ?? "",
        leaderAddress: leader?.address ?? "",
        term: BigInt(st.term),
      };
    },
    getStatus: () => {
      const st = source.status();
      const leader = source.leader();
      return {
        id: st.id,
        role: wireRole(st),
        term: BigInt(st.term),
        commitIndex: BigInt(st.commit),
        appliedIndex: BigInt(st.applied),
        snapshotIndex: BigInt(st.snapshotIndex),
        leaderId: leader?.id ?? "",
        leaderAddress: leader?.address ?? "",
        members: wireMembers(st.members),
        clusterId: source.clusterId,
        clusterStore: "raft",
        leaderCommitIndex: BigInt(st.leaderCommit),
        notReadyReason:
          source.notReadyReason?.() ?? (leader === undefined ? "no Raft leader known" : ""),
        removed: source.removed !== undefined,
      };
    },
  };
}

/**
 * GetLeader/GetStatus for role all (a group of one with no peers): membership changes are not
 * served there (UNIMPLEMENTED); run servers to form a multi-server group.
 */
export function singleServerStatusHandlers(
  raft: { status(): RaftNodeStatus },
  address: () => string,
): Partial<ClusterHandlers> {
  return statusHandlers({
    status: () => raft.status(),
    leader: () => {
      const st = raft.status();
      if (st.leader === null) return undefined;
      return { id: st.leader, address: st.leader === st.id ? address() : (st.leaderAddress ?? "") };
    },
    clusterId: "",
  });
}

/** Options of {@link membershipHandlers}. */
export interface MembershipOptions {
  /** How long AddVoter waits for a learner to catch up before refusing (CONFLICT); default 4 election timeouts. */
  readonly promoteWaitMs?: number;
}

/**
 * The Cluster API's membership RPCs over a {@link RaftCluster}: AddVoter (promotes a learner,
 * or adds a voter), AddLearner, RemoveMember, TransferLeadership, and the local reads GetLeader
 * and GetStatus. Changes are idempotent: asking for a membership that already holds (same id
 * and address) answers the current configuration without a new entry. On a follower the
 * changes reject NOT_LEADER with the leader hint (wrap with {@link forwardWrites} to forward).
 */
export function membershipHandlers(
  cluster: RaftCluster,
  options: MembershipOptions = {},
): Partial<ClusterHandlers> {
  const response = () => ({
    members: wireMembers(cluster.status().members),
    raftIndex: BigInt(cluster.appliedIndex()),
  });
  const change = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      throw toClusterError(err, what);
    }
    return response();
  };
  const sameAddress = (id: string, address: string) => {
    const known = cluster.status().members.addresses?.[id];
    if (known !== undefined && known !== address) {
      throw new IpamdError(
        "CONFLICT",
        `id: ${id} is already a member with address ${known}, not ${address} (RemoveMember it first)`,
        { details: { id, address: known } },
      );
    }
  };
  return {
    addLearner: async (req) => {
      const id = requireText("id", req.id);
      const address = requireText("address", req.address);
      const members = cluster.status().members;
      if (members.voters.includes(id) || members.learners.includes(id)) {
        sameAddress(id, address);
        return response();
      }
      return change(`AddLearner ${id}`, () => cluster.raft.addLearner(id, address));
    },
    addVoter: async (req) => {
      const id = requireText("id", req.id);
      const address = requireText("address", req.address);
      const members = cluster.status().members;
      if (members.voters.includes(id)) {
        sameAddress(id, address);
        return response();
      }
      if (members.learners.includes(id)) {
        sameAddress(id, address);
        const waitMs = options.promoteWaitMs ?? 4 * cluster.electionMs;
        return change(`AddVoter ${id} (promote)`, () => cluster.raft.promote(id, { waitMs }));
      }
      return change(`AddVoter ${id}`, () => cluster.raft.addVoter(id, address));
    },
    removeMember: async (req) => {
      const id = requireText("id", req.id);
      const members = cluster.status().members;
      if (!members.voters.includes(id) && !members.learners.includes(id)) return response();
      return change(`RemoveMember ${id}`, () => cluster.raft.removeMember(id));
    },
    transferLeadership: async (req) => {
      const target = req.targetId === "" ? undefined : req.targetId;
      try {
        await cluster.raft.transferLeadership(target);
      } catch (err) {
        throw toClusterError(err, "TransferLeadership");
      }
      return { members: wireMembers(cluster.status().members), raftIndex: 0n };
    },
    ...takeSnapshotHandler(() => cluster.raft),
    ...statusHandlers(cluster),
  };
}

/** Options of {@link forwardWrites}. */
export interface ForwardOptions {
  readonly tls?: ClientTlsOptions;
  readonly logger?: Logger;
  /** Deadline of a forwarded call when the incoming one has none; default 10 s. */
  readonly deadlineMs?: number;
  /** The Raft election timeout, ms: the leader's channel reconnects at a pace fitted to it. */
  readonly electionMs?: number;
}

/** Handlers that forward writes, and `close` for the cached leader client. */
export interface Forwarder {
  readonly handlers: Partial<ClusterHandlers>;
  close(): void;
}

/** A ClusterHandlers-shaped map of functions taking (request, context). */
type AnyHandler = (request: unknown, context: CallContext) => unknown;

/**
 * Wraps Cluster handlers so that a follower forwards every write ({@link WRITE_METHODS}) to the
 * leader over a cached ClusterClient (replaced when the leader's address changes) and answers
 * with the leader's response; reads stay local (the data handlers read through
 * `cluster.read`, a ReadIndex round through the leader). The leader runs the handler itself.
 * A forwarded call is never forwarded again: a server that receives one while not leading
 * answers NOT_LEADER with its leader hint. With no leader known writes (forwarded ones too) fail
 * UNAVAILABLE (`no leader known`), which clients retry.
 */
export function forwardWrites(
  handlers: Partial<ClusterHandlers>,
  cluster: RaftCluster,
  options: ForwardOptions = {},
): Forwarder {
  let current: { address: string; client: ClusterClient } | undefined;
  const retired = new Set<NodeJS.Timeout>();
  const clientFor = (address: string): ClusterClient => {
    if (current?.address === address) return current.client;
    const old = current;
    if (old !== undefined) {
      // Calls still running on the old leader's channel finish (or fail) on their own.
      const t = setTimeout(() => {
        retired.delete(t);
        old.client.close();
      }, 15_000);
      t.unref();
      retired.add(t);
    }
    current = {
      address,
      client: createClusterClient({
        addresses: [address],
        maxAttempts: 3,
        deadlineMs: options.deadlineMs ?? 10_000,
        ...(options.electionMs === undefined ? {} : { electionMs: options.electionMs }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      }),
    };
    options.logger?.info({ leader: address }, "forwarding writes to the leader");
    return current.client;
  };
  const out: Record<string, AnyHandler> = {};
  for (const [name, handler] of Object.entries(handlers) as [string, AnyHandler][]) {
    if (!WRITE_METHODS.has(name as keyof ClusterHandlers)) {
      out[name] = handler;
      continue;
    }
    out[name] = async (request, context) => {
      const leader = cluster.leader();
      if (leader !== undefined && leader.id === cluster.nodeId) return handler(request, context);
      // No leader known (an election): UNAVAILABLE, which clients retry, also for a forwarded
      // call. A NOT_LEADER without a hint would reach the client through the forwarding
      // follower, and a client that knows one server can neither redirect nor retry it.
      if (leader === undefined || leader.address === "") {
        throw new IpamdError("UNAVAILABLE", `${name}: no leader known (election in progress)`);
      }
      if (
        context.metadata.get(FORWARDED_HEADER).length > 0 ||
        context.metadata.get(NO_FORWARD_HEADER).length > 0
      ) {
        throw new IpamdError("NOT_LEADER", `${name}: this server does not lead`, {
          details: { leaderId: leader.id, leaderAddress: leader.address },
        });
      }
      const client = clientFor(leader.address) as unknown as Record<
        string,
        (req: unknown, opts: unknown) => Promise<unknown>
      >;
      const call = client[name];
      if (call === undefined) throw new IpamdError("INTERNAL", `${name}: no client method`);
      const remaining =
        context.deadline === undefined ? undefined : Math.max(1, context.deadline - Date.now());
      return call(request, {
        signal: context.signal,
        metadata: { [FORWARDED_HEADER]: cluster.nodeId },
        ...(remaining === undefined ? {} : { deadlineMs: remaining }),
      });
    };
  }
  return {
    handlers: out as Partial<ClusterHandlers>,
    close: () => {
      for (const t of retired) clearTimeout(t);
      retired.clear();
      current?.client.close();
      current = undefined;
    },
  };
}
