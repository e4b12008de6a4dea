import {
  createServer as createHttp2Server,
  type Http2Server,
  type ServerHttp2Stream,
} from "node:http2";
import { join } from "node:path";
import { decodeGrpcMessage, GrpcError, grpcTimeout } from "@ipam/grpc-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  createIpamServer,
  createLeanIpamClient,
  FamilySelection,
  type GrpcServer,
  type LeanIpamClient,
} from "../src/index.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { tempFolder, waitFor } from "./support/temp.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(
  handlers = createInMemoryIpam().handlers,
): Promise<{ socket: string; server: GrpcServer }> {
  const dir = tempFolder();
  cleanups.push(dir.cleanup);
  const socket = join(dir.path, "ipamd.sock");
  const server = await createIpamServer({ unixSocket: { path: socket }, handlers });
  cleanups.push(() => server.shutdown(100));
  return { socket, server };
}

/** Starts `server` on a loopback port (closed at cleanup); a lean client to it. */
async function leanClientOn(server: Http2Server, deadlineMs = 60_000): Promise<LeanIpamClient> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const lean = createLeanIpamClient({ address: `127.0.0.1:${port}`, deadlineMs });
  cleanups.push(() => lean.close());
  return lean;
}

describe("createLeanIpamClient against the grpc-js server", () => {
  it("allocates, checks and releases over the unix socket", async () => {
    const { socket } = await serve();
    const lean = createLeanIpamClient({ socketPath: socket });
    cleanups.push(() => lean.close());
    const allocated = await lean.allocate({
      network: "pods",
      containerId: "c1",
      ifname: "eth0",
      families: FamilySelection.DUAL_STACK,
    });
    expect(allocated.addresses.map((a) => `${a.address}/${a.prefixLength}`)).toEqual([
      "10.99.0.2/24",
      "fd99::2/120",
    ]);
    const check = await lean.check({
      network: "pods",
      containerId: "c1",
      ifname: "eth0",
      addresses: ["10.99.0.2", "fd99::2"],
    });
    expect(check.ok).toBe(true);
    const released = await lean.release({ network: "pods", containerId: "c1", ifname: "eth0" });
    expect(released.addresses).toEqual(["10.99.0.2", "fd99::2"]);
  });

  it("reports the server's ipamd code, details and a percent-decoded message", async () => {
    const { socket } = await serve({
      ...createInMemoryIpam().handlers,
      allocate: () => {
        throw new GrpcError("POOL_EXHAUSTED", "pool «storage» exhausted: 100% used", {
          details: { subnetId: "s1" },
        });
      },
    });
    const lean = createLeanIpamClient({ socketPath: socket });
    cleanups.push(() => lean.close());
    await expect(
      lean.allocate({ network: "n", containerId: "c", ifname: "eth0" }),
    ).rejects.toMatchObject({
      name: "GrpcError",
      code: "POOL_EXHAUSTED",
      grpcStatus: 8,
      message: "pool «storage» exhausted: 100% used",
      details: { subnetId: "s1" },
    });
  });

  it("fails with UNAVAILABLE when nothing listens on the socket", async () => {
    const dir = tempFolder();
    cleanups.push(dir.cleanup);
    const lean = createLeanIpamClient({
      socketPath: join(dir.path, "absent.sock"),
      deadlineMs: 60_000,
    });
    cleanups.push(() => lean.close());
    await expect(lean.status({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("sends grpc-timeout and fails with TIMEOUT at its own deadline", async () => {
    // A bare HTTP/2 server that records the request's headers and never answers: only the
    // client's own deadline can end the call.
    const seen: string[] = [];
    const server = createHttp2Server();
    server.on("stream", (stream: ServerHttp2Stream, headers) => {
      stream.on("error", () => undefined);
      seen.push(String(headers["grpc-timeout"]));
    });
    const lean = await leanClientOn(server, 300);
    await expect(lean.status({})).rejects.toMatchObject({ code: "TIMEOUT" });
    await waitFor(() => seen.length > 0);
    expect(seen).toEqual(["300m"]);
  });

  it("reads the status of a trailers-only response", async () => {
    // A bare HTTP/2 server answering like a gRPC server that fails before any message.
    const server = createHttp2Server();
    server.on("stream", (stream: ServerHttp2Stream) => {
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": "5",
          "grpc-message": "key%20not%20found",
          "ipam-error-code": "NOT_FOUND",
        },
        { endStream: true },
      );
    });
    const lean = await leanClientOn(server);
    await expect(lean.status({})).rejects.toMatchObject({
      code: "NOT_FOUND",
      grpcStatus: 5,
      message: "key not found",
    });
  });
});

describe("createLeanIpamClient transport failures", () => {
  it("maps a stream reset to the gRPC code gRPC clients use for it", async () => {
    const server = createHttp2Server();
    server.on("stream", (stream: ServerHttp2Stream, headers) => {
      stream.on("error", () => undefined);
      // 0xb ENHANCE_YOUR_CALM for Status, 0x2 INTERNAL_ERROR for anything else.
      stream.close(headers[":path"] === "/ipam.v1.Ipam/Status" ? 0xb : 0x2);
    });
    const lean = await leanClientOn(server);
    await expect(lean.status({})).rejects.toMatchObject({
      code: "RESOURCE_EXHAUSTED",
      grpcStatus: 8,
    });
    await expect(
      lean.release({ network: "n", containerId: "c", ifname: "eth0" }),
    ).rejects.toMatchObject({ code: "INTERNAL", grpcStatus: 13 });
  });
});

describe("wire helpers", () => {
  it("encodes grpc-timeout with at most 8 digits", () => {
    expect(grpcTimeout(150)).toBe("150m");
    expect(grpcTimeout(99_999_999)).toBe("99999999m");
    expect(grpcTimeout(100_000_000)).toBe("100000S");
  });
  it("percent-decodes grpc-message and keeps malformed text", () => {
    expect(decodeGrpcMessage("a%20b%C3%A9")).toBe("a bé");
    expect(decodeGrpcMessage("100%")).toBe("100%");
  });
});
