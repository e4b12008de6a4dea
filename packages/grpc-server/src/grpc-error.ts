/**
 * Error codes a {@link GrpcError} can carry.
 *
 * - The project-wide codes, identical across packages and over the wire.
 * - Codes raised by this package: `CANCELLED` (the caller aborted), `RESOURCE_EXHAUSTED` (a gRPC
 *   limit such as the message size, not an address pool), `PERMISSION_DENIED`,
 *   `UNAUTHENTICATED`, `UNIMPLEMENTED`, `UNKNOWN` (a status without an ipamd code),
 *   `PROTOCOL_ERROR` (a malformed gRPC response), `INSECURE_LISTENER` (a non-loopback TCP
 *   listener without TLS), `SOCKET_IN_USE` (another server answers on the unix socket).
 * - Any other UPPER_SNAKE code another package's error carried over the wire (`INVALID_CIDR`,
 *   ...): clients pass the server's code through unchanged.
 */
export type GrpcErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "POOL_EXHAUSTED"
  | "NOT_LEADER"
  | "TIMEOUT"
  | "UNAVAILABLE"
  | "SHUTTING_DOWN"
  | "INTERNAL"
  | "CANCELLED"
  | "RESOURCE_EXHAUSTED"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "UNIMPLEMENTED"
  | "UNKNOWN"
  | "PROTOCOL_ERROR"
  | "INSECURE_LISTENER"
  | "SOCKET_IN_USE"
  | (string & {});

/** Options of {@link GrpcError} beyond the standard `cause`. */
export interface GrpcErrorOptions extends ErrorOptions {
  /** Structured facts (e.g. `leaderAddress` for `NOT_LEADER`). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The gRPC status code the error travelled with, when it came over the wire. */
  readonly grpcStatus?: number;
}

const BRAND: unique symbol = Symbol.for("@ipam/grpc-server/GrpcError");

/**
 * The one error class of @ipam/grpc-server. Clients throw it for every failed call, with the
 * ipamd `code` the server sent (or one derived from the gRPC status), so callers switch on
 * `error.code` exactly as they would on the server-side error.
 */
export class GrpcError extends Error {
  readonly code: GrpcErrorCode;
  readonly details?: Readonly<Record<string, unknown>>;
  /** gRPC status number when the error came from a call; absent for local errors. */
  readonly grpcStatus?: number;

  /**
   * `instanceof` works across the package's entries: `./lean` is bundled on its own (for start
   * time), so it carries its own copy of this class; both copies carry the same brand.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && BRAND in value;
  }

  readonly [BRAND] = true;

  constructor(code: GrpcErrorCode, message: string, options: GrpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GrpcError";
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
    if (options.grpcStatus !== undefined) this.grpcStatus = options.grpcStatus;
  }
}
