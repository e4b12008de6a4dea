import {
  constants,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Server, ServerCredentials } from "@grpc/grpc-js";
import { GRPC_STATUS, GrpcError } from "@ipam/grpc-client";
import { safeHook } from "./call-hooks.js";
import type { ServerLimits } from "./server-limits.js";

/**
 * Why the guard refused or cut something short (the `reason` label of the daemon's
 * `ipamd_grpc_refused_total`):
 * - `compressed_request`: the request declared a `grpc-encoding` other than `identity`;
 * - `too_many_streams`: the server already had `maxOpenStreams` streams open (or
 *   `maxStreamingCalls` streams of streaming methods, for one of those);
 * - `too_many_connections`: the listener already held `maxConnections` connections;
 * - `no_preface`: a connection sent no HTTP/2 SETTINGS within `handshakeTimeoutMs`;
 * - `incomplete_request`: a request did not arrive complete within `requestTimeoutMs`;
 * - `idle_stream`: a stream carried nothing either way for `streamIdleMs`.
 */
export type RefusalReason =
  | "compressed_request"
  | "too_many_streams"
  | "too_many_connections"
  | "no_preface"
  | "incomplete_request"
  | "idle_stream";

/** The kind of a method, by HTTP/2 path; a path not listed is treated as unary. */
export type MethodKinds = ReadonlyMap<
  string,
  "unary" | "server_streaming" | "client_streaming" | "bidi_streaming"
>;

/** Options of {@link guardGrpcServer}. */
export interface Http2GuardOptions {
  readonly limits: ServerLimits;
  readonly methodKinds: MethodKinds;
  /** Called once per refusal; must not throw (a throw is ignored). */
  readonly onRefused?: (reason: RefusalReason, method: string) => void;
}

/** The part of @grpc/grpc-js's `Server` the guard hooks into (not in its public types). */
interface GrpcServerInternals {
  createHttp2Server?: (credentials: ServerCredentials) => Http2Server | Http2SecureServer;
}

/** What a refused `grpc-encoding` is rewritten to: an encoding grpc-js would refuse itself. */
const REFUSED_ENCODING = "identity-only";

/**
 * Make every HTTP/2 server that `server` creates (one per bound address) hold to `limits`
 * before @grpc/grpc-js sees a request:
 *
 * - **Compressed requests are refused** (UNIMPLEMENTED, `grpc-accept-encoding: identity`):
 *   ipamd never asks for them, and @grpc/grpc-js 1.14.3 decompresses without an error handler,
 *   so one message whose body is not gzip would end the process. Such a stream, like one over
 *   the stream caps, is answered here and never handed to grpc-js; its header is rewritten all
 *   the same, so no compressed message could reach the decompressor even by mistake.
 * - Connections per listener, open streams per server, header block size, the HTTP/2 preface,
 *   complete requests and idle streams are bounded as {@link ServerLimits} says; a refused or
 *   expired stream is answered with a gRPC status when nothing was sent yet, then reset, which
 *   frees it in grpc-js and in the handler (its signal aborts).
 *
 * Must be called before the server binds. The hook is @grpc/grpc-js's private
 * `createHttp2Server` (1.14): it is checked here, so a grpc-js without it fails the start with
 * `INTERNAL` rather than serving unguarded.
 *
 * @throws GrpcError `INTERNAL` when `server` does not have the expected shape.
 */
export function guardGrpcServer(server: Server, options: Http2GuardOptions): void {
  const internals = server as unknown as GrpcServerInternals;
  const create = internals.createHttp2Server;
  if (typeof create !== "function") {
    throw new GrpcError(
      "INTERNAL",
      "@grpc/grpc-js has no Server.createHttp2Server: the HTTP/2 guard cannot be installed (this package pins @grpc/grpc-js 1.14)",
    );
  }
  const state = { open: 0, streaming: 0 };
  internals.createHttp2Server = function guardedCreate(credentials) {
    const http2Server = create.call(this, credentials);
    guardHttp2Server(http2Server, options, state);
    return http2Server;
  };
}

