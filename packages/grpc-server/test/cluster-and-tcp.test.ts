import { join } from "node:path";
import { GrpcError } from "@ipam/grpc-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ClusterHandlers,
  createClusterClient,
  createClusterService,
  createIpamClient,
  createIpamService,
  type GrpcServer,
  readTlsFiles,
  startGrpcServer,
} from "../src/index.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { makeTestCerts, type TestCerts } from "./support/certs.js";
import { tempFolder } from "./support/temp.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function clusterServer(
  handlers: Partial<ClusterHandlers>,
): Promise<{ server: GrpcServer; address: string }> {
  const server = await startGrpcServer({
    tcp: { host: "127.0.0.1", port: 0 },
    services: [createClusterService(handlers)],
  });
  cleanups.push(() => server.shutdown(100));
  return { server, address: `127.0.0.1:${server.tcpPort}` };
}

function notLeader(leaderAddress: string): Error {
  return new GrpcError("NOT_LEADER", "not the leader", {
    details: { leaderId: "leader", leaderAddress },
  });
}

describe("ClusterClient", () => {
  it("follows NOT_LEADER to the leader's address, for writes too", async () => {
    const applied: string[] = [];
    const leader = await clusterServer({
      applyTopology: (request) => {
        applied.push(request.topologyJson);
        return { version: 7n };
      },
    });
    const follower = await clusterServer({
      applyTopology: () => {
        throw notLeader(leader.address);
      },
    });
    const cluster = createClusterClient({ addresses: [follower.address] });
    cleanups.push(() => cluster.close());
    const response = await cluster.applyTopology({ topologyJson: "{}" });
    expect(response.version).toBe(7n);
    expect(applied).toEqual(["{}"]);
  });

  it("rotates to the next server on UNAVAILABLE for idempotent calls only", async () => {
    const live = await clusterServer({
      getTopology: () => ({ topologyJson: "{}", version: 1n }),
      applyTopology: () => ({ version: 2n }),
    });
    const dead = await clusterServer({});
    const deadAddress = dead.address;
    await dead.server.shutdown(100);
    const options = {
      addresses: [deadAddress, live.address],
      random: () => 0.5,
      deadlineMs: 60_000,
    };
    const reads = createClusterClient(options);
    cleanups.push(() => reads.close());
    expect((await reads.getTopology({})).version).toBe(1n);

    const writes = createClusterClient(options);
    cleanups.push(() => writes.close());
    await expect(writes.applyTopology({ topologyJson: "{}" })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
  });

  it("does not retry LeaseBlock without a requestId, retries it with one", async () => {
    const live = await clusterServer({
      leaseBlock: (request) => ({ block: { cidr: "10.0.0.0/26", nodeId: request.nodeId } }),
    });
    const dead = await clusterServer({});
    await dead.server.shutdown(100);
    const cluster = createClusterClient({
      addresses: [dead.address, live.address],
      random: () => 0,
    });
    cleanups.push(() => cluster.close());
    await expect(cluster.leaseBlock({ nodeId: "n1", purpose: "default" })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    const fresh = createClusterClient({ addresses: [dead.address, live.address], random: () => 0 });
    cleanups.push(() => fresh.close());
    const leased = await fresh.leaseBlock({ nodeId: "n1", purpose: "default", requestId: "r1" });
    expect(leased.block?.cidr).toBe("10.0.0.0/26");
  });
});

describe("TCP listeners", () => {
  it("refuse a non-loopback address without TLS unless insecure is set", async () => {
    const services = [createIpamService(createInMemoryIpam().handlers)];
    await expect(
      startGrpcServer({ tcp: { host: "0.0.0.0", port: 0 }, services }),
    ).rejects.toMatchObject({ code: "INSECURE_LISTENER" });
    const server = await startGrpcServer({
      tcp: { host: "0.0.0.0", port: 0, insecure: true },
      services,
    });
    cleanups.push(() => server.shutdown(100));
    expect(server.tcpPort).toBeGreaterThan(0);
  });

  describe("with TLS", () => {
    const dir = tempFolder("ipg-tls-");
    let certs: TestCerts;
    beforeAll(() => {
      certs = makeTestCerts(dir.path);
    });
    afterAll(() => dir.cleanup());

    it("serves TLS clients that trust the CA and refuses ones that do not", async () => {
      const tls = await readTlsFiles({
        certFile: join(dir.path, "server.crt"),
        keyFile: join(dir.path, "server.key"),
      });
      expect(Buffer.from(tls.cert)).toEqual(certs.serverCert);
      const server = await startGrpcServer({
        tcp: { host: "127.0.0.1", port: 0, tls },
        services: [createIpamService(createInMemoryIpam().handlers)],
      });
      cleanups.push(() => server.shutdown(100));
      const good = createIpamClient({
        addresses: [`localhost:${server.tcpPort}`],
        tls: { ca: certs.ca },
      });
      cleanups.push(() => good.close());
      expect((await good.status({})).nodeId).toBe("node-1");
      const bad = createIpamClient({
        addresses: [`localhost:${server.tcpPort}`],
        tls: { ca: certs.otherCa },
        deadlineMs: 60_000,
        maxAttempts: 1,
      });
      cleanups.push(() => bad.close());
      await expect(bad.status({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
    });

    it("with requireClientCert, serves only clients with a certificate from the CA", async () => {
      const server = await startGrpcServer({
        tcp: {
          host: "127.0.0.1",
          port: 0,
          tls: {
            cert: certs.serverCert,
            key: certs.serverKey,
            ca: certs.ca,
            requireClientCert: true,
          },
        },
        services: [createIpamService(createInMemoryIpam().handlers)],
      });
      cleanups.push(() => server.shutdown(100));
      const mutual = createIpamClient({
        addresses: [`localhost:${server.tcpPort}`],
        tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
      });
      cleanups.push(() => mutual.close());
      expect((await mutual.status({})).nodeId).toBe("node-1");
      const anonymous = createIpamClient({
        addresses: [`localhost:${server.tcpPort}`],
        tls: { ca: certs.ca },
        deadlineMs: 60_000,
        maxAttempts: 1,
      });
      cleanups.push(() => anonymous.close());
      await expect(anonymous.status({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
    });
  });
});
