import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

/**
 * Stable error codes of `@ipam/cni`. The ipamd-level codes (`POOL_EXHAUSTED`, `UNAVAILABLE`, ...)
 * are the project-wide ones a backend reports; the others are raised by the plugin itself.
 * {@link cniCodeOf} maps each to the number printed in the CNI error JSON and used as exit code.
 * A code is never renamed once published.
 */
export type CniErrorCode =
  // CNI spec codes raised by the plugin.
  | "INCOMPATIBLE_VERSION"
  | "UNSUPPORTED_FIELD"
  | "UNKNOWN_CONTAINER"
  | "INVALID_ENV"
  | "IO_FAILURE"
  | "DECODE_FAILED"
  | "INVALID_CONFIG"
  | "PLUGIN_NOT_AVAILABLE"
  | "PLUGIN_DEGRADED"
  // Project-wide codes a backend (ipamd) reports.
  | "POOL_EXHAUSTED"
  | "UNAVAILABLE"
  | "TIMEOUT"
  | "NOT_LEADER"
  | "SHUTTING_DOWN"
  | "INTERNAL"
  | "NOT_FOUND"
  | "CONFLICT"
  | "INVALID_ARGUMENT"
  // Raised by the plugin for its own conditions.
  | "CHECK_MISMATCH"
  | "PROTOCOL_ERROR"
  | "PERMISSION_DENIED";

/** Options of {@link CniError}: `details` (printed as the CNI error's `details`) and `cause`. */
export type CniErrorOptions = IpamErrorOptions;

/** The one error class of `@ipam/cni`: every failure the plugin reports is a `CniError`. */
export class CniError extends IpamError<CniErrorCode> {
  static override readonly errorName = "CniError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<CniErrorCode, ErrorKind>> = {
    INCOMPATIBLE_VERSION: "UNIMPLEMENTED",
    UNSUPPORTED_FIELD: "INVALID_ARGUMENT",
    UNKNOWN_CONTAINER: "NOT_FOUND",
    INVALID_ENV: "INVALID_ARGUMENT",
    IO_FAILURE: "UNAVAILABLE",
    DECODE_FAILED: "INVALID_ARGUMENT",
    INVALID_CONFIG: "INVALID_ARGUMENT",
    PLUGIN_NOT_AVAILABLE: "UNAVAILABLE",
    PLUGIN_DEGRADED: "UNAVAILABLE",
    POOL_EXHAUSTED: "POOL_EXHAUSTED",
    UNAVAILABLE: "UNAVAILABLE",
    TIMEOUT: "TIMEOUT",
    NOT_LEADER: "NOT_LEADER",
    SHUTTING_DOWN: "SHUTTING_DOWN",
    INTERNAL: "INTERNAL",
    NOT_FOUND: "NOT_FOUND",
    CONFLICT: "CONFLICT",
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    CHECK_MISMATCH: "CONFLICT",
    PROTOCOL_ERROR: "UNIMPLEMENTED",
    PERMISSION_DENIED: "PERMISSION_DENIED",
  };

  constructor(code: CniErrorCode, message: string, options?: CniErrorOptions) {
    super(code, message, options);
  }
}

/**
 * The CNI error number of each code. 1-11 and 50/51 are the spec's well-known codes; 100 and up
 * are ours (documented in docs/cni.md). Every number fits an exit status (< 256).
 */
export const CNI_ERROR_CODES = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILED: 6,
  INVALID_CONFIG: 7,
  POOL_EXHAUSTED: 11,
  UNAVAILABLE: 11,
  TIMEOUT: 11,
  NOT_LEADER: 11,
  SHUTTING_DOWN: 11,
  PLUGIN_NOT_AVAILABLE: 50,
  PLUGIN_DEGRADED: 51,
  INTERNAL: 100,
  NOT_FOUND: 101,
  CONFLICT: 102,
  INVALID_ARGUMENT: 103,
  CHECK_MISMATCH: 104,
  PROTOCOL_ERROR: 105,
  PERMISSION_DENIED: 106,
} as const satisfies Record<CniErrorCode, number>;

/** The CNI error number for a code (see {@link CNI_ERROR_CODES}). */
export function cniCodeOf(code: CniErrorCode): number {
  return CNI_ERROR_CODES[code];
}
