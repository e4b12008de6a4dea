import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectHttp2,
  constants,
  type IncomingHttpHeaders,
} from "node:http2";
import { connect as connectNet } from "node:net";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { CallOptions, ServiceClient } from "./client-types.js";
import { decodeError } from "./error-mapping.js";
import type { Ipam } from "./gen/ipam/v1/ipam_pb.js";
import { IPAM_METHODS } from "./gen/lean/ipam_codec.js";
import { GrpcError } from "./grpc-error.js";

type MethodsOf<S> = S extends GenService<infer M extends GenServiceMethods> ? M : never;

/** The lean node API client: the same methods as `IpamClient`, no retries. */
export type LeanIpamClient = ServiceClient<MethodsOf<typeof Ipam>>;

/** Options of {@link createLeanIpamClient}. Exactly one of `socketPath` and `address`. */
export interface LeanIpamClientOptions {
  /** The node API unix socket, e.g. `/run/ipamd/ipamd.sock`. */
  readonly socketPath?: string;
  /** A cleartext `host:port` (tests and loopback only; the lean client does not do TLS). */
  readonly address?: string;
  /** Per-call deadline in ms, sent as `grpc-timeout`; default 10 000. */
  readonly deadlineMs?: number;
  /** Largest response message accepted, bytes; default 4 MiB. */
  readonly maxResponseBytes?: number;
}

/** One row of the generated method table: path and wire codecs. */
interface LeanMethod {
  readonly path: string;
  readonly encode: (message: never) => BinaryWriter;
  readonly decode: (bytes: Uint8Array) => unknown;
}

const HEADER_BYTES = 5;

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + message.byteLength);
  out[0] = 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, HEADER_BYTES);
  return out;
}

