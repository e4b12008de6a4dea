/**
 * Stable error codes of `@ipam/bitmap`. Callers (the gRPC and CNI edges) map
 * errors by this string, so a code is never renamed once published.
 */
export type BitmapErrorCode =
  | "INVALID_ADDRESS"
  | "INVALID_CIDR"
  | "ADDRESS_OUT_OF_RANGE"
  | "EXHAUSTED"
  | "NOT_ALLOCATED"
  | "ALREADY_ALLOCATED"
  | "INVALID_ARGUMENT"
  | "BLOCK_TOO_LARGE"
  | "CORRUPT_DATA";

export interface BitmapErrorOptions extends ErrorOptions {
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The one error class of `@ipam/bitmap`: every failure thrown by this package is a `BitmapError`. */
export class BitmapError extends Error {
  readonly code: BitmapErrorCode;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(code: BitmapErrorCode, message: string, options?: BitmapErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BitmapError";
    this.code = code;
    if (options?.details !== undefined) this.details = options.details;
  }
}

/** True when `error` is a `BitmapError`, optionally with the given code. */
export function isBitmapError(error: unknown, code?: BitmapErrorCode): error is BitmapError {
  return error instanceof BitmapError && (code === undefined || error.code === code);
}
