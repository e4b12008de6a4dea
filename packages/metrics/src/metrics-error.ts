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
export class MetricsError extends Error {
  override readonly name = "MetricsError";
  readonly code: MetricsErrorCode;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(
    code: MetricsErrorCode,
    message: string,
    details?: Readonly<Record<string, unknown>>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/** True when `err` is a `MetricsError`, optionally with the given code. */
export function isMetricsError(err: unknown, code?: MetricsErrorCode): err is MetricsError {
  return err instanceof MetricsError && (code === undefined || err.code === code);
}
