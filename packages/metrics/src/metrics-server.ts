import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { describeError, type MetricsLogger } from "./logger.js";
import { MetricsError } from "./metrics-error.js";

const gzip = promisify(gzipCallback);

/**
 * What `/readyz` reports. `reason` says why not (shown to operators; keep it one line); on a
 * ready answer it qualifies it (`ready: cluster unreachable, allocating from held blocks`).
 */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

/** The part of a prom-client `Registry` the server needs. */
export interface ExpositionSource {
  /** The text exposition of every metric; may run scrape-time collectors. */
  metrics(): Promise<string>;
  /** The `Content-Type` of that text. */
  readonly contentType: string;
}

/** Options of `startMetricsServer`. */
export interface MetricsServerOptions {
  readonly registry: ExpositionSource;
  /** Address to listen on; default `0.0.0.0` (Prometheus scrapes from another host). */
  readonly host?: string;
  /** TCP port, 0-65535; 0 picks a free port (tests). ipamd's default is 9400. */
  readonly port: number;
  /**
   * Whether this process can allocate now; called on every `/readyz`. A throw or rejection, or
   * no answer within `readinessTimeoutMs`, counts as not ready with the error as reason.
   */
  readonly readiness: () => Readiness | Promise<Readiness>;
  /** Default 5000 ms. */
  readonly readinessTimeoutMs?: number;
  /**
   * A request (headers and body) must arrive complete within this many ms, else the connection
   * is answered 408 and closed; default 10 000. Bounds slow-header and slow-body clients.
   */
  readonly requestTimeoutMs?: number;
  /** Connections held at once; further ones are closed as they are accepted. Default 64. */
  readonly maxConnections?: number;
  /** Receives a line for every failed scrape or readiness check. */
  readonly logger?: MetricsLogger;
}

