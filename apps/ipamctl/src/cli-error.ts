import { type ErrorKind, IpamError, type IpamErrorOptions, isIpamError } from "@ipam/errors";
import { EXIT, type ExitCode } from "./exit-codes.js";

/**
 * Stable codes of the failures ipamctl raises itself (a server's or agent's errors keep their
 * own codes and kinds). Never renamed once published.
 * - `USAGE`: a flag, argument or report file is wrong; the message names it and the fix.
 * - `AGENT_UNREACHABLE`: an agent given with --node/--unix-socket does not answer.
 * - `KUBE_UNREACHABLE`: the Kubernetes API (--kubeconfig) does not answer.
 * - `REFUSED`: refused to protect what is stored (a holder still present, in use: see --force).
 * - `NOT_FOUND`: what was named is in no subnet, node or record.
 * - `WRITE_FAILED`: a file ipamctl was asked to write (--output) cannot be written.
 * - `BAD_ANSWER`: a server answered without a field it must fill (a bug or a version skew).
 */
export type CliErrorCode =
  | "USAGE"
  | "AGENT_UNREACHABLE"
  | "KUBE_UNREACHABLE"
  | "REFUSED"
  | "NOT_FOUND"
  | "WRITE_FAILED"
  | "BAD_ANSWER";

/**
 * The one error class of ipamctl, an `IpamError` like every package's: a stable `code`, its
 * `kind` from {@link CliError.kinds}, a message for the operator naming the flag or the thing and
 * the fix. Its exit status comes from its kind ({@link exitCodeOf}), as for any other error.
 */
export class CliError extends IpamError<CliErrorCode> {
  static override readonly errorName = "CliError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<CliErrorCode, ErrorKind>> = {
    USAGE: "INVALID_ARGUMENT",
    AGENT_UNREACHABLE: "UNAVAILABLE",
    KUBE_UNREACHABLE: "UNAVAILABLE",
    REFUSED: "CONFLICT",
    NOT_FOUND: "NOT_FOUND",
    WRITE_FAILED: "UNKNOWN",
    BAD_ANSWER: "INTERNAL",
  };

  constructor(code: CliErrorCode, message: string, options?: IpamErrorOptions) {
    super(code, message, options);
  }
}

/** A usage error (exit 2) naming the flag: `--server: "x" is not host:port`. */
export function usageError(flag: string, message: string): CliError {
  return new CliError("USAGE", `--${flag}: ${message}`, { details: { field: `--${flag}` } });
}

/**
 * The exit status a failed command ends with, by the error's kind (what the caller can do about
 * it; `ErrorKind` in @ipam/errors): one table for ipamctl's own errors and every server's or
 * agent's, never the spelling of a code.
 */
const EXIT_OF_KIND: Readonly<Record<ErrorKind, ExitCode>> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  CONFLICT: EXIT.REFUSED,
  POOL_EXHAUSTED: EXIT.REFUSED,
  NOT_LEADER: EXIT.UNREACHABLE,
  TIMEOUT: EXIT.UNREACHABLE,
  UNAVAILABLE: EXIT.UNREACHABLE,
  SHUTTING_DOWN: EXIT.UNREACHABLE,
  CANCELLED: EXIT.UNREACHABLE,
  RESOURCE_EXHAUSTED: EXIT.ERROR,
  PERMISSION_DENIED: EXIT.REFUSED,
  UNAUTHENTICATED: EXIT.REFUSED,
  UNIMPLEMENTED: EXIT.ERROR,
  DATA_LOSS: EXIT.ERROR,
  INTERNAL: EXIT.ERROR,
  UNKNOWN: EXIT.ERROR,
};

/** The exit status an error ends a command with: by its kind; 1 for an error of no kind. */
export function exitCodeOf(err: unknown): ExitCode {
  return isIpamError(err) ? EXIT_OF_KIND[err.kind] : EXIT.ERROR;
}
