import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

/**
 * Stable error codes of @ipam/subnet-pool. Callers branch on `code`, never on `message`.
 *
 * - `POOL_EXHAUSTED`: no free address (or block) is left where the request may draw from.
 * - `NO_SUBNET`: the node has no subnet of the requested purpose and family (never a fallback).
 * - `DRAINING`: the only candidate subnets are being drained.
 * - `NOT_FOUND`: unknown node, subnet, block or allocation.
 * - `CONFLICT`: the change would break an ownership rule (address held by someone else, subnet
 *   with leases removed, key reused with another purpose, ...).
 * - `INVALID_ARGUMENT`: a malformed field; the message names it.
 * - `UNSUPPORTED_VERSION`: an encoded command or snapshot of a version this build cannot read.
 * - `INVALID_ENCODING`: bytes that are not an encoded command or snapshot.
 * - `INTERNAL`: a bug; the command was rolled back.
 */
export type PoolErrorCode =
  | "POOL_EXHAUSTED"
  | "NO_SUBNET"
  | "DRAINING"
  | "NOT_FOUND"
  | "CONFLICT"
  | "INVALID_ARGUMENT"
  | "UNSUPPORTED_VERSION"
  | "INVALID_ENCODING"
  | "INTERNAL";

/** Options of {@link PoolError}: `details` and `cause`. */
export type PoolErrorOptions = IpamErrorOptions;

/** The single error class of @ipam/subnet-pool. */
export class PoolError extends IpamError<PoolErrorCode> {
  static override readonly errorName = "PoolError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<PoolErrorCode, ErrorKind>> = {
    POOL_EXHAUSTED: "POOL_EXHAUSTED",
    NO_SUBNET: "NOT_FOUND",
    DRAINING: "POOL_EXHAUSTED",
    NOT_FOUND: "NOT_FOUND",
    CONFLICT: "CONFLICT",
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    UNSUPPORTED_VERSION: "UNIMPLEMENTED",
    INVALID_ENCODING: "DATA_LOSS",
    INTERNAL: "INTERNAL",
  };

  constructor(code: PoolErrorCode, message: string, options?: PoolErrorOptions) {
    super(code, message, options);
  }
}

/** True when `error` is a {@link PoolError} (of `code`, when given). */
export function isPoolError(error: unknown, code?: PoolErrorCode): error is PoolError {
  return error instanceof PoolError && (code === undefined || error.code === code);
}