/** `grpc-message` is percent-encoded UTF-8 (gRPC over HTTP/2 spec); undecodable text stays raw. */
export function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** `grpc-timeout` for a duration in ms: at most 8 digits, in the coarsest unit that fits. */
export function grpcTimeout(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 1e8) return `${whole}m`;
  const seconds = Math.ceil(whole / 1000);
  return seconds < 1e8 ? `${seconds}S` : `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | Uint8Array | undefined {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  return name.endsWith("-bin") ? Buffer.from(value, "base64") : value;
}

/** Parse the single length-prefixed message of a unary response body. */
function unframe(body: Buffer, limit: number): Uint8Array {
  if (body.byteLength < HEADER_BYTES) {
    throw new GrpcError("PROTOCOL_ERROR", "response carried no gRPC message");
  }
  if (body[0] !== 0) {
    throw new GrpcError("PROTOCOL_ERROR", "compressed responses are not supported");
  }
  const length = body.readUInt32BE(1);
  if (length > limit) {
    throw new GrpcError("RESOURCE_EXHAUSTED", `response of ${length} bytes exceeds ${limit}`);
  }
  if (body.byteLength !== HEADER_BYTES + length) {
    throw new GrpcError("PROTOCOL_ERROR", "response body length does not match its frame");
  }
  return body.subarray(HEADER_BYTES);
}

class LeanTransport {
  readonly #options: LeanIpamClientOptions;
  #session: ClientHttp2Session | undefined;
  #closed = false;

  constructor(options: LeanIpamClientOptions) {
    if ((options.socketPath === undefined) === (options.address === undefined)) {
      throw new GrpcError("INVALID_ARGUMENT", "give exactly one of socketPath and address");
    }
    this.#options = options;
  }

  #connect(): ClientHttp2Session {
    if (this.#session !== undefined && !this.#session.closed && !this.#session.destroyed) {
      return this.#session;
    }
    const socketPath = this.#options.socketPath;
    const session =
      socketPath === undefined
        ? connectHttp2(`http://${this.#options.address}`)
        : connectHttp2("http://localhost", { createConnection: () => connectNet(socketPath) });
    // The session never keeps the process alive: a pending call's deadline timer does.
    session.unref();
    session.on("error", () => {
      // Reported to the calls through their streams; a new session is made on the next call.
    });
    session.once("close", () => {
      if (this.#session === session) this.#session = undefined;
    });
    this.#session = session;
    return session;
  }

  call(method: LeanMethod, init: unknown, options: CallOptions | undefined): Promise<unknown> {
    if (this.#closed) return Promise.reject(new GrpcError("UNAVAILABLE", "client is closed"));
    const deadlineMs = options?.deadlineMs ?? this.#options.deadlineMs ?? 10_000;
    const limit = this.#options.maxResponseBytes ?? 4 * 1024 * 1024;
    const body = frame(method.encode(init as never).finish());
    const label = method.path.slice(1);
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      let settled = false;
      const chunks: Buffer[] = [];
      let received = 0;
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders | undefined;
      const settle = (error: GrpcError | undefined, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options?.signal?.removeEventListener("abort", onAbort);
        if (error !== undefined) {
          if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
          reject(error);
        } else resolve(value);
      };
      const timer = setTimeout(
        () => settle(new GrpcError("TIMEOUT", `${label}: deadline of ${deadlineMs} ms exceeded`)),
        deadlineMs,
      );
      const onAbort = (): void =>
        settle(new GrpcError("CANCELLED", `${label}: aborted by the caller`));
      if (options?.signal?.aborted === true) {
        clearTimeout(timer);
        reject(new GrpcError("CANCELLED", `${label}: aborted by the caller`));
        return;
      }
      options?.signal?.addEventListener("abort", onAbort, { once: true });
      const requestHeaders: Record<string, string> = {
        ":method": "POST",
        ":path": method.path,
        "content-type": "application/grpc+proto",
        te: "trailers",
        "grpc-timeout": grpcTimeout(deadlineMs),
        "user-agent": "ipam-lean-client/1",
      };
      for (const [key, value] of Object.entries(options?.metadata ?? {})) {
        requestHeaders[key.toLowerCase()] = value;
      }
      try {
        stream = this.#connect().request(requestHeaders);
      } catch (error) {
        clearTimeout(timer);
        reject(new GrpcError("UNAVAILABLE", `${label}: cannot open a stream`, { cause: error }));
        return;
      }
      stream.on("response", (responseHeaders) => {
        headers = responseHeaders;
      });
      stream.on("trailers", (responseTrailers) => {
        trailers = responseTrailers;
      });
      stream.on("data", (chunk: Buffer) => {
        received += chunk.byteLength;
        if (received > limit + HEADER_BYTES) {
          settle(new GrpcError("RESOURCE_EXHAUSTED", `${label}: response exceeds ${limit} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on("error", (error: Error) => {
        settle(
          new GrpcError("UNAVAILABLE", `${label}: ${error.message}`, {
            cause: error,
            grpcStatus: 14,
          }),
        );
      });
      stream.on("close", () => {
        if (settled) return;
        const httpStatus =
          headers[":status"] === undefined ? undefined : Number(headers[":status"]);
        // Trailers-only responses carry grpc-status in the headers block.
        const final = trailers ?? (headers["grpc-status"] === undefined ? undefined : headers);
        if (final === undefined) {
          const code =
            httpStatus === undefined || httpStatus === 200 ? "UNAVAILABLE" : "PROTOCOL_ERROR";
          settle(
            new GrpcError(
              code,
              `${label}: stream closed without a gRPC status (HTTP ${httpStatus ?? "none"})`,
              {
                grpcStatus: code === "UNAVAILABLE" ? 14 : 13,
              },
            ),
          );
          return;
        }
        const status = Number(headerValue(final, "grpc-status"));
        const message = decodeGrpcMessage(String(headerValue(final, "grpc-message") ?? ""));
        if (status !== 0 || !Number.isInteger(status)) {
          settle(
            decodeError(Number.isInteger(status) ? status : 2, message, (name) =>
              headerValue(final, name),
            ),
          );
          return;
        }
        try {
          const payload = unframe(Buffer.concat(chunks), limit);
          settle(undefined, method.decode(payload));
        } catch (error) {
          settle(
            error instanceof GrpcError
              ? error
              : new GrpcError("PROTOCOL_ERROR", `${label}: undecodable response`, { cause: error }),
          );
        }
      });
      stream.end(body);
    });
  }

  close(): void {
    this.#closed = true;
    this.#session?.close();
    this.#session = undefined;
  }
}

/**
 * A node API client that speaks the gRPC wire protocol itself over `node:http2` (length-prefixed
 * protobuf frames encoded by the generated wire codecs of `gen/lean`, `te: trailers`, `grpc-timeout`, status from trailers or a trailers-only
 * response) so that a short-lived process such as the CNI plugin never loads @grpc/grpc-js.
 * One attempt per call, no retries; errors are {@link GrpcError}s with the server's ipamd code,
 * `TIMEOUT` when the deadline passes and `UNAVAILABLE` when the socket does not answer.
 */
export function createLeanIpamClient(options: LeanIpamClientOptions): LeanIpamClient {
  const transport = new LeanTransport(options);
  const client: Record<string, unknown> = { close: () => transport.close() };
  for (const [localName, method] of Object.entries(IPAM_METHODS) as [string, LeanMethod][]) {
    client[localName] = (request: unknown, callOptions?: CallOptions) =>
      transport.call(method, request, callOptions);
  }
  return client as LeanIpamClient;
}
