import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

/**
 * Stable error codes of `@ipam/bitmap`. Callers branch on the code, never on the message; a
 * code is never renamed once published. The edges translate its kind ({@link BitmapError.kinds}).
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

/** Options of {@link BitmapError}: `details` and `cause`. */
export type BitmapErrorOptions = IpamErrorOptions;

/** The one error class of `@ipam/bitmap`: every failure thrown by this package is a `BitmapError`. */
export class BitmapError extends IpamError<BitmapErrorCode> {
  static override readonly errorName = "BitmapError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<BitmapErrorCode, ErrorKind>> = {
    INVALID_ADDRESS: "INVALID_ARGUMENT",
    INVALID_CIDR: "INVALID_ARGUMENT",
    ADDRESS_OUT_OF_RANGE: "INVALID_ARGUMENT",
    EXHAUSTED: "POOL_EXHAUSTED",
    NOT_ALLOCATED: "NOT_FOUND",
    ALREADY_ALLOCATED: "CONFLICT",
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    BLOCK_TOO_LARGE: "INVALID_ARGUMENT",
    CORRUPT_DATA: "DATA_LOSS",
  };

  constructor(code: BitmapErrorCode, message: string, options?: BitmapErrorOptions) {
    super(code, message, options);
  }
}

/** True when `error` is a `BitmapError`, optionally with the given code. */
export function isBitmapError(error: unknown, code?: BitmapErrorCode): error is BitmapError {
  return error instanceof BitmapError && (code === undefined || error.code === code);
}
