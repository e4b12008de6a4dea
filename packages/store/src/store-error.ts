import { type ErrorKind, IpamError, type IpamErrorOptions } from "@ipam/errors";

/**
 * Stable error codes of `@ipam/store`. Callers branch on `code`, never on the message.
 *
 * - `INVALID_ARGUMENT`: bad input; the message names the field. Nothing was written.
 * - `NOT_FOUND`: the thing asked for does not exist (only where absence is an error).
 * - `CONFLICT`: a write collides with stored data (an address already held by another key).
 * - `COMPACTED`: a Raft log range starts before the first retained index.
 * - `CLOSED`: the store was closed.
 * - `SCHEMA_TOO_NEW`: the file was written by a newer schema; it is left untouched.
 * - `NOT_A_STORE`: the file is a SQLite database of some other program.
 * - `DISK_FULL`: SQLite could not grow the file (`SQLITE_FULL`); the transaction was rolled back.
 * - `READ_ONLY`: the file or the connection is read-only (`SQLITE_READONLY`).
 * - `LOCKED`: another connection held the lock past the busy timeout (`SQLITE_BUSY`/`SQLITE_LOCKED`).
 * - `CORRUPT`: the file is damaged or not a database (`SQLITE_CORRUPT`/`SQLITE_NOTADB`); never
 *   repaired or recreated silently.
 * - `IO_ERROR`: the OS reported an I/O error, or the file could not be opened.
 * - `INTERNAL`: anything else (a bug, or an SQLite error we do not classify).
 */
export type StoreErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "COMPACTED"
  | "CLOSED"
  | "SCHEMA_TOO_NEW"
  | "NOT_A_STORE"
  | "DISK_FULL"
  | "READ_ONLY"
  | "LOCKED"
  | "CORRUPT"
  | "IO_ERROR"
  | "INTERNAL";

/** The one error class of `@ipam/store`. The SQLite error, when there is one, is the `cause`. */
export class StoreError extends IpamError<StoreErrorCode> {
  static override readonly errorName = "StoreError";
  /** The kind of each code (see `ErrorKind` in @ipam/errors). */
  static readonly kinds: Readonly<Record<StoreErrorCode, ErrorKind>> = {
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    NOT_FOUND: "NOT_FOUND",
    CONFLICT: "CONFLICT",
    COMPACTED: "NOT_FOUND",
    CLOSED: "SHUTTING_DOWN",
    SCHEMA_TOO_NEW: "UNIMPLEMENTED",
    NOT_A_STORE: "INVALID_ARGUMENT",
    DISK_FULL: "UNAVAILABLE",
    READ_ONLY: "UNAVAILABLE",
    LOCKED: "UNAVAILABLE",
    CORRUPT: "DATA_LOSS",
    IO_ERROR: "UNAVAILABLE",
    INTERNAL: "INTERNAL",
  };

  constructor(code: StoreErrorCode, message: string, options?: IpamErrorOptions) {
    super(code, message, options);
  }
}

/** True when `err` is a `StoreError`, optionally with the given code. */
export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
