import { statSync } from "node:fs";
import { join } from "node:path";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { type ClusterClient, createClusterClient, createIpamClient } from "@ipam/grpc-server";
import { exampleTopology } from "@ipam/topology";
import { afterAll, describe, expect, it } from "vitest";
import { issueCert, makeCerts } from "./helpers/certs.js";
import {
  freePort,
  killAll,
  logsOf,
  runIpamdCommand,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// Under mutual TLS the client certificate says who calls: a server, a node or an operator
// (issue 16 item 7). Each RPC is authorised from it, and a refusal names the identity and what
// it may do. Certificates made with openssl here.

afterAll(() => killAll());

const TOR = [...exampleTopology().tors.keys()][0] ?? "";
const clients: ClusterClient[] = [];
afterAll(() => {
  for (const c of clients) c.close();
});

describe("ipamd --role server with mutual TLS: server, node and operator identities", () => {
  it("reserves membership, topology and force RPCs and lets a node act only for itself", async () => {
    const dir = tempDir("ipamd-identities");
    const ca = makeCerts(dir);
    const server = issueCert(dir, "s1", "/CN=s1", "IP:127.0.0.1,URI:spiffe://ipam.test/server/s1");
    const node = issueCert(dir, "n1", "/CN=n1", "URI:spiffe://ipam.test/node/n1");
    const operator = issueCert(dir, "alice", "/OU=operator/CN=alice", "DNS:alice.example");
    const nobody = issueCert(dir, "nobody", "/CN=nobody", "DNS:nobody.example");
    const address = `127.0.0.1:${await freePort()}`;
    const proc = spawnIpamd("s1", [
      ...["--role", "server", "--bootstrap", "--node-id", "s1", "--data-dir", join(dir, "s1")],
      ...["--grpc-addr", address, "--metrics-addr", "off", "--election-ms", "300"],
      ...["--tls-cert", server.certFile, "--tls-key", server.keyFile, "--tls-ca", ca.caFile],
    ]);
    const as = (cert: { cert: Buffer; key: Buffer }): ClusterClient => {
      const c = createClusterClient({
        addresses: [address],
        tls: { ca: ca.ca, cert: cert.cert, key: cert.key },
        deadlineMs: 5000,
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    };
    const asNode = as(node);
    const asOperator = as(operator);
    const asNobody = as(nobody);
    await waitFor(
      "a leader",
      async () => ((await asOperator.getStatus({})).leaderId === "s1" ? true : undefined),
      { timeoutMs: 60_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([proc])}`);
    });
    await waitFor("the topology", async () =>
      (await asNode.getTopology({})).version > 0n ? true : undefined,
    );

    // A node registers and leases for itself, and reads.
    await expect(asNode.registerNode({ nodeId: "n1", torId: TOR })).resolves.toBeDefined();
    await expect(asNode.getStatus({})).resolves.toMatchObject({ leaderId: "s1" });

    // ... but not for another node, and none of the operator's RPCs.
    const denied = { code: "PERMISSION_DENIED" };
    const other = asNode.registerNode({ nodeId: "n2", torId: TOR });
    await expect(other).rejects.toMatchObject(denied);
    await expect(other).rejects.toThrow(/node n1.*node_id n2/);
    const remove = asNode.removeMember({ id: "s1" });
    await expect(remove).rejects.toMatchObject(denied);
    await expect(remove).rejects.toThrow(/node n1/);
    await expect(remove).rejects.toThrow(/a node may register itself/);
    await expect(asNode.transferLeadership({ targetId: "s1" })).rejects.toMatchObject(denied);
    await expect(asNode.deregisterNode({ nodeId: "n1", force: true })).rejects.toMatchObject(
      denied,
    );
    await expect(asNode.applyTopology({ topologyJson: "{}", dryRun: true })).rejects.toMatchObject(
      denied,
    );
    await expect(asNode.removeSubnet({ subnetId: "x", force: true })).rejects.toMatchObject(denied);

    // A certificate that names no identity may not call anything but health and reflection.
    const anonymous = asNobody.getStatus({});
    await expect(anonymous).rejects.toMatchObject(denied);
    await expect(anonymous).rejects.toThrow(/CN=nobody.*no server, node or operator identity/);

    // The Raft peer service takes servers only (not even operators).
    const raftStatus = await new Promise<{ code: number; details: string }>((resolve) => {
      const raw = new Client(address, credentials.createSsl(ca.ca, operator.key, operator.cert));
      const call = raw.makeClientStreamRequest(
        "/ipam.raft.v1.Raft/InstallSnapshot",
        (b: Buffer) => b,
        (b: Buffer) => b,
        new Metadata(),
        {},
        () => undefined,
      );
      call.on("status", (s) => {
        raw.close();
        resolve({ code: s.code, details: s.details });
      });
      call.end();
    });
    expect(raftStatus.code).toBe(7);
    expect(raftStatus.details).toContain("operator alice");

    // A node releases only its own direct allocations (ReleaseDirect names no node: the owner is
    // looked up); one it does not hold is refused.
    const key = { network: "net", containerId: "c-other", ifname: "eth0" };
    const foreign = asNode.releaseDirect({ keys: [key] });
    await expect(foreign).rejects.toMatchObject(denied);
    await expect(foreign).rejects.toThrow(/node n1/);
    await expect(asOperator.releaseDirect({ keys: [key] })).resolves.toBeDefined();

    // The operator (identified by its OU) may deregister the node.
    await expect(asOperator.deregisterNode({ nodeId: "n1", force: true })).resolves.toBeDefined();
    expect(logsOf([proc], 200)).toContain("permission denied for node n1");

    // The operator's CLI over TLS to an IP address: no DEP0123 warning (no IP as TLS SNI).
    const cli = await runIpamdCommand([
      ...["cluster", "status", "--server", address, "--tls-ca", ca.caFile],
      ...["--tls-cert", operator.certFile, "--tls-key", operator.keyFile],
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).not.toContain("DEP0123");

    // A real agent with a node certificate registers, leases and allocates for itself over
    // mutual TLS, with no DEP0123 warning either.
    const agentCert = issueCert(dir, "n3", "/OU=node/CN=n3", "DNS:n3.example");
    const socket = join(dir, "n3.sock");
    const agent = spawnIpamd("n3", [
      ...["--role", "agent", "--node-id", "n3", "--data-dir", join(dir, "n3"), "--tor", TOR],
      ...["--servers", address, "--unix-socket", socket, "--metrics-addr", "off"],
      ...["--tls-ca", ca.caFile, "--tls-cert", agentCert.certFile, "--tls-key", agentCert.keyFile],
    ]);
    const local = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 5000 });
    const allocated = await waitFor(
      "an allocation through the agent",
      () => local.allocate({ network: "net", containerId: "pod-1", ifname: "eth0" }),
      { timeoutMs: 60_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([agent, proc])}`);
    });
    local.close();
    expect(allocated.addresses.length).toBeGreaterThan(0);
    expect(agent.log.join("\n")).not.toContain("DEP0123");

    // The server's files are its own: folder 0700, database, WAL, shared memory and the cluster
    // identity 0600 (issue 16 item 7).
    const dataDir = join(dir, "s1");
    const mode = (file: string) => (statSync(join(dataDir, file)).mode & 0o777).toString(8);
    expect((statSync(dataDir).mode & 0o777).toString(8)).toBe("700");
    for (const file of ["ipamd.db", "ipamd.db-wal", "ipamd.db-shm", "raft-cluster.json"]) {
      expect(mode(file), file).toBe("600");
    }
  }, 120_000);
});
