import { constants } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import {
  createIpamClient,
  createIpamService,
  DEFAULT_SERVER_LIMITS,
  GRPC_STATUS,
  type GrpcServer,
  type GrpcServerOptions,
  type RefusalReason,
  type ServerLimits,
  StatusRequestSchema,
  startGrpcServer,
} from "../src/index.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { grpcFrame, grpcHeaders, rawCall, rawSession } from "./support/raw-h2.js";
import { tempFolder } from "./support/temp.js";

// What a peer on the socket can do to a server, and what the server does back: every case here
// runs against a real server on a real unix socket or TCP port, with small limits so the clocks
// run out quickly.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Served {
  readonly server: GrpcServer;
  readonly socket: string;
  readonly refusals: Array<[RefusalReason, string]>;
}

async function serve(
  limits: Partial<ServerLimits> = {},
  extra: Partial<GrpcServerOptions> = {},
  handlers = createInMemoryIpam().handlers,
): Promise<Served> {
  const dir = tempFolder();
  cleanups.push(dir.cleanup);
  const socket = join(dir.path, "ipamd.sock");
  const refusals: Array<[RefusalReason, string]> = [];
  const server = await startGrpcServer({
    unixSocket: { path: socket },
    tcp: { host: "127.0.0.1", port: 0 },
    services: [createIpamService(handlers)],
    limits,
    onRefused: (reason, method) => refusals.push([reason, method]),
    ...extra,
  });
  cleanups.push(() => server.shutdown(100));
  return { server, socket, refusals };
}

function session(target: { socket: string } | { port: number }) {
  const s = rawSession(target);
  cleanups.push(() => {
    s.destroy();
  });
  return s;
}

/** The server still answers a real client over the unix socket. */
async function stillServes(socket: string): Promise<void> {
  const client = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 5000 });
  try {
    const r = await client.allocate({ network: "n", containerId: "alive", ifname: "eth0" });
    expect(r.addresses.length).toBeGreaterThan(0);
  } finally {
    client.close();
  }
}

const statusRequest = toBinary(StatusRequestSchema, create(StatusRequestSchema, {}));

describe("compressed messages", () => {
  it.each([
    ["gzip", "unix"],
    ["deflate", "unix"],
    ["gzip", "tcp"],
    ["deflate", "tcp"],
  ] as const)(
    "a %s-flagged message that is not compressed data is refused on %s, the process keeps serving",
    async (encoding, listener) => {
      const { server, socket, refusals } = await serve();
      const target = listener === "unix" ? { socket } : { port: server.tcpPort ?? 0 };
      const garbage = grpcFrame(Buffer.from("definitely not gzip"), true);
      const { done } = rawCall(
        session(target),
        grpcHeaders("/ipam.v1.Ipam/Status", { "grpc-encoding": encoding }),
        garbage,
      );
      const outcome = await done;
      expect(outcome.status).toBe(GRPC_STATUS.UNIMPLEMENTED);
      expect(outcome.message).toContain("uncompressed messages only");
      expect(outcome.headers["grpc-accept-encoding"]).toBe("identity");
      expect(refusals).toContainEqual(["compressed_request", "ipam.v1.Ipam/Status"]);
      await stillServes(socket);
    },
  );

  it("refuses real gzip too: the server never asked for compression", async () => {
    const { socket } = await serve();
    const { done } = rawCall(
      session({ socket }),
      grpcHeaders("/ipam.v1.Ipam/Status", { "grpc-encoding": "gzip" }),
      grpcFrame(gzipSync(statusRequest), true),
    );
    expect((await done).status).toBe(GRPC_STATUS.UNIMPLEMENTED);
  });

  it("still takes uncompressed messages that declare grpc-encoding: identity", async () => {
    const { socket } = await serve();
    const { done } = rawCall(
      session({ socket }),
      grpcHeaders("/ipam.v1.Ipam/Status", { "grpc-encoding": "identity" }),
      grpcFrame(statusRequest),
    );
    const outcome = await done;
    expect(outcome.status).toBe(GRPC_STATUS.OK);
    expect(outcome.bodyBytes).toBeGreaterThan(5);
  });
});

