import { Agent, request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { connect as netConnect } from "node:net";
import { gunzipSync } from "node:zlib";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseExposition, sampleValue } from "../test/exposition.js";
import { createIpamMetrics } from "./ipam-metrics.js";
import { isMetricsError } from "./metrics-error.js";
import { type MetricsServer, type Readiness, startMetricsServer } from "./metrics-server.js";

interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

function call(
  server: MetricsServer,
  method: string,
  path: string,
  headers: OutgoingHttpHeaders = {},
  agent?: Agent,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port: server.port, method, path, headers, ...(agent ? { agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const open: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function start(
  readiness: () => Readiness | Promise<Readiness> = () => ({ ready: true }),
  extra: { readinessTimeoutMs?: number; registry?: Registry } = {},
) {
  const registry = extra.registry ?? new Registry();
  const metrics = extra.registry ? undefined : createIpamMetrics(registry);
  const logger = { warn: vi.fn(), error: vi.fn() };
  const server = await startMetricsServer({
    registry,
    host: "127.0.0.1",
    port: 0,
    readiness,
    logger,
    ...(extra.readinessTimeoutMs === undefined
      ? {}
      : { readinessTimeoutMs: extra.readinessTimeoutMs }),
  });
  open.push(server);
  return { server, registry, metrics, logger };
}

describe("startMetricsServer", () => {
  it("listens on the asked address and reports the port it got", async () => {
    const { server } = await start();
    expect(server.address).toBe("127.0.0.1");
    expect(server.port).toBeGreaterThan(0);
  });

  it("serves the exposition of the registry with its content type", async () => {
    const { server, registry, metrics } = await start();
    metrics?.observeGrpcRequest("/ipam.v1.Ipam/Allocate", 0, 0.002);
    const reply = await call(server, "GET", "/metrics");
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe(registry.contentType);
    expect(reply.headers["cache-control"]).toBe("no-store");
    const samples = parseExposition(reply.body.toString("utf8"));
    expect(
      sampleValue(samples, "ipamd_grpc_requests_total", { method: "ipam.v1.Ipam/Allocate" }),
    ).toBe(1);
  });

  it("reads scrape-time sources on each request", async () => {
    const { server, metrics } = await start();
    let reachable = false;
    metrics?.setAgentSource(() => ({ leaderReachable: reachable, quorumAvailable: true }));
    const first = parseExposition((await call(server, "GET", "/metrics")).body.toString());
    reachable = true;
    const second = parseExposition((await call(server, "GET", "/metrics")).body.toString());
    expect(sampleValue(first, "ipamd_agent_leader_reachable")).toBe(0);
    expect(sampleValue(second, "ipamd_agent_leader_reachable")).toBe(1);
  });

  it("compresses the exposition for scrapers that accept gzip, and ignores query strings", async () => {
    const { server } = await start();
    const plain = await call(server, "GET", "/metrics");
    const zipped = await call(server, "GET", "/metrics?debug=1", {
      "accept-encoding": "gzip, deflate",
    });
    expect(zipped.status).toBe(200);
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(zipped.body).toString()).toBe(plain.body.toString());
    expect(plain.headers["content-encoding"]).toBeUndefined();
  });

  it("answers /healthz with ok while the process is up", async () => {
    const { server } = await start(() => ({ ready: false, reason: "no leader" }));
    const reply = await call(server, "GET", "/healthz");
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe("ok\n");
  });

  it("answers /readyz 200 when ready and 503 with the reason when not, as text or JSON", async () => {
    let state: Readiness = { ready: true };
    const { server } = await start(async () => state);
    let reply = await call(server, "GET", "/readyz");
    expect([reply.status, reply.body.toString()]).toEqual([200, "ready\n"]);
    state = { ready: false, reason: "raft: no leader\nfor 3 terms" };
    reply = await call(server, "GET", "/readyz");
    expect([reply.status, reply.body.toString()]).toEqual([
      503,
      "not ready: raft: no leader for 3 terms\n",
    ]);
    reply = await call(server, "GET", "/readyz", { accept: "application/json" });
    expect(reply.status).toBe(503);
    expect(reply.headers["content-type"]).toContain("application/json");
    expect(JSON.parse(reply.body.toString())).toEqual({
      ready: false,
      reason: "raft: no leader for 3 terms",
    });
  });

  it("answers /readyz 200 with the qualifying reason of a degraded but ready process", async () => {
    const { server } = await start(() => ({
      ready: true,
      reason: "cluster unreachable, allocating from held blocks",
    }));
    const reply = await call(server, "GET", "/readyz");
    expect([reply.status, reply.body.toString()]).toEqual([
      200,
      "ready: cluster unreachable, allocating from held blocks\n",
    ]);
    const json = await call(server, "GET", "/readyz", { accept: "application/json" });
    expect(JSON.parse(json.body.toString())).toEqual({
      ready: true,
      reason: "cluster unreachable, allocating from held blocks",
    });
  });

  it("reports a readiness check that throws or hangs as not ready", async () => {
    const { server, logger } = await start(() => {
      throw new Error("store closed");
    });
    const reply = await call(server, "GET", "/readyz");
    expect(reply.status).toBe(503);
    expect(reply.body.toString()).toBe("not ready: readiness check failed: store closed\n");
    expect(logger.warn).toHaveBeenCalled();

    const hung = await start(() => new Promise<Readiness>(() => {}), { readinessTimeoutMs: 20 });
    const late = await call(hung.server, "GET", "/readyz");
    expect(late.status).toBe(503);
    expect(late.body.toString()).toBe("not ready: readiness check timed out after 20 ms\n");
  });

  it("answers 404 for other paths, 405 for other methods, and HEAD without a body", async () => {
    const { server } = await start();
    expect((await call(server, "GET", "/")).status).toBe(404);
    expect((await call(server, "GET", "/metrics/extra")).status).toBe(404);
    const post = await call(server, "POST", "/metrics");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
    expect((await call(server, "DELETE", "/readyz")).status).toBe(405);
    const head = await call(server, "HEAD", "/healthz");
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe("3");
    expect(head.body).toHaveLength(0);
  });

  it("answers 500 and logs when the registry fails", async () => {
    const registry = new Registry();
    const broken = Object.assign(registry, {
      metrics: () => Promise.reject(new Error("collector exploded")),
    });
    const { server, logger } = await start(undefined, { registry: broken });
    const reply = await call(server, "GET", "/metrics");
    expect(reply.status).toBe(500);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.objectContaining({ message: "collector exploded" }) }),
      "metrics exposition failed",
    );
    expect((await call(server, "GET", "/healthz")).status).toBe(200);
  });

  it("rejects a bad port or timeout, and a port in use, with typed errors", async () => {
    const readiness = () => ({ ready: true });
    const registry = new Registry();
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      await expect(startMetricsServer({ registry, port, readiness })).rejects.toSatisfy(
        (e: unknown) => isMetricsError(e, "INVALID_ARGUMENT") && /^port: /.test(e.message),
      );
    }
    await expect(
      startMetricsServer({ registry, port: 0, readiness, readinessTimeoutMs: 0 }),
    ).rejects.toSatisfy((e: unknown) => isMetricsError(e, "INVALID_ARGUMENT"));
    const { server } = await start();
    await expect(
      startMetricsServer({ registry, host: "127.0.0.1", port: server.port, readiness }),
    ).rejects.toSatisfy(
      (e: unknown) =>
        isMetricsError(e, "UNAVAILABLE") && (e.cause as { code?: string }).code === "EADDRINUSE",
    );
  });

  it("closes despite an idle keep-alive connection, once, and stops answering", async () => {
    const { server } = await start();
    const agent = new Agent({ keepAlive: true });
    expect((await call(server, "GET", "/healthz", {}, agent)).status).toBe(200);
    const first = server.close();
    expect(server.close()).toBe(first);
    await first;
    await expect(call(server, "GET", "/healthz")).rejects.toThrow(/ECONNREFUSED/);
    agent.destroy();
  });
});

