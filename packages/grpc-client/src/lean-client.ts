import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { CallOptions, ServiceClient } from "./client-types.js";
import { decodeError } from "./error-mapping.js";
import type { Ipam } from "./gen/ipam/v1/ipam_pb.js";
import { IPAM_METHODS } from "./gen/lean/ipam_codec.js";
import { GrpcError } from "./grpc-error.js";
import { H2_ERROR, H2ClientConnection, type H2StreamError } from "./h2/client-connection.js";
import type { HeaderField } from "./h2/hpack.js";
import { connectUnixStream, netModule, type UnixTransport } from "./h2/unix-stream.js";
import { GRPC_STATUS, type GrpcStatusName } from "./status-codes.js";

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
  /**
   * How `socketPath` is reached: `"auto"` (default) uses libuv's pipe handle directly when this
   * Node offers it in the expected shape, which saves loading node:net and node:stream (~7 ms
   * of a process start), else node:net; `"net"` always uses node:net.
   */
  readonly unixTransport?: UnixTransport;
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

type Metadata = ReadonlyMap<string, string>;

/** Header fields as a map, the first value of a repeated name winning. */
function metadataOf(fields: readonly HeaderField[]): Metadata {
  const map = new Map<string, string>();
  for (const [name, value] of fields) if (!map.has(name)) map.set(name, value);
  return map;
}

function headerValue(headers: Metadata, name: string): string | Uint8Array | undefined {
  const value = headers.get(name);
  if (value === undefined) return undefined;
  return name.endsWith("-bin") ? Buffer.from(value, "base64") : value;
}

/** The gRPC status for a stream the transport lost (the mapping gRPC clients use for RST_STREAM). */
function streamFailure(label: string, error: H2StreamError): GrpcError {
  const status: GrpcStatusName =
    error.refused || error.h2Code === undefined
      ? "UNAVAILABLE"
      : error.h2Code === H2_ERROR.CANCEL
        ? "CANCELLED"
        : error.h2Code === H2_ERROR.ENHANCE_YOUR_CALM
          ? "RESOURCE_EXHAUSTED"
          : "INTERNAL";
  return new GrpcError(status, `${label}: ${error.message}`, {
    cause: error.cause,
    grpcStatus: GRPC_STATUS[status],
  });
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
  #connection: H2ClientConnection | undefined;
  #closed = false;

  constructor(options: LeanIpamClientOptions) {
    if ((options.socketPath === undefined) === (options.address === undefined)) {
      throw new GrpcError("INVALID_ARGUMENT", "give exactly one of socketPath and address");
    }
    const transport = options.unixTransport;
    if (transport !== undefined && transport !== "auto" && transport !== "net") {
      throw new GrpcError(
        "INVALID_ARGUMENT",
        `unixTransport: must be "auto" or "net", got ${JSON.stringify(transport)}`,
      );
    }
    this.#options = options;
  }

  #connect(): H2ClientConnection {
    if (this.#connection?.usable === true) return this.#connection;
    const { socketPath, address } = this.#options;
    let connection: H2ClientConnection;
    if (socketPath !== undefined) {
      connection = new H2ClientConnection(
        connectUnixStream(socketPath, this.#options.unixTransport),
        "localhost",
      );
    } else {
      const url = new URL(`http://${address}`);
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      const socket = netModule().connect({ host, port: Number(url.port), noDelay: true });
      connection = new H2ClientConnection(socket, url.host);
    }
    // The connection never keeps the process alive: a pending call's deadline timer does.
    connection.unref();
    this.#connection = connection;
    return connection;
  }

  call(method: LeanMethod, init: unknown, options: CallOptions | undefined): Promise<unknown> {
    if (this.#closed) return Promise.reject(new GrpcError("UNAVAILABLE", "client is closed"));
    const deadlineMs = options?.deadlineMs ?? this.#options.deadlineMs ?? 10_000;
    const limit = this.#options.maxResponseBytes ?? 4 * 1024 * 1024;
    const body = frame(method.encode(init as never).finish());
    const label = method.path.slice(1);
    const signal = options?.signal;
    if (signal?.aborted === true) {
      return Promise.reject(new GrpcError("CANCELLED", `${label}: aborted by the caller`));
    }
    const requestHeaders: HeaderField[] = [
      [":method", "POST"],
      [":path", method.path],
      ["content-type", "application/grpc+proto"],
      ["te", "trailers"],
      ["grpc-timeout", grpcTimeout(deadlineMs)],
      ["user-agent", "ipam-lean-client/1"],
    ];
    for (const [key, value] of Object.entries(options?.metadata ?? {})) {
      requestHeaders.push([key.toLowerCase(), value]);
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const chunks: Buffer[] = [];
      let received = 0;
      let headers: Metadata | undefined;
      let trailers: Metadata | undefined;
      const settle = (error: GrpcError | undefined, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error !== undefined) {
          stream.cancel();
          reject(error);
        } else resolve(value);
      };
      const onAbort = (): void =>
        settle(new GrpcError("CANCELLED", `${label}: aborted by the caller`));
      const timer = setTimeout(
        () => settle(new GrpcError("TIMEOUT", `${label}: deadline of ${deadlineMs} ms exceeded`)),
        deadlineMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      const stream = this.#connect().request(requestHeaders, body, {
        onHeaders: (fields) => {
          if (headers === undefined) headers = metadataOf(fields);
          else trailers = metadataOf(fields);
        },
        onData: (chunk) => {
          received += chunk.byteLength;
          if (received > limit + HEADER_BYTES) {
            settle(
              new GrpcError("RESOURCE_EXHAUSTED", `${label}: response exceeds ${limit} bytes`),
            );
            return;
          }
          chunks.push(chunk);
        },
        onError: (error) => settle(streamFailure(label, error)),
        onEnd: () => {
          const status = headers?.get(":status");
          // Trailers-only responses carry grpc-status in the headers block.
          const final = trailers ?? (headers?.has("grpc-status") === true ? headers : undefined);
          if (final === undefined) {
            const ok = status === undefined || status === "200";
            settle(
              new GrpcError(
                ok ? "UNAVAILABLE" : "PROTOCOL_ERROR",
                `${label}: stream closed without a gRPC status (HTTP ${status ?? "none"})`,
                { grpcStatus: ok ? GRPC_STATUS.UNAVAILABLE : GRPC_STATUS.INTERNAL },
              ),
            );
            return;
          }
          const code = Number(headerValue(final, "grpc-status"));
          const message = decodeGrpcMessage(String(headerValue(final, "grpc-message") ?? ""));
          if (code !== 0 || !Number.isInteger(code)) {
            settle(
              decodeError(Number.isInteger(code) ? code : 2, message, (name) =>
                headerValue(final, name),
              ),
            );
            return;
          }
          try {
            settle(undefined, method.decode(unframe(Buffer.concat(chunks), limit)));
          } catch (error) {
            settle(
              error instanceof GrpcError
                ? error
                : new GrpcError("PROTOCOL_ERROR", `${label}: undecodable response`, {
                    cause: error,
                  }),
            );
          }
        },
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#connection?.close();
    this.#connection = undefined;
  }
}

/**
 * A node API client that speaks the gRPC wire protocol itself over a minimal HTTP/2 client on a
 * unix socket or TCP (length-prefixed
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