describe("requests that never complete", () => {
  it("are answered DEADLINE_EXCEEDED after requestTimeoutMs and their streams reset", async () => {
    const { socket, refusals } = await serve({ requestTimeoutMs: 300 });
    const s = session({ socket });
    // Half a frame and no END_STREAM, and headers only with no END_STREAM.
    const calls = [
      rawCall(s, grpcHeaders("/ipam.v1.Ipam/Status"), grpcFrame(statusRequest, false, 100), false),
      rawCall(s, grpcHeaders("/ipam.v1.Ipam/Allocate"), undefined, false),
    ];
    const outcomes = await Promise.all(calls.map((c) => c.done));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe(GRPC_STATUS.DEADLINE_EXCEEDED);
      expect(outcome.message).toContain("limits.requestTimeoutMs");
    }
    expect(refusals.filter(([r]) => r === "incomplete_request")).toHaveLength(2);
    await stillServes(socket);
  });

  it("that carry grpc-timeout are answered by grpc-js and still reset after requestTimeoutMs", async () => {
    const { socket } = await serve({ requestTimeoutMs: 300 });
    const { done, stream } = rawCall(
      session({ socket }),
      grpcHeaders("/ipam.v1.Ipam/Status", { "grpc-timeout": "100m" }),
      undefined,
      false,
    );
    const outcome = await done;
    expect(outcome.status).toBe(GRPC_STATUS.DEADLINE_EXCEEDED);
    expect(stream.closed).toBe(true);
  });

  it("free their place: maxOpenStreams refuses more, then admits again once they expire", async () => {
    const { socket, refusals } = await serve({ requestTimeoutMs: 400, maxOpenStreams: 4 });
    const s = session({ socket });
    const held = Array.from({ length: 4 }, () =>
      rawCall(s, grpcHeaders("/ipam.v1.Ipam/Status"), undefined, false),
    );
    // Their HEADERS go out first on this connection, so the server opens them first.
    const fifth = rawCall(s, grpcHeaders("/ipam.v1.Ipam/Status"), grpcFrame(statusRequest));
    const refused = await fifth.done;
    expect(refused.status).toBe(GRPC_STATUS.RESOURCE_EXHAUSTED);
    expect(refused.message).toContain("limits.maxOpenStreams");
    await Promise.all(held.map((c) => c.done));
    const after = rawCall(s, grpcHeaders("/ipam.v1.Ipam/Status"), grpcFrame(statusRequest));
    expect((await after.done).status).toBe(GRPC_STATUS.OK);
    expect(refusals.map(([r]) => r)).toContain("too_many_streams");
  });
});

describe("streams and connections", () => {
  it("keeps long-lived streams to maxStreamingCalls, so unary calls always find room", async () => {
    const { socket, refusals } = await serve({ maxStreamingCalls: 2, maxOpenStreams: 3 });
    const s = session({ socket });
    const watch = () =>
      rawCall(s, grpcHeaders("/grpc.health.v1.Health/Watch"), grpcFrame(new Uint8Array(0)));
    const held = [watch(), watch()];
    const third = await watch().done;
    expect(third.status).toBe(GRPC_STATUS.RESOURCE_EXHAUSTED);
    expect(third.message).toContain("limits.maxStreamingCalls");
    const unary = rawCall(s, grpcHeaders("/ipam.v1.Ipam/Status"), grpcFrame(statusRequest));
    expect((await unary.done).status).toBe(GRPC_STATUS.OK);
    expect(refusals.map(([r]) => r)).toContain("too_many_streams");
    for (const c of held) c.stream.close(constants.NGHTTP2_CANCEL);
  });

  it("resets a stream that carries nothing for streamIdleMs (a quiet health Watch)", async () => {
    const { socket, refusals } = await serve({ streamIdleMs: 400 });
    // grpc.health.v1.HealthCheckRequest{service: ""} is the empty message.
    const { done } = rawCall(
      session({ socket }),
      grpcHeaders("/grpc.health.v1.Health/Watch"),
      grpcFrame(new Uint8Array(0)),
    );
    const outcome = await done;
    // The first status message went out; then nothing for 400 ms: the stream is cut.
    expect(outcome.bodyBytes).toBeGreaterThan(0);
    expect(outcome.rstCode).toBe(constants.NGHTTP2_CANCEL);
    expect(refusals).toContainEqual(["idle_stream", "grpc.health.v1.Health/Watch"]);
  });

  it("closes a connection that sends no HTTP/2 preface within handshakeTimeoutMs", async () => {
    const { server, socket, refusals } = await serve({ handshakeTimeoutMs: 300 });
    for (const target of [socket, server.tcpPort ?? 0]) {
      const raw: Socket =
        typeof target === "string" ? netConnect(target) : netConnect(target, "127.0.0.1");
      cleanups.push(() => {
        raw.destroy();
      });
      raw.on("error", () => {});
      raw.resume(); // read what the server sends, so that its close is seen
      raw.write("PRI * HTTP/2.0\r\n"); // the start of the preface, then silence
      await new Promise<void>((resolve) => raw.once("close", () => resolve()));
    }
    expect(refusals.filter(([r]) => r === "no_preface")).toHaveLength(2);
    await stillServes(socket);
  });

  it("holds at most maxConnections per listener and refuses the next one as it is accepted", async () => {
    const { socket, refusals } = await serve({ maxConnections: 2 });
    const kept = [session({ socket }), session({ socket })];
    await Promise.all(
      kept.map((s) => new Promise<void>((resolve) => s.once("remoteSettings", () => resolve()))),
    );
    const extra = netConnect(socket);
    extra.on("error", () => {});
    extra.resume();
    cleanups.push(() => {
      extra.destroy();
    });
    await new Promise<void>((resolve) => extra.once("close", () => resolve()));
    expect(refusals.map(([r]) => r)).toContain("too_many_connections");
  });

  it("resets a stream whose header block exceeds maxHeaderListBytes, and serves the next", async () => {
    const { socket } = await serve({ maxHeaderListBytes: 4096 });
    const s = session({ socket });
    await new Promise<void>((resolve) => s.once("remoteSettings", () => resolve()));
    await new Promise((resolve) => setImmediate(resolve)); // let our ACK of its SETTINGS go out
    const big = rawCall(
      s,
      grpcHeaders("/ipam.v1.Ipam/Status", { "x-big": "a".repeat(8000) }),
      grpcFrame(statusRequest),
    );
    const outcome = await big.done;
    expect(outcome.status).toBeUndefined();
    expect(outcome.rstCode).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    const small = rawCall(s, grpcHeaders("/ipam.v1.Ipam/Status"), grpcFrame(statusRequest));
    expect((await small.done).status).toBe(GRPC_STATUS.OK);
  });
});

