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

/** The ipamd error codes (GrpcError.code) and the exit status each one ends a command with. */
const EXIT_OF_CODE: Readonly<Record<string, ExitCode>> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  UNAVAILABLE: EXIT.UNREACHABLE,
  TIMEOUT: EXIT.UNREACHABLE,
  NOT_LEADER: EXIT.UNREACHABLE,
  SHUTTING_DOWN: EXIT.UNREACHABLE,
  CONFLICT: EXIT.REFUSED,
  POOL_EXHAUSTED: EXIT.REFUSED,
  PERMISSION_DENIED: EXIT.REFUSED,
  UNAUTHENTICATED: EXIT.REFUSED,
  NOT_FOUND: EXIT.NOT_FOUND,
};

/** The exit status an error ends a command with: its own for a CliError, else by its `code`. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === "string" ? EXIT_OF_CODE[code] : undefined) ?? EXIT.ERROR;
}
