/** Error codes of the daemon; the gRPC edge maps them by string. */
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

export interface IpamdErrorOptions extends ErrorOptions {
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The single error class of @ipam/ipamd. */
export class IpamdError extends Error {
  readonly code: IpamdErrorCode;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(code: IpamdErrorCode, message: string, options: IpamdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "IpamdError";
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
  }
}