function guardHttp2Server(
  http2Server: Http2Server | Http2SecureServer,
  options: Http2GuardOptions,
  state: { open: number; streaming: number },
): void {
  const { limits, methodKinds } = options;
  const refused = (reason: RefusalReason, method: string): void =>
    safeHook(options.onRefused, reason, method);
  /** The method as the hooks name it: the path without its leading slash (built on refusal). */
  const methodOf = (path: string): string => (path.startsWith("/") ? path.slice(1) : path);

  http2Server.maxConnections = limits.maxConnections;
  http2Server.on("drop", () => refused("too_many_connections", ""));
  http2Server.updateSettings({ maxHeaderListSize: limits.maxHeaderListBytes });

  http2Server.on("session", (session: ServerHttp2Session) => {
    const timer = setTimeout(() => {
      refused("no_preface", "");
      session.destroy();
    }, limits.handshakeTimeoutMs);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    session.once("remoteSettings", clear);
    session.once("close", clear);
  });

  // The guard owns the `stream` event: grpc-js's listener (added when it created the server) is
  // taken off and called from here, so a stream refused up front never reaches grpc-js at all.
  const grpcListeners = http2Server.listeners("stream") as Array<(...args: unknown[]) => void>;
  http2Server.removeAllListeners("stream");
  const onStream = (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
  ): void => {
    const path = String(headers[":path"] ?? "");
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") {
      // Never let a compressed message near grpc-js's decompressor, even by mistake.
      headers["grpc-encoding"] = REFUSED_ENCODING;
      refused("compressed_request", methodOf(path));
      refuseUnseen(
        stream,
        GRPC_STATUS.UNIMPLEMENTED,
        `grpc-encoding ${String(encoding).slice(0, 40)}: this server accepts uncompressed messages only`,
        { "grpc-accept-encoding": "identity" },
      );
      return;
    }
    if (state.open >= limits.maxOpenStreams) {
      refused("too_many_streams", methodOf(path));
      refuseUnseen(
        stream,
        GRPC_STATUS.RESOURCE_EXHAUSTED,
        `the server has ${limits.maxOpenStreams} streams open (limits.maxOpenStreams); try again later`,
      );
      return;
    }
    const kind = methodKinds.get(path) ?? "unary";
    const streaming = kind !== "unary";
    if (streaming && state.streaming >= limits.maxStreamingCalls) {
      refused("too_many_streams", methodOf(path));
      refuseUnseen(
        stream,
        GRPC_STATUS.RESOURCE_EXHAUSTED,
        `the server has ${limits.maxStreamingCalls} streaming calls open (limits.maxStreamingCalls); try again later`,
      );
      return;
    }
    for (const listener of grpcListeners) {
      listener.call(http2Server, stream, headers, flags, rawHeaders);
    }
    // grpc-js has answered what it refuses by itself (unknown path, wrong content type) or set
    // up the call; from here the stream is bounded in time.
    if (stream.destroyed || stream.closed) return;
    state.open++;
    if (streaming) state.streaming++;
    let requestTimer: NodeJS.Timeout | undefined;
    if (kind === "unary" || kind === "server_streaming") {
      requestTimer = setTimeout(() => {
        requestTimer = undefined;
        if (stream.destroyed || stream.closed || stream.state.remoteClose === 1) return;
        refused("incomplete_request", methodOf(path));
        answerAndReset(
          stream,
          GRPC_STATUS.DEADLINE_EXCEEDED,
          `request not complete within ${limits.requestTimeoutMs} ms (limits.requestTimeoutMs)`,
        );
      }, limits.requestTimeoutMs);
      requestTimer.unref();
    }
    stream.setTimeout(limits.streamIdleMs, () => {
      refused("idle_stream", methodOf(path));
      answerAndReset(
        stream,
        GRPC_STATUS.DEADLINE_EXCEEDED,
        `no data either way for ${limits.streamIdleMs} ms (limits.streamIdleMs)`,
      );
    });
    stream.once("close", () => {
      state.open--;
      if (streaming) state.streaming--;
      if (requestTimer !== undefined) clearTimeout(requestTimer);
    });
  };
  http2Server.on("stream", onStream);
}

/** How long a refused stream may stay half-open (the client still sending) before its reset. */
const REFUSED_STREAM_LINGER_MS = 1000;

/**
 * Answer a stream grpc-js never saw with a trailers-only gRPC status, read and drop what the
 * client still sends, and reset it if the client has not finished within a second. (Resetting
 * at once can overtake the answer: under load a client then sees a bare RST_STREAM.)
 */
function refuseUnseen(
  stream: ServerHttp2Stream,
  status: number,
  message: string,
  extra: Readonly<Record<string, string>> = {},
): void {
  stream.on("error", () => {
    // The peer may reset or vanish; nothing is held for this stream either way.
  });
  if (stream.destroyed || stream.closed) return;
  stream.respond(
    {
      [constants.HTTP2_HEADER_STATUS]: 200,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
      "grpc-status": String(status),
      "grpc-message": encodeURI(message),
      ...extra,
    },
    { endStream: true },
  );
  stream.resume();
  const linger = setTimeout(() => {
    if (!stream.destroyed && !stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
  }, REFUSED_STREAM_LINGER_MS);
  linger.unref();
  stream.once("close", () => clearTimeout(linger));
}

/**
 * Answer a stream grpc-js is serving with a trailers-only gRPC status when nothing was sent on it
 * yet, then reset it (RST_STREAM) at once: grpc-js sees the stream close and cancels its call,
 * so nothing stays held (and grpc-js cannot answer a second time). A stream already answering
 * gets the reset only.
 */
function answerAndReset(
  stream: ServerHttp2Stream,
  status: number,
  message: string,
  extra: Readonly<Record<string, string>> = {},
): void {
  if (stream.destroyed || stream.closed) return;
  if (!stream.headersSent) {
    stream.respond(
      {
        [constants.HTTP2_HEADER_STATUS]: 200,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
        "grpc-status": String(status),
        "grpc-message": encodeURI(message),
        ...extra,
      },
      { endStream: true },
    );
    stream.close(constants.NGHTTP2_NO_ERROR);
  } else {
    stream.close(constants.NGHTTP2_CANCEL);
  }
}
