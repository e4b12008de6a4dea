import {
  createClusterClient,
  createClusterService,
  createIpamClient,
  GrpcError,
  type GrpcServer,
  MemberRole,
  RaftRole,
  startGrpcServer,
} from "@ipam/grpc-server";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { runIpamctl } from "./run.js";

// `--timeout` is the deadline of each call, retries included: during an election (servers answer
// UNAVAILABLE "no leader known") ipamctl keeps retrying until that deadline, not only the gRPC
// client's default five attempts (about 1.5 s of backoff, shorter than an election on a busy
// machine). A real gRPC server on loopback plays the electing cluster.

const servers: GrpcServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown(100);
});

function capture() {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    stdoutIsTTY: false,
  };
  return { io, out: () => stdout, err: () => stderr };
}

/** A Cluster server whose GetStatus answers "no leader known" `refusals` times, then a leader. */
async function electingServer(refusals: number): Promise<{ address: string; calls: () => number }> {
  let calls = 0;
  let address = "";
  const server = await startGrpcServer({
    tcp: { host: "127.0.0.1", port: 0 },
    services: [
      createClusterService({
        getStatus: () => {
          calls++;
          if (calls <= refusals) {
            throw new GrpcError("UNAVAILABLE", "GetStatus: no leader known (election in progress)");
          }
          return {
            id: "s1",
            role: RaftRole.LEADER,
            leaderId: "s1",
            leaderAddress: address,
            clusterStore: "raft",
            members: [{ id: "s1", address, role: MemberRole.VOTER }],
          };
        },
      }),
    ],
  });
  servers.push(server);
  address = `127.0.0.1:${server.tcpPort}`;
  return { address, calls: () => calls };
}

describe("ipamctl during an election", () => {
  it("retries a cluster that has no leader yet until it answers, within --timeout", async () => {
    // Eight refusals: more than the client's default five attempts.
    const electing = await electingServer(8);
    const c = capture();
    const code = await runIpamctl(
      ["members", "--json", "--server", electing.address, "--timeout", "120"],
      c.io,
      { createClusterClient, createIpamClient },
    );
    expect(code, c.err()).toBe(EXIT.OK);
    expect(JSON.parse(c.out())).toMatchObject({ leader: "s1", members: [{ id: "s1" }] });
    expect(electing.calls()).toBe(9);
  });

  it("still gives up at --timeout, naming the server, when no leader comes", async () => {
    const electing = await electingServer(Number.POSITIVE_INFINITY);
    const c = capture();
    const code = await runIpamctl(
      ["members", "--server", electing.address, "--timeout", "2"],
      c.io,
      { createClusterClient, createIpamClient },
    );
    expect(code).toBe(EXIT.UNREACHABLE);
    expect(c.err()).toContain(electing.address);
  });
});
