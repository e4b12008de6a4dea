import {
  type ClusterClient,
  createClusterClient,
  createClusterService,
  GrpcError,
  type GrpcServer,
  RaftRole,
  startGrpcServer,
} from "@ipam/grpc-server";
import { openStore, type Store } from "@ipam/store";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { clusterDataHandlers } from "../src/cluster/cluster-data-handlers.js";
import {
  FORWARDED_HEADER,
  forwardWrites,
  membershipHandlers,
  NO_FORWARD_HEADER,
} from "../src/cluster/cluster-membership.js";
import { RaftCluster } from "../src/cluster/raft-cluster.js";
import { waitFor } from "./helpers/processes.js";

// Three RaftCluster servers in this process, each with its own in-memory store, its own gRPC
// listener on 127.0.0.1 and the real GrpcRaftTransport between them: the membership handlers
// and write forwarding as a client sees them.

const TOR = [...exampleTopology().tors.keys()][0] ?? "";

interface InProcessServer {
  readonly id: string;
  readonly cluster: RaftCluster;
  readonly server: GrpcServer;
  readonly address: string;
  readonly store: Store;
  readonly close: () => Promise<void>;
}

const running: InProcessServer[] = [];
const clients: ClusterClient[] = [];

async function startServer(id: string, join: readonly string[]): Promise<InProcessServer> {
  const store = openStore({ path: ":memory:" });
  const cluster = new RaftCluster({
    nodeId: id,
    store,
    dataDir: undefined,
    // Generous: a leadership transfer must finish within two election timeouts, and these three
    // servers share one event loop on a possibly loaded machine.
    electionMs: 2000,
    logger: pino({ level: "silent" }),
    bootstrap: join.length === 0,
    join,
  });
  await cluster.prepare();
  const forwarder = forwardWrites(
    { ...clusterDataHandlers(cluster), ...membershipHandlers(cluster) },
    cluster,
  );
  const server = await startGrpcServer({
    tcp: { host: "127.0.0.1", port: 0 },
    services: [cluster.raftService(), createClusterService(forwarder.handlers)],
  });
  const address = `127.0.0.1:${server.tcpPort}`;
  await cluster.start(address);
  let closed = false;
  const s: InProcessServer = {
    id,
    cluster,
    server,
    address,
    store,
    close: async () => {
      if (closed) return;
      closed = true;
      await cluster.stop();
      await server.shutdown(500);
      forwarder.close();
      store.close();
    },
  };
  running.push(s);
  return s;
}

function client(address: string, maxAttempts = 5): ClusterClient {
  const c = createClusterClient({ addresses: [address], maxAttempts, deadlineMs: 30_000 });
  clients.push(c);
  return c;
}

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of running) await s.close();
});

describe("Cluster membership and forwarding (3 in-process servers over gRPC)", () => {
  let servers: InProcessServer[] = [];
  const leader = () => servers.find((s) => s.cluster.isLeader());
  const followers = () => servers.filter((s) => !s.cluster.isLeader());

  it("joins two servers through a follower-independent seed and agrees on membership", async () => {
    const s1 = await startServer("m1", []);
    await s1.cluster.execute({
      type: "apply-topology",
      at: Date.now(),
      config: toCanonicalConfig(exampleTopology()),
    });
    const s2 = await startServer("m2", [s1.address]);
    // The third names the second (a follower) only: AddLearner is redirected to the leader.
    const s3 = await startServer("m3", [s2.address]);
    servers = [s1, s2, s3];
    for (const s of servers) {
      const st = await waitFor(`${s.id} to see 3 voters`, async () => {
        const x = await client(s.address).getStatus({});
        return x.members.length === 3 && x.leaderId !== "" ? x : undefined;
      });
      expect(st.members.map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
      expect(st.clusterId).toBe(s1.cluster.clusterId);
    }
  });

  it("answers NOT_LEADER with the leader's address to a forwarded call that reaches a follower", async () => {
    const l = leader() as InProcessServer;
    const f = followers()[0] as InProcessServer;
    // One attempt and a fresh client per call: a client that saw NOT_LEADER dials the leader next.
    const err = await client(f.address, 1)
      .registerNode(
        { nodeId: "node-x", torId: TOR },
        { metadata: { [FORWARDED_HEADER]: "someone" } },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpcError);
    expect((err as GrpcError).code).toBe("NOT_LEADER");
    expect((err as GrpcError).details?.leaderAddress).toBe(l.address);
    // A client may ask for the same answer instead of forwarding.
    const refused = await client(f.address, 1)
      .deregisterNode({ nodeId: "node-x" }, { metadata: { [NO_FORWARD_HEADER]: "1" } })
      .catch((e: unknown) => e);
    expect((refused as GrpcError).code).toBe("NOT_LEADER");
    expect((refused as GrpcError).details?.leaderId).toBe(l.id);
    // Without the header the same follower forwards it and answers the leader's result.
    const r = await client(f.address, 1).registerNode({ nodeId: "node-x", torId: TOR });
    expect(r.created).toBe(true);
  });

  it("keeps membership changes idempotent and refuses a second address for a member", async () => {
    const f = followers()[0] as InProcessServer;
    const c = client(f.address);
    const same = await c.addLearner({ id: "m3", address: (servers[2] as InProcessServer).address });
    expect(same.members.map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
    const err = await c.addLearner({ id: "m3", address: "127.0.0.1:1" }).catch((e: unknown) => e);
    expect((err as GrpcError).code).toBe("CONFLICT");
    expect((err as GrpcError).message).toContain("m3 is already a member");
    const missing = await c.addVoter({ id: "", address: "x:1" }).catch((e: unknown) => e);
    expect((missing as GrpcError).code).toBe("INVALID_ARGUMENT");
    expect((missing as GrpcError).message).toContain("id: must not be empty");
    const gone = await c.removeMember({ id: "never-a-member" });
    expect(gone.members).toHaveLength(3);
  });

  it("transfers leadership on request", async () => {
    const l = leader() as InProcessServer;
    const target = followers()[0] as InProcessServer;
    await client(l.address).transferLeadership({ targetId: target.id });
    await waitFor("the new leader", () => (target.cluster.isLeader() ? true : undefined));
    const seen = await client(l.address).getLeader({});
    expect(seen.leaderId).toBe(target.id);
    expect(seen.leaderAddress).toBe(target.address);
  });

  it("without a quorum: writes fail UNAVAILABLE, GetStatus still answers", async () => {
    const survivor = followers()[0] as InProcessServer;
    for (const s of servers) if (s !== survivor) await s.close();
    const c = client(survivor.address, 1);
    const st = await waitFor("the survivor to know no leader", async () => {
      const x = await c.getStatus({});
      return x.leaderId === "" ? x : undefined;
    });
    expect(st.role).not.toBe(RaftRole.LEADER);
    const err = await c.registerNode({ nodeId: "node-y", torId: TOR }).catch((e: unknown) => e);
    expect((err as GrpcError).code).toBe("UNAVAILABLE");
    expect((err as GrpcError).message).toContain("no leader known");
    // A call forwarded to it (by a follower that still names it leader) gets the same answer,
    // which the forwarding follower passes on and its client retries; not a NOT_LEADER without
    // a hint, which a client knowing one server can neither follow nor retry.
    const forwarded = await c
      .registerNode({ nodeId: "node-y", torId: TOR }, { metadata: { [FORWARDED_HEADER]: "m1" } })
      .catch((e: unknown) => e);
    expect((forwarded as GrpcError).code).toBe("UNAVAILABLE");
    expect((forwarded as GrpcError).message).toContain("no leader known");
  });
});
