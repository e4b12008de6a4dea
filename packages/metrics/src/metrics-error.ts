import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

/**
 * Stable error codes of `@ipam/metrics`. Callers branch on `code`, never on the message.
 *
 * - `INVALID_ARGUMENT`: bad input (a port out of range, a negative duration); the message names
 *   the field.
 * - `CONFLICT`: the ipamd metric set is already registered on this registry.
 * - `UNAVAILABLE`: the HTTP server could not listen (address in use, permission denied); the
 *   system error is the `cause`.
 */
export type MetricsErrorCode = "INVALID_ARGUMENT" | "CONFLICT" | "UNAVAILABLE";

/** The one error class of `@ipam/metrics`. */
export class MetricsError extends IpamError<MetricsErrorCode> {
  static override readonly errorName = "MetricsError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<MetricsErrorCode, ErrorKind>> = {
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    CONFLICT: "CONFLICT",
    UNAVAILABLE: "UNAVAILABLE",
  };

  constructor(code: MetricsErrorCode, message: string, options?: IpamErrorOptions) {
    super(code, message, options);
  }
}

/** True when `err` is a `MetricsError`, optionally with the given code. */
export function isMetricsError(err: unknown, code?: MetricsErrorCode): err is MetricsError {
  return err instanceof MetricsError && (code === undefined || err.code === code);
}
