import { parseArgs } from "node:util";
import {
  type ClientTlsOptions,
  type createClusterClient,
  type Member,
  MemberRole,
  RaftRole,
  readClientTls,
  type SubnetHolder,
} from "@ipam/grpc-server";

export const CLUSTER_USAGE = [
  "Usage: ipamd cluster status  [--server HOST:PORT,...]",
  "       ipamd cluster members [--server HOST:PORT,...]",
  "       ipamd cluster leave   --node-id ID [--server HOST:PORT,...]",
  "       ipamd cluster transfer-leadership [--to ID] [--server HOST:PORT,...]",
  "       ipamd cluster drain SUBNET [--resume] [--server HOST:PORT,...]",
  "         (again to follow it: prints what each node still holds; done when empty)",
  "       ipamd cluster remove-subnet SUBNET [--force] [--server HOST:PORT,...]",
  "         (--force: revoke its blocks; it goes once its holders have returned them)",
  "       ipamd cluster deregister-node NODE [--force | --dead] [--server HOST:PORT,...]",
  "         (--force: revoke its blocks; --dead: free everything now, only if the node is gone)",
  "  --server defaults to $IPAMD_SERVERS or 127.0.0.1:7400; TLS: --tls-ca, --tls-cert, --tls-key,",
  "  --tls-server-name (the name expected in the server's certificate)",
  "",
].join("\n");

/**
 * The ipamctl command that replaces each `ipamd cluster` command. These stay as aliases for one
 * release and print a deprecation note on stderr (stdout keeps its JSON for scripts).
 */
const REPLACED_BY: Readonly<Record<string, string>> = {
  status: "ipamctl status",
  members: "ipamctl members",
  "transfer-leadership": "ipamctl transfer-leader [--to ID]",
  drain: "ipamctl subnet drain SUBNET [--wait] [--resume]",
  "remove-subnet": "ipamctl subnet remove SUBNET [--force]",
  "deregister-node": "ipamctl node drain NODE (was --force) / ipamctl node remove NODE [--dead]",
};

function members(list: readonly Member[]) {
  return list.map((m) => ({
    id: m.id,
    address: m.address,
    // Unspecified: a server of an etcd-backed cluster (not a Raft member).
    role:
      m.role === MemberRole.VOTER ? "voter" : m.role === MemberRole.LEARNER ? "learner" : "server",
  }));
}

function holders(list: readonly SubnetHolder[]) {
  return list.map((h) => ({
    node: h.nodeId,
    blocks: h.blocks,
    directAddresses: h.directAddresses,
    ...(h.reported
      ? {
          addressesHeld: Number(h.addressesHeld),
          addressesCooling: Number(h.addressesCooling),
          reportedAt: new Date(Number(h.reportedAtUnixMs)).toISOString(),
          ...(h.addresses.length === 0 ? {} : { addresses: h.addresses }),
        }
      : { reported: false }),
  }));
}

const ROLE_NAMES: Readonly<Record<number, string>> = {
  [RaftRole.LEADER]: "leader",
  [RaftRole.FOLLOWER]: "follower",
  [RaftRole.CANDIDATE]: "candidate",
  [RaftRole.LEARNER]: "learner",
};

function parseClusterArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      resume: { type: "boolean" },
      force: { type: "boolean" },
      dead: { type: "boolean" },
      server: { type: "string" },
      "node-id": { type: "string" },
      to: { type: "string" },
      "tls-ca": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-server-name": { type: "string" },
    },
  });
}

/**
 * `ipamd cluster status|members|leave|transfer-leadership|drain|remove-subnet|deregister-node`: operator commands against the
 * Cluster API of a server. Prints JSON to stdout; resolves with the exit code (1 on a failed
 * call, 2 on bad arguments).
 */