describe("startMetricsServer against hostile peers", () => {
  /** A raw TCP connection; resolves with everything the server sent once it closes. */
  function rawExchange(port: number, send: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = netConnect(port, "127.0.0.1");
      let received = "";
      socket.setEncoding("utf8");
      socket.on("data", (d: string) => {
        received += d;
      });
      socket.on("error", () => {});
      socket.on("close", () => resolve(received));
      socket.write(send);
    });
  }

  it("closes a request whose headers never finish after requestTimeoutMs (408)", async () => {
    const registry = new Registry();
    const server = await startMetricsServer({
      registry,
      host: "127.0.0.1",
      port: 0,
      readiness: () => ({ ready: true }),
      requestTimeoutMs: 300,
    });
    open.push(server);
    const reply = await rawExchange(server.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: a");
    expect(reply).toMatch(/^HTTP\/1\.1 408/);
    expect((await call(server, "GET", "/healthz")).status).toBe(200);
  });

  it("answers 431 to a header block over 8 KiB and keeps serving", async () => {
    const { server } = await start();
    const reply = await rawExchange(
      server.port,
      `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(10_000)}\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 431/);
    expect((await call(server, "GET", "/healthz")).status).toBe(200);
  });

  it("holds at most maxConnections connections", async () => {
    const registry = new Registry();
    const server = await startMetricsServer({
      registry,
      host: "127.0.0.1",
      port: 0,
      readiness: () => ({ ready: true }),
      maxConnections: 1,
    });
    open.push(server);
    const first = netConnect(server.port, "127.0.0.1");
    first.on("error", () => {});
    await new Promise<void>((resolve) => first.once("connect", () => resolve()));
    // The second connection is accepted by the kernel and closed at once by the server.
    const second = await rawExchange(server.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(second).toBe("");
    first.destroy();
  });

  it("refuses a non-positive requestTimeoutMs or maxConnections, naming it", async () => {
    const readiness = () => ({ ready: true });
    const registry = new Registry();
    for (const field of ["requestTimeoutMs", "maxConnections"] as const) {
      await expect(
        startMetricsServer({ registry, port: 0, readiness, [field]: 0 }),
      ).rejects.toSatisfy(
        (e: unknown) => isMetricsError(e, "INVALID_ARGUMENT") && e.message.startsWith(`${field}:`),
      );
    }
  });
});
