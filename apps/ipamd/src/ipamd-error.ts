import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

/** Error codes of the daemon; the gRPC edge translates their kind (see {@link IpamdError.kinds}). */
export type IpamdErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "POOL_EXHAUSTED"
  | "NOT_LEADER"
  | "TIMEOUT"
  | "UNAVAILABLE"
  | "SHUTTING_DOWN"
  /** The call exists but this server does not serve it (e.g. Raft membership with the etcd store). */
  | "UNIMPLEMENTED"
  | "INTERNAL";

/** Options of {@link IpamdError}: `details` and `cause`. */
export type IpamdErrorOptions = IpamErrorOptions;

/** The single error class of @ipam/ipamd. */
export class IpamdError extends IpamError<IpamdErrorCode> {
  static override readonly errorName = "IpamdError";
  /** The kind of each code: the daemon's codes are the project-wide kinds themselves. */
  static readonly kinds: Readonly<Record<IpamdErrorCode, ErrorKind>> = {
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    NOT_FOUND: "NOT_FOUND",
    CONFLICT: "CONFLICT",
    POOL_EXHAUSTED: "POOL_EXHAUSTED",
    NOT_LEADER: "NOT_LEADER",
    TIMEOUT: "TIMEOUT",
    UNAVAILABLE: "UNAVAILABLE",
    SHUTTING_DOWN: "SHUTTING_DOWN",
    UNIMPLEMENTED: "UNIMPLEMENTED",
    INTERNAL: "INTERNAL",
  };

  constructor(code: IpamdErrorCode, message: string, options: IpamdErrorOptions = {}) {
    super(code, message, options);
  }
}
