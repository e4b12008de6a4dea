/**
 * What kind of failure an error is, the same set in every package. A package's own `code` says
 * exactly what went wrong (`INVALID_CIDR`, `COMPACTED`, `DRAINING`); its kind says what a caller
 * can do about it, and it is all the edges look at: the gRPC status and the CNI error code are
 * translated from the kind by one table each, never from the spelling of a code.
 *
 * - `INVALID_ARGUMENT`: the request or configuration is wrong; retrying the same one fails again.
 * - `NOT_FOUND`: the named thing (node, subnet, allocation, ...) does not exist.
 * - `CONFLICT`: the request contradicts what is stored (address held by someone else, subnet in
 *   use); it may succeed once the state changes.
 * - `POOL_EXHAUSTED`: no address or block is left where the request may draw from.
 * - `NOT_LEADER`: a cluster write reached a server that is not the Raft leader.
 * - `TIMEOUT`: no answer within the deadline; the outcome may be unknown.
 * - `UNAVAILABLE`: a dependency (cluster, disk, peer) cannot be reached now; retry later.
 * - `SHUTTING_DOWN`: the process is stopping.
 * - `CANCELLED`: the caller gave up.
 * - `RESOURCE_EXHAUSTED`: a protocol limit (message size, concurrent streams), not an address
 *   pool.
 * - `PERMISSION_DENIED` / `UNAUTHENTICATED`: the caller may not, or could not be identified.
 * - `UNIMPLEMENTED`: the peer does not offer the operation (an older version).
 * - `DATA_LOSS`: stored data is corrupt or was lost; an operator must look.
 * - `INTERNAL`: a bug.
 * - `UNKNOWN`: a failure that came from outside without a kind (a foreign gRPC status).
 */
export type ErrorKind =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "POOL_EXHAUSTED"
  | "NOT_LEADER"
  | "TIMEOUT"
  | "UNAVAILABLE"
  | "SHUTTING_DOWN"
  | "CANCELLED"
  | "RESOURCE_EXHAUSTED"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "UNIMPLEMENTED"
  | "DATA_LOSS"
  | "INTERNAL"
  | "UNKNOWN";

/** Every {@link ErrorKind}, in the order of the docs. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "CONFLICT",
  "POOL_EXHAUSTED",
  "NOT_LEADER",
  "TIMEOUT",
  "UNAVAILABLE",
  "SHUTTING_DOWN",
  "CANCELLED",
  "RESOURCE_EXHAUSTED",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
  "UNIMPLEMENTED",
  "DATA_LOSS",
  "INTERNAL",
  "UNKNOWN",
];

const KINDS: ReadonlySet<string> = new Set(ERROR_KINDS);

/** True when `value` is the name of an {@link ErrorKind}. */
export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === "string" && KINDS.has(value);
}
