import { type ServiceError, status } from "@grpc/grpc-js";
import { IpamdError } from "../ipamd-error.js";

/** What went wrong with an etcd call, beside the daemon's error code (`details.etcd`). */
export type EtcdFailure =
  /** The member could not be reached, has no leader, or the request timed out in etcd. */
  | "unreachable"
  /** The requested revision was compacted (`ErrCompacted`): re-list from a snapshot. */
  | "compacted"
  /** The auth token expired or is invalid: authenticate again. */
  | "auth-token"
  /** Wrong user name or password, or the user may not touch the prefix. */
  | "denied"
  /** etcd refused the request itself (too large, too many operations, no space). */
  | "refused";

/** The etcd failure of an error made by {@link etcdError}, or undefined for any other error. */
export function etcdFailure(err: unknown): EtcdFailure | undefined {
  if (!(err instanceof IpamdError)) return undefined;
  const value = err.details?.etcd;
  return typeof value === "string" ? (value as EtcdFailure) : undefined;
}

/**
 * Translates a gRPC error from an etcd member into an IpamdError whose `details.etcd` says what
 * kind of failure it was (see {@link EtcdFailure}) and `details.endpoint` which member answered.
 * Transport failures and etcd's "no leader", "leader changed", "request timed out" are
 * UNAVAILABLE (retry, maybe on another member); `ErrCompacted` (OUT_OF_RANGE) is UNAVAILABLE
 * with `etcd: "compacted"`; authentication failures are UNAVAILABLE too (the operator must fix
 * the credentials: the message says so); a request etcd refuses (too large, NOSPACE alarm) is
 * INVALID_ARGUMENT or UNAVAILABLE naming etcd's reason.
 */
export function etcdError(err: unknown, what: string, endpoint: string): IpamdError {
  if (err instanceof IpamdError) return err;
  const e = err as Partial<ServiceError>;
  const code = typeof e.code === "number" ? e.code : status.UNKNOWN;
  const message = typeof e.details === "string" && e.details !== "" ? e.details : String(e.message);
  const at = `${what} (etcd ${endpoint})`;
  const make = (
    ipamd: "UNAVAILABLE" | "INVALID_ARGUMENT" | "INTERNAL",
    etcd: EtcdFailure,
    text: string,
  ) =>
    new IpamdError(ipamd, `${at}: ${text}`, {
      cause: err,
      details: { etcd, endpoint, grpcCode: code },
    });
  switch (code) {
    case status.OUT_OF_RANGE:
      return make("UNAVAILABLE", "compacted", message);
    case status.UNAUTHENTICATED:
      if (/invalid auth token|token/i.test(message))
        return make("UNAVAILABLE", "auth-token", message);
      return make(
        "UNAVAILABLE",
        "denied",
        `${message} (check --etcd-username and the password, or the client certificate)`,
      );
    case status.PERMISSION_DENIED:
      return make(
        "UNAVAILABLE",
        "denied",
        `${message} (the etcd user needs read-write access to the --etcd-prefix range)`,
      );
    case status.INVALID_ARGUMENT:
      return make("INVALID_ARGUMENT", "refused", message);
    case status.RESOURCE_EXHAUSTED:
      return make(
        "UNAVAILABLE",
        "refused",
        /space/i.test(message)
          ? `${message} (etcd's NOSPACE alarm: compact and defragment etcd, then disarm the alarm)`
          : message,
      );
    default:
      return make("UNAVAILABLE", "unreachable", message);
  }
}
