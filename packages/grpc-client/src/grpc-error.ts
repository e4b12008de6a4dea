import { type ErrorKind, IpamError, type IpamErrorOptions, isErrorKind } from "@ipam/errors";

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
export interface GrpcErrorOptions extends IpamErrorOptions {
  /**
   * The kind (what the caller can do about it). A client sets the one the server sent; without
   * it, the kind of this package's own codes, or the code itself when it names a kind, else
   * `UNKNOWN`.
   */
  readonly kind?: ErrorKind;
  /** The gRPC status code the error travelled with, when it came over the wire. */
  readonly grpcStatus?: number;
}

/** The kinds of the codes this package raises itself (the project-wide ones are kinds). */
const OWN_KINDS: Readonly<Record<string, ErrorKind>> = {
  PROTOCOL_ERROR: "UNIMPLEMENTED",
  INSECURE_LISTENER: "INVALID_ARGUMENT",
  SOCKET_IN_USE: "CONFLICT",
};

/**
 * The one error class of @ipam/grpc-server. Clients throw it for every failed call, with the
 * ipamd `code` and `kind` the server sent (or ones derived from the gRPC status), so callers
 * switch on `error.code` or `error.kind` exactly as they would on the server-side error.
 * `instanceof` works across the package's entries: `./lean` is bundled on its own (for start
 * time) and carries its own copy of this class; every copy is recognised (see IpamError).
 */
export class GrpcError extends IpamError<GrpcErrorCode> {
  static override readonly errorName = "GrpcError";

  /** gRPC status number when the error came from a call; absent for local errors. */
  readonly grpcStatus?: number;

  constructor(code: GrpcErrorCode, message: string, options: GrpcErrorOptions = {}) {
    const kind: ErrorKind =
      options.kind ?? OWN_KINDS[code] ?? (isErrorKind(code) ? code : "UNKNOWN");
    super(code, message, {
      kind,
      ...(options.details === undefined ? {} : { details: options.details }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    if (options.grpcStatus !== undefined) this.grpcStatus = options.grpcStatus;
  }
}