/** A listening metrics server. */
export interface MetricsServer {
  /** The address actually bound (e.g. `127.0.0.1`, `::`). */
  readonly address: string;
  /** The port actually bound (the chosen one when 0 was asked for). */
  readonly port: number;
  /**
   * Stops accepting connections, lets requests in progress finish, closes idle keep-alive
   * connections, and resolves when the listener is closed. Safe to call more than once.
   */
  close(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";
/** Request header block limit, bytes (a scrape sends a few hundred). */
const MAX_HEADER_BYTES = 8 * 1024;
/** Request header lines kept (Node drops the rest). */
const MAX_HEADER_LINES = 64;
const JSON_TYPE = "application/json; charset=utf-8";
const TIMED_OUT = Symbol("timed out");

/**
 * Starts the HTTP endpoint of ipamd on `node:http`:
 *
 * - `GET /metrics`: the registry's text exposition with its content type, gzip-compressed when
 *   the scraper accepts it (Prometheus does); 500 when the registry fails;
 * - `GET /healthz`: 200 `ok` while the process serves HTTP at all (liveness);
 * - `GET /readyz`: 200 `ready` when `readiness()` says so, else 503 with the reason, as text, or
 *   as JSON `{ "ready": false, "reason": "..." }` when the request accepts `application/json`;
 * - any other path: 404; any method but `GET` and `HEAD` on a known path: 405 with `Allow`.
 *
 * Query strings are ignored. Responses are never cached (`Cache-Control: no-store`).
 *
 * Every peer is bounded: at most `maxConnections` connections, headers of at most 8 KiB and 64
 * lines (431 beyond), a request complete within `requestTimeoutMs` (408 beyond), idle keep-alive
 * connections closed after 5 s, at most 100 requests per connection. A request body is never
 * read.
 *
 * Resolves once listening. Rejects with `MetricsError("INVALID_ARGUMENT")` for a bad port or
 * timeout, and `MetricsError("UNAVAILABLE")` (cause: the system error) when it cannot listen.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { port, registry, readiness, logger } = options;
  const host = options.host ?? "0.0.0.0";
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 5000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const maxConnections = options.maxConnections ?? 64;
  for (const [field, value] of [
    ["requestTimeoutMs", requestTimeoutMs],
    ["maxConnections", maxConnections],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new MetricsError("INVALID_ARGUMENT", `${field}: ${value} is not a positive integer`, {
        details: {
          field,
          value,
        },
      });
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MetricsError("INVALID_ARGUMENT", `port: ${port} is not a TCP port (0-65535)`, {
      details: {
        field: "port",
        value: port,
      },
    });
  }
  if (!Number.isFinite(readinessTimeoutMs) || readinessTimeoutMs <= 0) {
    throw new MetricsError(
      "INVALID_ARGUMENT",
      `readinessTimeoutMs: ${readinessTimeoutMs} is not a positive number of milliseconds`,
      { details: { field: "readinessTimeoutMs", value: readinessTimeoutMs } },
    );
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== "/metrics" && path !== "/healthz" && path !== "/readyz") {
      return send(req, res, 404, TEXT, "not found\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return send(req, res, 405, TEXT, "method not allowed\n");
    }
    if (path === "/healthz") return send(req, res, 200, TEXT, "ok\n");
    if (path === "/readyz") {
      const state = await checkReadiness(readiness, readinessTimeoutMs, logger);
      const wantsJson = (req.headers.accept ?? "").includes("application/json");
      const status = state.ready ? 200 : 503;
      if (wantsJson) return send(req, res, status, JSON_TYPE, `${JSON.stringify(state)}\n`);
      const text = state.ready
        ? state.reason === undefined
          ? "ready\n"
          : `ready: ${state.reason}\n`
        : `not ready: ${state.reason ?? "unknown"}\n`;
      return send(req, res, status, TEXT, text);
    }
    let body: string;
    try {
      body = await registry.metrics();
    } catch (error) {
      logger?.error(describeError(error), "metrics exposition failed");
      return send(req, res, 500, TEXT, "metrics exposition failed\n");
    }
    const acceptsGzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    if (acceptsGzip) {
      res.setHeader("Content-Encoding", "gzip");
      return send(req, res, 200, registry.contentType, await gzip(body));
    }
    return send(req, res, 200, registry.contentType, body);
  };

  const server = createServer(
    {
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      keepAliveTimeout: 5000,
      maxHeaderSize: MAX_HEADER_BYTES,
      // How often Node checks the two timeouts above (default 30 s).
      connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
    },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        logger?.error(describeError(error), "metrics server request failed");
        if (!res.headersSent) {
          res.removeHeader("Content-Encoding");
          send(req, res, 500, TEXT, "internal error\n");
        } else {
          res.destroy();
        }
      });
    },
  );
  server.maxConnections = maxConnections;
  server.maxHeadersCount = MAX_HEADER_LINES;
  server.maxRequestsPerSocket = 100;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      reject(
        new MetricsError("UNAVAILABLE", `cannot listen on ${host}:${port}: ${error.message}`, {
          details: { host, port },
          cause: error,
        }),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  server.on("error", (error) => logger?.error(describeError(error), "metrics server error"));

  const bound = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    address: bound.address,
    port: bound.port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
): void {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.statusCode = status;
  res.setHeader("Content-Type", contentType);
  res.setHeader("Content-Length", bytes.length);
  res.setHeader("Cache-Control", "no-store");
  res.end(req.method === "HEAD" ? undefined : bytes);
}

async function checkReadiness(
  readiness: () => Readiness | Promise<Readiness>,
  timeoutMs: number,
  logger: MetricsLogger | undefined,
): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  try {
    const answer = await Promise.race([Promise.resolve().then(readiness), timeout]);
    if (answer === TIMED_OUT) {
      logger?.warn({ timeoutMs }, "readiness check timed out");
      return { ready: false, reason: `readiness check timed out after ${timeoutMs} ms` };
    }
    if (answer.ready) {
      return answer.reason === undefined || answer.reason === ""
        ? { ready: true }
        : { ready: true, reason: oneLine(answer.reason) };
    }
    return { ready: false, reason: oneLine(answer.reason) };
  } catch (error) {
    logger?.warn(describeError(error), "readiness check failed");
    const message = error instanceof Error ? error.message : String(error);
    return { ready: false, reason: `readiness check failed: ${oneLine(message)}` };
  } finally {
    clearTimeout(timer);
  }
}

function oneLine(reason: string | undefined): string {
  return (reason ?? "unknown").replace(/\s+/g, " ").trim() || "unknown";
}