describe("deadlines", () => {
  it("answers a call without grpc-timeout DEADLINE_EXCEEDED at defaultDeadlineMs and aborts its handler", async () => {
    let aborted: unknown;
    const handlers = {
      ...createInMemoryIpam().handlers,
      status: (_request: unknown, context: { signal: AbortSignal }) =>
        new Promise<never>(() => {
          context.signal.addEventListener("abort", () => {
            aborted = context.signal.reason;
          });
        }),
    };
    const { socket } = await serve({ defaultDeadlineMs: 300 }, {}, handlers);
    const { done } = rawCall(
      session({ socket }),
      grpcHeaders("/ipam.v1.Ipam/Status"),
      grpcFrame(statusRequest),
    );
    const outcome = await done;
    expect(outcome.status).toBe(GRPC_STATUS.DEADLINE_EXCEEDED);
    expect(outcome.message).toContain("default deadline of 300 ms");
    expect(aborted).toMatchObject({ code: "TIMEOUT" });
  });
});

describe("field limits at the edge", () => {
  it("answers INVALID_ARGUMENT naming the field and the limit, and the handler never runs", async () => {
    let calls = 0;
    const inner = createInMemoryIpam().handlers;
    const handlers = {
      ...inner,
      allocate: (...args: Parameters<typeof inner.allocate>) => {
        calls++;
        return inner.allocate(...args);
      },
    };
    const { socket } = await serve({}, {}, handlers);
    // Megabyte requests on a busy machine: a generous deadline.
    const client = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 30_000 });
    cleanups.push(() => client.close());
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ containerId: "c".repeat(1 << 16) }, "container_id", "at most 255 characters"],
      [{ network: "n".repeat(256) }, "network", "at most 255 characters"],
      [{ ifname: "i".repeat(16) }, "ifname", "at most 15 bytes"],
      [{ ifname: "eth/0" }, "ifname", "no '/'"],
      [{ podName: "Web_0" }, "pod_name", "RFC 1123"],
      [{ podNamespace: "a".repeat(64) }, "pod_namespace", "at most 63"],
      [
        { requestedAddresses: Array.from({ length: 17 }, () => "10.99.0.9") },
        "requested_addresses",
        "at most 16 items",
      ],
      [{ families: 7 }, "families", "FAMILY_SELECTION_DUAL_STACK"],
    ];
    for (const [fields, field, limit] of cases) {
      const request = { network: "n", containerId: "c1", ifname: "eth0", ...fields };
      const error = await client.allocate(request as never).catch((e: unknown) => e);
      expect(error, field).toMatchObject({ code: "INVALID_ARGUMENT" });
      expect((error as Error).message, field).toMatch(new RegExp(`^${field}: `));
      expect((error as Error).message, field).toContain(limit);
      expect((error as { details?: unknown }).details, field).toMatchObject({ field });
    }
    expect(calls).toBe(0);
    const ok = await client.allocate({ network: "n", containerId: "c1", ifname: "eth0" });
    expect(ok.addresses.length).toBeGreaterThan(0);
    expect(calls).toBe(1);
  });
});

describe("limits", () => {
  it("refuses a limit that is not a positive integer, naming it", async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      await expect(serve({ requestTimeoutMs: bad })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringContaining("limits.requestTimeoutMs"),
      });
    }
    expect(DEFAULT_SERVER_LIMITS.requestTimeoutMs).toBeGreaterThan(0);
  });
});
