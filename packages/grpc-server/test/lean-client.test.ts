import { execFileSync } from "node:child_process";
import {
  createServer as createHttp2Server,
  type Http2Server,
  type ServerHttp2Stream,
} from "node:http2";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  createIpamServer,
  createLeanIpamClient,
  FamilySelection,
  type GrpcServer,
  type LeanIpamClient,
} from "../src/index.js";
import { decodeGrpcMessage, grpcTimeout } from "../src/lean-client.js";
import { createInMemoryIpam } from "../src/testing/in-memory-ipam.js";
import { tempFolder } from "./support/temp.js";

const packageRoot = join(import.meta.dirname, "..");
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
async function leanClientOn(server: Http2Server): Promise<LeanIpamClient> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const lean = createLeanIpamClient({ address: `127.0.0.1:${port}` });
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
        throw Object.assign(new Error("pool «storage» exhausted: 100% used"), {
          code: "POOL_EXHAUSTED",
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
      deadlineMs: 2000,
    });
    cleanups.push(() => lean.close());
    await expect(lean.status({})).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("sends grpc-timeout and fails with TIMEOUT at its own deadline", async () => {
    let sawTimeout: unknown;
    const { socket } = await serve({
      ...createInMemoryIpam().handlers,
      status: (_request, context) => {
        sawTimeout = context.deadline;
        return new Promise(() => undefined);
      },
    });
    // Long enough for the request to reach the handler on a loaded machine.
    const lean = createLeanIpamClient({ socketPath: socket, deadlineMs: 1000 });
    cleanups.push(() => lean.close());
    await expect(lean.status({})).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(typeof sawTimeout).toBe("number");
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

function modulesLoadedBy(entry: string): string[] {
  const program = `
    await import(${JSON.stringify(join(packageRoot, "src", entry))});
    console.log(JSON.stringify(await globalThis.loadedModules()));
  `;
  const output = execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--import",
      join(packageRoot, "test", "support", "record-imports.mjs"),
      "--input-type=module",
      "-e",
      program,
    ],
    { cwd: packageRoot, encoding: "utf8" },
  );
  return JSON.parse(output.trim().split("\n").at(-1) ?? "[]") as string[];
}

describe("the lean entry's module graph", () => {
  it("does not load @grpc/grpc-js nor the Cluster/Raft generated code", () => {
    const urls = modulesLoadedBy("lean.ts");
    // The recorder works: it saw the lean entry and the Ipam codecs.
    expect(urls.some((url) => url.endsWith("/src/lean.ts"))).toBe(true);
    expect(urls.some((url) => url.endsWith("/gen/ipam/v1/ipam_pb.ts"))).toBe(true);
    expect(urls.filter((url) => url.includes("@grpc"))).toEqual([]);
    expect(urls.filter((url) => /cluster_pb|raft_pb|status_pb/.test(url))).toEqual([]);
  });

  it("(control) the full entry does load @grpc/grpc-js, so the check above can fail", () => {
    const urls = modulesLoadedBy("index.ts");
    expect(urls.some((url) => url.includes("@grpc/grpc-js"))).toBe(true);
  });
});
