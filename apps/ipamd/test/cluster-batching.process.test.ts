import { type ClusterClient, createClusterClient, Family } from "@ipam/grpc-server";
import { afterAll, describe, expect, it } from "vitest";
import { killAll, RETRY_ATTEMPTS, tempDir } from "./helpers/processes.js";
import {
  closeClients,
  keepClient,
  type Server,
  startServer,
  TOR,
  waitForGroup,
} from "./helpers/servers.js";

// Real `ipamd --role server` processes: concurrent writes of many clients share Raft entries
// (apps/ipamd/src/cluster/proposal-batcher.ts). Each write must still be applied exactly once
// and answered with its own result, including a failing one among good ones, on every replica.

afterAll(async () => {
  closeClients();
  await killAll();
});

describe("ipamd --role server: concurrent writes sharing Raft entries", () => {
  it("applies each of many concurrent writes exactly once and answers each with its own result", async () => {
    const root = tempDir("ipamd-batching");
    const servers: Server[] = [await startServer("s1", ["--bootstrap"], root)];
    const seed = servers[0]?.address ?? "";
    servers.push(await startServer("s2", ["--join", seed], root));
    servers.push(await startServer("s3", ["--join", seed], root));
    const group = await waitForGroup(servers, ["s1", "s2", "s3"]);
    const leader = servers.find((s) => s.id === group[0]?.leaderId) as Server;
    const nodes = ["bn-0", "bn-1", "bn-2", "bn-3"];
    for (const nodeId of nodes) await leader.client.registerNode({ nodeId, torId: TOR });

    // Several connections (clients) to the leader and to the followers (which forward).
    const clients: ClusterClient[] = Array.from({ length: 6 }, (_, i) =>
      keepClient(
        createClusterClient({
          addresses: [servers[i % servers.length]?.address ?? ""],
          deadlineMs: 60_000,
          maxAttempts: RETRY_ATTEMPTS,
        }),
      ),
    );
    const before = (await leader.client.getStatus({})).appliedIndex;
    const calls = 48;
    const direct = Array.from({ length: calls }, (_, i) => {
      const c = clients[i % clients.length] as ClusterClient;
      const nodeId = nodes[i % nodes.length] as string;
      // Call 17 names a node that does not exist: it fails alone, the others succeed.
      return c.allocateDirect({
        items: [
          {
            network: "batching",
            containerId: `c-${i}`,
            nodeId: i === 17 ? "no-such-node" : nodeId,
            purpose: "management",
            family: Family.IPV6,
          },
        ],
      });
    });
    const leases = Array.from({ length: 16 }, (_, i) =>
      (clients[i % clients.length] as ClusterClient).leaseBlock({
        nodeId: nodes[i % nodes.length] as string,
        purpose: "default",
        family: Family.IPV4,
        requestId: `lease-${i}`,
      }),
    );
    const answers = await Promise.all(direct);
    const leased = await Promise.all(leases);
    const after = (await leader.client.getStatus({})).appliedIndex;

    // Each call got its own answer: call i's address for its own key, call 17 its own error.
    const told = new Map<string, string>();
    for (const [i, a] of answers.entries()) {
      expect(a.results).toHaveLength(1);
      const r = a.results[0]?.result;
      if (i === 17) {
        expect(r?.case).toBe("error");
        continue;
      }
      expect(r?.case).toBe("address");
      if (r?.case === "address") told.set(`c-${i}`, r.value.address);
    }
    expect(new Set(told.values()).size).toBe(calls - 1);
    const blocks = leased.map((l) => l.block?.cidr ?? "");
    expect(new Set(blocks).size).toBe(16);

    // The writes shared entries: fewer log entries than calls.
    expect(Number(after - before)).toBeLessThan(calls + leases.length);

    // Applied exactly once, as told, on every replica (linearizable reads, each replica at
    // least as far as the leader was after the writes).
    for (const s of servers) {
      const held = new Map<string, string>();
      const leasedHere: string[] = [];
      for (const nodeId of nodes) {
        const r = await s.client.getNodeLeases({ nodeId }, { deadlineMs: 30_000 });
        expect(r.raftIndex >= after).toBe(true);
        for (const d of r.direct) {
          if (d.key?.network !== "batching") continue;
          expect(held.has(d.key.containerId)).toBe(false);
          held.set(d.key.containerId, d.address?.address ?? "");
        }
        leasedHere.push(...r.blocks.map((b) => b.cidr));
      }
      expect(held).toEqual(told);
      expect(leasedHere.sort()).toEqual([...blocks].sort());
    }
  });
});
