import {
  createClusterClient,
  createClusterService,
  GrpcError,
  type GrpcServer,
  MemberRole,
  RaftRole,
  startGrpcServer,
} from "@ipam/grpc-server";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runClusterCommand } from "../src/cluster-commands.js";

// `ipamd cluster …` during an election: a cluster with no leader yet answers UNAVAILABLE
// ("no leader known"); the command keeps retrying until its deadline (15 s), not only the gRPC
// client's default five attempts (about 1.5 s). A real gRPC server on loopback plays the cluster.

const servers: GrpcServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of servers.splice(0)) await s.shutdown(100);
});

describe("ipamd cluster during an election", () => {
  it("retries a cluster that has no leader yet until it answers", async () => {
    let calls = 0;
    let address = "";
    const server = await startGrpcServer({
      tcp: { host: "127.0.0.1", port: 0 },
      services: [
        createClusterService({
          getStatus: () => {
            calls++;
            // Eight refusals: more than the client's default five attempts.
            if (calls <= 8) {
              throw new GrpcError(
                "UNAVAILABLE",
                "GetStatus: no leader known (election in progress)",
              );
            }
            return {
              id: "s1",
              role: RaftRole.LEADER,
              leaderId: "s1",
              leaderAddress: address,
              members: [{ id: "s1", address, role: MemberRole.VOTER }],
            };
          },
        }),
      ],
    });
    servers.push(server);
    address = `127.0.0.1:${server.tcpPort}`;
    let stdout = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const code = await runClusterCommand(["members", "--server", address], createClusterClient);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ leader: "s1", members: [{ id: "s1" }] });
    expect(calls).toBe(9);
  });
});
