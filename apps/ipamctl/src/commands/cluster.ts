import { type GetStatusResponse, type Member, MemberRole, RaftRole } from "@ipam/grpc-server";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { type Colors, table } from "../output.js";

/** A Raft member as ipamctl prints it. */
export interface MemberView {
  readonly id: string;
  readonly address: string;
  /** `voter`, `learner`, or `server` (a server of an etcd-backed cluster: not a Raft member). */
  readonly role: "voter" | "learner" | "server";
}

function memberViews(list: readonly Member[]): MemberView[] {
  return list.map((m) => ({
    id: m.id,
    address: m.address,
    role:
      m.role === MemberRole.VOTER ? "voter" : m.role === MemberRole.LEARNER ? "learner" : "server",
  }));
}

const RAFT_ROLES: Readonly<Record<number, string>> = {
  [RaftRole.LEADER]: "leader",
  [RaftRole.FOLLOWER]: "follower",
  [RaftRole.CANDIDATE]: "candidate",
  [RaftRole.LEARNER]: "learner",
};

function membersText(leader: string, members: readonly MemberView[], c: Colors): string {
  return table(
    ["id", "address", "role", "leader"],
    members.map((m) => [m.id, m.address, m.role, m.id === leader ? c.green("*") : ""]),
    c,
  );
}

function statusView(st: GetStatusResponse) {
  return {
    id: st.id,
    store: st.clusterStore === "" ? "raft" : st.clusterStore,
    role: RAFT_ROLES[st.role] ?? "unknown",
    term: Number(st.term),
    commitIndex: Number(st.commitIndex),
    appliedIndex: Number(st.appliedIndex),
    snapshotIndex: Number(st.snapshotIndex),
    leader: st.leaderId,
    leaderAddress: st.leaderAddress,
    clusterId: st.clusterId,
    ready: st.notReadyReason === "",
    ...(st.notReadyReason === "" ? {} : { notReadyReason: st.notReadyReason }),
    removed: st.removed,
    members: memberViews(st.members),
  };
}

/** The human `ipamctl status` of a server of ipamd's own Raft group. */
function raftStatusText(data: ReturnType<typeof statusView>, c: Colors): string[] {
  return [
    `server     ${data.id} (${data.role}, ${data.store})`,
    `cluster    ${data.clusterId}`,
    `leader     ${data.leader === "" ? c.red("none known") : `${data.leader} ${data.leaderAddress}`}`,
    `term       ${data.term}`,
    `indexes    commit ${data.commitIndex}, applied ${data.appliedIndex}, snapshot ${data.snapshotIndex}`,
    `ready      ${data.ready ? c.green("yes") : c.red(`no: ${data.notReadyReason ?? ""}`)}`,
  ];
}

/**
 * The human `ipamctl status` of a server of an etcd-backed cluster: the store and its health
 * first, the controller (the server holding the controller lease) instead of a Raft leader, and
 * the indexes as the etcd revisions they are.
 */
function etcdStatusText(data: ReturnType<typeof statusView>, c: Colors): string[] {
  return [
    `server     ${data.id} (${data.role === "leader" ? "controller" : "server"})`,
    `store      etcd: ${data.ready ? c.green("healthy") : c.red(`not ready: ${data.notReadyReason ?? ""}`)} (etcd raft term ${data.term}, revision ${data.commitIndex})`,
    `cluster    ${data.clusterId}`,
    `controller ${data.leader === "" ? c.red("none known") : `${data.leader} ${data.leaderAddress}`}`,
    `revisions  applied ${data.appliedIndex}, snapshot ${data.snapshotIndex}`,
    "etcd's own members and leader: etcdctl member list, etcdctl endpoint status",
  ];
}

/**
 * The cluster commands: `members`, `status`, `transfer-leader` (formerly `ipamd cluster
 * members|status|transfer-leadership`) and `snapshot`. On an etcd-backed cluster `members` lists the ipamd
 * servers (and says where etcd's members are), `status` names the store and its health, and
 * `transfer-leader` is refused by the server naming etcd.
 */
export function register(program: Command, context: CommandContext): void {
  program
    .command("members")
    .description("the cluster's servers, their Raft role and the leader")
    .action(async () => {
      const st = await context.cluster().getStatus({});
      const data = { leader: st.leaderId, members: memberViews(st.members) };
      const out = context.output();
      if (st.clusterStore === "etcd") {
        out.note(
          "the cluster store is etcd: these are the live ipamd servers (no Raft membership; the one marked holds the controller lease); etcd's own members: etcdctl member list",
        );
      }
      out.result("Members", data, (c) => membersText(data.leader, data.members, c));
    });

  program
    .command("status")
    .description(
      "the answering server's state: its store (raft or etcd) and health, role, term, indexes, readiness",
    )
    .action(async () => {
      const data = statusView(await context.cluster().getStatus({}));
      context
        .output()
        .result("ServerStatus", data, (c) =>
          [
            ...(data.store === "etcd" ? etcdStatusText(data, c) : raftStatusText(data, c)),
            ...(data.removed
              ? [c.red("removed from the cluster: empty its data dir and --join")]
              : []),
            "",
            membersText(data.leader, data.members, c),
          ].join("\n"),
        );
    });

  program
    .command("transfer-leader")
    .description("hand leadership to another voter (the most up to date one without --to)")
    .option("--to <id>", "the member to hand leadership to")
    .action(async (opts: { to?: string }) => {
      const cluster = context.cluster();
      const r = await cluster.transferLeadership({ targetId: opts.to ?? "" });
      const leader = await cluster.getLeader({});
      const data = { leader: leader.leaderId, members: memberViews(r.members) };
      context.output().result("Members", data, (c) => membersText(data.leader, data.members, c));
    });

  program
    .command("snapshot")
    .description(
      "snapshot the cluster state now: on Raft the leader snapshots and compacts its log, on etcd the state is written to etcd",
    )
    .action(async () => {
      const r = await context.cluster().takeSnapshot({});
      const data = {
        server: r.serverId,
        store: r.clusterStore === "etcd" ? ("etcd" as const) : ("raft" as const),
        index: Number(r.index),
        bytes: Number(r.bytes),
        firstLogIndex: Number(r.firstLogIndex),
      };
      context
        .output()
        .result("Snapshot", data, () =>
          data.store === "etcd"
            ? `${data.server} wrote the cluster state to etcd at revision ${data.index} (${data.bytes} bytes)`
            : `${data.server} took a snapshot at log index ${data.index} (${data.bytes} bytes); its log now starts at ${data.firstLogIndex}`,
        );
    });
}
