/** Stable error codes of @ipam/raft (mapped to gRPC status / CNI codes only at those edges). */
export type RaftErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "NOT_LEADER"
  | "TIMEOUT"
  | "UNAVAILABLE"
  | "SHUTTING_DOWN"
  | "INTERNAL"
  /** A proposal was not appended (leadership transfer in progress, or leadership lost). */
  | "PROPOSAL_DROPPED"
  /** Too many pending proposals: back off and retry. */
  | "OVERLOADED"
  /** Requested log entries were discarded by compaction. */
  | "COMPACTED"
  /** Persistent state is inconsistent (e.g. storage lost entries that were acknowledged). */
  | "CORRUPT";

/** The single error class of @ipam/raft. */
export class RaftError extends Error {
  readonly code: RaftErrorCode;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(
    code: RaftErrorCode,
    message: string,
    details?: Readonly<Record<string, unknown>>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RaftError";
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}
