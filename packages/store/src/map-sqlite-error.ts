import { StoreError, type StoreErrorCode } from "./store-error.js";

/** Primary SQLite result code (the part before the first `_` suffix) → store code. */
const PRIMARY: Readonly<Record<string, StoreErrorCode>> = {
  SQLITE_FULL: "DISK_FULL",
  SQLITE_READONLY: "READ_ONLY",
  SQLITE_BUSY: "LOCKED",
  SQLITE_LOCKED: "LOCKED",
  SQLITE_CORRUPT: "CORRUPT",
  SQLITE_NOTADB: "CORRUPT",
  SQLITE_IOERR: "IO_ERROR",
  SQLITE_CANTOPEN: "IO_ERROR",
  SQLITE_PERM: "READ_ONLY",
  SQLITE_CONSTRAINT: "CONFLICT",
};

function sqliteCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}

/** Maps a raw SQLite result code such as `SQLITE_IOERR_WRITE` to a store code. */
export function storeCodeForSqlite(code: string): StoreErrorCode {
  const direct = PRIMARY[code];
  if (direct !== undefined) return direct;
  const second = code.indexOf("_", "SQLITE_".length);
  const primary = second === -1 ? code : code.slice(0, second);
  return PRIMARY[primary] ?? "INTERNAL";
}

/**
 * Converts anything thrown by better-sqlite3 (or our own code) into a `StoreError`.
 * A `StoreError` passes through unchanged; an SQLite error keeps its result code in
 * `details.sqliteCode` and itself as `cause`. `context` says what was being done
 * ("open /var/lib/ipamd/ipamd.db", "commit of 12 writes") and prefixes the message.
 */
export function toStoreError(err: unknown, context: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = sqliteCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code !== undefined) {
    return new StoreError(storeCodeForSqlite(code), `${context}: ${message} (${code})`, {
      details: { sqliteCode: code },
      cause: err,
    });
  }
  if (err instanceof TypeError && /directory does not exist|unable to open/i.test(message)) {
    return new StoreError("IO_ERROR", `${context}: ${message}`, { cause: err });
  }
  return new StoreError("INTERNAL", `${context}: ${message}`, { cause: err });
}
