import { type ErrorKind, isIpamError } from "@ipam/errors";
import { EXIT, type ExitCode } from "./exit-codes.js";

const BRAND: unique symbol = Symbol.for("ipamctl/CliError");

/**
 * The one error class of ipamctl: a message for the operator (naming the flag or the thing and
 * the fix) and the exit status it ends the command with.
 */
export class CliError extends Error {
  readonly exitCode: ExitCode;

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && BRAND in value;
  }

  constructor(exitCode: ExitCode, message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** A usage error (exit 2) naming the flag: `--server: "x" is not host:port`. */
export function usageError(flag: string, message: string): CliError {
  return new CliError(EXIT.USAGE, `--${flag}: ${message}`);
}

/**
 * The exit status a failed call ends a command with, by the error's kind (what the caller can
 * do about it; `ErrorKind` in @ipam/errors): one table, never the spelling of a code.
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

/** The exit status an error ends a command with: its own for a CliError, else by its kind. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  return isIpamError(err) ? EXIT_OF_KIND[err.kind] : EXIT.ERROR;
}
