import { isIpamError } from "@ipam/errors";
import { type CommandResult, PoolError, type PoolErrorCode } from "@ipam/subnet-pool";
import { IpamdError, type IpamdErrorCode } from "../ipamd-error.js";

/**
 * The daemon's error code for a state-machine error code: its kind in `PoolError.kinds` (one
 * table: `NO_SUBNET` — a purpose that exists but has no subnet of that family or mode on the
 * node's path — is `NOT_FOUND`, waiting does not help; `DRAINING` — every such subnet is
 * draining — is `POOL_EXHAUSTED`, new subnets may come), or the code itself when it is one of
 * the daemon's; anything else is `INTERNAL`. (A purpose no subnet has at all is the state
 * machine's `INVALID_ARGUMENT`.)
 */
export function toIpamdCode(code: string): IpamdErrorCode {
  const kind: string = PoolError.kinds[code as PoolErrorCode] ?? code;
  return kind in IpamdError.kinds ? (kind as IpamdErrorCode) : "INTERNAL";
}

/**
 * The IpamdError for a command the state machine refused (`result.ok` false), with `details`
 * as given.
 */
export function refusal(
  result: CommandResult & { ok: false },
  details: Readonly<Record<string, unknown>>,
): IpamdError {
  return new IpamdError(toIpamdCode(result.error.code), result.error.message, { details });
}

/**
 * Translates a driver error (`RaftError`) into an IpamdError: NOT_LEADER keeps the leader hint
 * (`leaderId`, `leaderAddress`) for the gRPC trailers; OVERLOADED and PROPOSAL_DROPPED become
 * UNAVAILABLE (retry later or elsewhere). An IpamdError is returned as is.
 */
export function toClusterError(cause: unknown, what: string): IpamdError {
  if (cause instanceof IpamdError) return cause;
  const code = isIpamError(cause) ? cause.code : "UNAVAILABLE";
  const details = (cause as { details?: Record<string, unknown> }).details;
  const message = `${what}: ${(cause as Error).message}`;
  if (code === "NOT_LEADER") {
    return new IpamdError("NOT_LEADER", message, {
      cause,
      details: {
        leaderId: typeof details?.leaderId === "string" ? details.leaderId : "",
        leaderAddress: typeof details?.leaderAddress === "string" ? details.leaderAddress : "",
      },
    });
  }
  // Outcome unknown or overloaded: retry later / elsewhere.
  if (code === "OVERLOADED" || code === "PROPOSAL_DROPPED") {
    return new IpamdError("UNAVAILABLE", message, { cause, details: { raftCode: code } });
  }
  const kind = isIpamError(cause) ? cause.kind : "UNAVAILABLE";
  return new IpamdError(kind in IpamdError.kinds ? (kind as IpamdErrorCode) : "INTERNAL", message, {
    cause,
    ...(details === undefined ? {} : { details }),
  });
}

/** True for the codes that say the cluster could not be reached (retry later), not a refusal. */
export function isOutage(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "UNAVAILABLE" || code === "TIMEOUT" || code === "NOT_LEADER";
}

/** The value of a command's result; a refusal throws as an IpamdError keeping its details. */
export function unwrap<T>(result: CommandResult, what: string): T {
  if (result.ok) return result.value as T;
  throw refusal(result, { ...result.error.details, command: what });
}
