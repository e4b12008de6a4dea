import {
  type ClusterHandlers,
  createClusterService,
  type GrpcServer,
  startGrpcServer,
} from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { RemoteCluster } from "../src/cluster/remote-cluster.js";
import { IpamdError } from "../src/ipamd-error.js";
import { freePort } from "./helpers/processes.js";

// RemoteCluster against real gRPC servers on loopback that play a leader, a follower that
// refuses with NOT_LEADER, and a dead address.

const silent = pino({ level: "silent" });
const servers: GrpcServer[] = [];
const remotes: RemoteCluster[] = [];

afterAll(async () => {
  for (const r of remotes) r.close();
  await Promise.all(servers.map((s) => s.shutdown(1000)));
});

async function serve(handlers: Partial<ClusterHandlers>): Promise<string> {
  const s = await startGrpcServer({
    tcp: { host: "127.0.0.1", port: 0 },
    services: [createClusterService(handlers)],
  });
  servers.push(s);
  return `127.0.0.1:${s.tcpPort}`;
}

/** Deadlines are generous (a loaded machine); the tests of failure pass their own. */
function remote(addresses: string[], deadlineMs = 30_000): RemoteCluster {
  const r = new RemoteCluster({
    servers: addresses,
    nodeId: "n1",
    logger: silent,
    deadlineMs,
    attemptMs: 5000,
    backoff: { initialMs: 10, maxMs: 50 },
    probeMs: 0,
  });
  remotes.push(r);
  return r;
}

const topologyJson = JSON.stringify(toCanonicalConfig(exampleTopology()));
let leaseCalls = 0;
const leaderHandlers: Partial<ClusterHandlers> = {
  getTopology: () => ({ topologyJson, version: 1n }),
  getNodeLeases: (req) => ({ nodeId: req.nodeId, blocks: [], direct: [], raftIndex: 1n }),
  leaseBlock: (req) => {
    leaseCalls++;
    return {
      block: {
        cidr: "10.99.0.64/26",
        subnetId: "tor-a1-1-default-v4",
        purpose: req.purpose,
        family: req.family,
        nodeId: req.nodeId,
        leasedAtUnixMs: 5n,
      },
    };
  },
};

describe("RemoteCluster", () => {
  it("skips a dead server, follows NOT_LEADER to the named leader and stays there", async () => {
    const leader = await serve(leaderHandlers);
    const follower = await serve({
      getNodeLeases: () => {
        throw new IpamdError("NOT_LEADER", "not the leader", {
          details: { leaderId: "s1", leaderAddress: leader },
        });
      },
    });
    const dead = `127.0.0.1:${await freePort()}`;
    const c = remote([dead, follower]);
    expect(c.available()).toBe(false);
    expect(await c.nodeLeases("n1")).toEqual([]);
    expect(c.currentServer).toBe(leader);
    expect(c.available()).toBe(true);
    // A write goes to the leader directly and comes back as a BlockLease with its subnet.
    const r = await c.execute({
      type: "lease-block",
      at: 1,
      node: "n1",
      purpose: "default",
      family: 4,
    });
    expect(r.value).toMatchObject({
      node: "n1",
      cidr: "10.99.0.64/26",
      leasedAt: 5,
      subnet: { id: "tor-a1-1-default-v4", cidr: "10.99.0.0/21", gateway: "10.99.0.1" },
    });
    expect(leaseCalls).toBe(1);
  });

  it("asks GetLeader when NOT_LEADER names no leader", async () => {
    const leader = await serve(leaderHandlers);
    const follower = await serve({
      getNodeLeases: () => {
        throw new IpamdError("NOT_LEADER", "no leader known here");
      },
      getLeader: () => ({ leaderId: "s9", leaderAddress: leader, term: 3n }),
    });
    const c = remote([follower]);
    expect(await c.nodeLeases("n1")).toEqual([]);
    expect(c.currentServer).toBe(leader);
  });

  it("fails UNAVAILABLE within its deadline when no server answers, and says unreachable", async () => {
    const c = remote([`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`], 1500);
    await expect(c.nodeLeases("n1")).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining("cluster unreachable"),
    });
    expect(c.available()).toBe(false);
    expect(c.unavailableReason).toContain("127.0.0.1");
  });

  it("passes a refusal through with its code and counts the cluster as reachable", async () => {
    const a = await serve({
      leaseBlock: () => {
        throw new IpamdError("POOL_EXHAUSTED", "no free block for n1");
      },
    });
    const c = remote([a]);
    await expect(
      c.execute({ type: "lease-block", at: 1, node: "n1", purpose: "default", family: 4 }),
    ).rejects.toMatchObject({ code: "POOL_EXHAUSTED", message: "no free block for n1" });
    expect(c.available()).toBe(true);
    await expect(
      c.execute({ type: "apply-topology", at: 1, config: { version: 1, zones: [] } }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