export async function runClusterCommand(
  argv: readonly string[],
  makeClient: typeof createClusterClient,
): Promise<number> {
  const [command, ...rest] = argv;
  let parsed: ReturnType<typeof parseClusterArgs>;
  try {
    parsed = parseClusterArgs(rest);
  } catch (err) {
    process.stderr.write(`ipamd cluster: ${(err as Error).message}\n${CLUSTER_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const lifecycle = ["drain", "remove-subnet", "deregister-node"];
  if (
    !["status", "members", "leave", "transfer-leadership", ...lifecycle].includes(command ?? "")
  ) {
    process.stderr.write(`ipamd cluster: unknown command "${command ?? ""}"\n${CLUSTER_USAGE}`);
    return 2;
  }
  const replacement = REPLACED_BY[command ?? ""];
  if (replacement !== undefined) {
    process.stderr.write(
      `ipamd cluster ${command}: deprecated, use \`${replacement}\` (add --json for a script); this alias goes in the next release\n`,
    );
  }
  const target = positionals[0];
  if (lifecycle.includes(command ?? "") && (target === undefined || positionals.length > 1)) {
    process.stderr.write(
      `ipamd cluster ${command}: give exactly one ${command === "deregister-node" ? "NODE" : "SUBNET"}\n`,
    );
    return 2;
  }
  if (command === "deregister-node" && values.force === true && values.dead === true) {
    process.stderr.write("ipamd cluster deregister-node: --force or --dead, not both\n");
    return 2;
  }
  if (command === "leave" && values["node-id"] === undefined) {
    process.stderr.write("ipamd cluster leave: --node-id is required\n");
    return 2;
  }
  const addresses = (values.server ?? process.env.IPAMD_SERVERS ?? "127.0.0.1:7400")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  let tls: ClientTlsOptions | undefined;
  try {
    tls = readClientTls({
      ca: values["tls-ca"],
      cert: values["tls-cert"],
      key: values["tls-key"],
      serverName: values["tls-server-name"],
    });
  } catch (err) {
    process.stderr.write(`ipamd cluster: ${(err as Error).message}\n`);
    return 2;
  }
  // Retries (UNAVAILABLE, "no leader known" mid-election; backoff capped at 1 s) go on until the
  // 15 s deadline rather than the client's default five attempts (about 1.5 s): an election on a
  // busy machine takes longer. Bounded, so that a redirection loop cannot spin.
  const client = makeClient({
    addresses,
    deadlineMs: 15_000,
    maxAttempts: 35,
    ...(tls === undefined ? {} : { tls }),
  });
  try {
    if (command === "status" || command === "members") {
      const st = await client.getStatus({});
      const out =
        command === "members"
          ? { leader: st.leaderId, members: members(st.members) }
          : {
              id: st.id,
              store: st.clusterStore === "" ? "raft" : st.clusterStore,
              role: ROLE_NAMES[st.role] ?? "unknown",
              term: Number(st.term),
              commit: Number(st.commitIndex),
              applied: Number(st.appliedIndex),
              snapshot: Number(st.snapshotIndex),
              leader: st.leaderId,
              leaderAddress: st.leaderAddress,
              clusterId: st.clusterId,
              members: members(st.members),
            };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return 0;
    }
    if (command === "drain") {
      const r = await client.drainSubnet({ subnetId: target ?? "", drain: values.resume !== true });
      process.stdout.write(
        `${JSON.stringify({
          subnet: target,
          draining: values.resume !== true,
          done: r.done,
          blocks: Number(r.blocksLeased),
          addressesHeld: r.addressesAllocated,
          holders: holders(r.holders),
        })}\n`,
      );
      return 0;
    }
    if (command === "remove-subnet") {
      const r = await client.removeSubnet({ subnetId: target ?? "", force: values.force === true });
      process.stdout.write(
        `${JSON.stringify({ subnet: target, removed: r.removed, removing: r.removing, holders: holders(r.holders) })}\n`,
      );
      return 0;
    }
    if (command === "deregister-node") {
      const r = await client.deregisterNode({
        nodeId: target ?? "",
        force: values.force === true,
        dead: values.dead === true,
      });
      process.stdout.write(
        `${JSON.stringify({
          node: target,
          deregistering: r.deregistering,
          revokedBlocks: r.revokedBlocks,
          keptAddresses: r.keptAddresses,
          releasedBlocks: r.releasedBlocks,
          releasedAddresses: r.releasedAddresses,
        })}\n`,
      );
      return 0;
    }
    if (command === "leave") {
      const r = await client.removeMember({ id: values["node-id"] ?? "" });
      process.stdout.write(
        `${JSON.stringify({ removed: values["node-id"], members: members(r.members) })}\n`,
      );
      return 0;
    }
    const r = await client.transferLeadership({ targetId: values.to ?? "" });
    const leader = await client.getLeader({});
    process.stdout.write(
      `${JSON.stringify({ leader: leader.leaderId, members: members(r.members) })}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`ipamd cluster ${command}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}
