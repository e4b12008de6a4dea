import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

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
export class RaftError extends IpamError<RaftErrorCode> {
  static override readonly errorName = "RaftError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<RaftErrorCode, ErrorKind>> = {
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    NOT_FOUND: "NOT_FOUND",
    CONFLICT: "CONFLICT",
    NOT_LEADER: "NOT_LEADER",
    TIMEOUT: "TIMEOUT",
    UNAVAILABLE: "UNAVAILABLE",
    SHUTTING_DOWN: "SHUTTING_DOWN",
    INTERNAL: "INTERNAL",
    PROPOSAL_DROPPED: "UNAVAILABLE",
    OVERLOADED: "UNAVAILABLE",
    COMPACTED: "NOT_FOUND",
    CORRUPT: "DATA_LOSS",
  };

  constructor(code: RaftErrorCode, message: string, options?: IpamErrorOptions) {
    super(code, message, options);
  }
}
