import type { IpamMetrics, UncaughtErrorKind } from "@ipam/metrics";
import type { Logger } from "pino";

// The process's last line of defence: what happens to an error no handler caught.
//
// The rule (docs/ipamd.md, "The last line of defence"): an error that reaches the process keeps
// the daemon serving only when its type proves it belongs to one request or one connection, and
// so cannot have left shared state half-changed:
//
// - `zlib`: an error of a zlib stream (`code` Z_*, negative `errno`): a decompression stream is
//   created for one message and owned by it;
// - `http2`: an error of Node's HTTP/2 layer (`code` ERR_HTTP2_*): emitted by one stream or one
//   session;
// - `tls`: an OpenSSL/TLS error (`code` ERR_SSL_* or ERR_TLS_*): one connection's handshake or
//   record layer;
// - `socket`: a system error of a socket operation (`syscall` set; ECONNRESET, EPIPE,
//   ECONNABORTED, ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENETDOWN): one connection.
//
// Each of those is logged (error level, with its stack) and counted in
// `ipamd_uncaught_errors_total{kind}`. Anything else is a `bug`: it is logged at fatal level,
// counted, and the process exits with code 1 at once. Nothing else is attempted: the store is
// crash-safe (SQLite WAL, fsync) and a supervisor restarts the daemon, while carrying on after
// an unknown error could serve from state an exception left half-changed. The type-based rule
// does not hide bugs: a misuse of the HTTP/2 API in our own code is still confined to its stream
// and still shows up in the log and the metric.

const SOCKET_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);

/** Which kind of uncaught error `error` is (see the rule above). Pure; never throws. */
export function classifyUncaught(error: unknown): UncaughtErrorKind {
  if (!(error instanceof Error)) return "bug";
  const { code, errno, syscall } = error as { code?: unknown; errno?: unknown; syscall?: unknown };
  if (typeof code !== "string") return "bug";
  if (/^Z_[A-Z_]+$/.test(code) && typeof errno === "number" && errno < 0) return "zlib";
  if (code.startsWith("ERR_HTTP2_")) return "http2";
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return "tls";
  if (SOCKET_CODES.has(code) && typeof syscall === "string") return "socket";
  return "bug";
}

/** Options of {@link installLastResort}. */
export interface LastResortOptions {
  readonly log: Logger;
  /** Ends the process; default `process.exit`. */
  readonly exit?: (code: number) => void;
}

/** The installed handler. */
export interface LastResort {
  /** Count into `metrics` from now on (events before are counted in on attach). */
  attach(metrics: IpamMetrics): void;
  /** Remove the process handler. */
  uninstall(): void;
}

let installed: LastResort | undefined;

/**
 * Install the last-resort handler on `process` (`uncaughtException`, which also receives
 * unhandled rejections under Node's default `--unhandled-rejections=throw`). One per process:
 * a second call returns the first handler.
 */
export function installLastResort(options: LastResortOptions): LastResort {
  if (installed !== undefined) return installed;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let metrics: IpamMetrics | undefined;
  const pending: UncaughtErrorKind[] = [];
  const count = (kind: UncaughtErrorKind): void => {
    if (metrics === undefined) pending.push(kind);
    else metrics.countUncaughtError(kind);
  };
  const handler = (error: unknown, origin: string): void => {
    const kind = classifyUncaught(error);
    try {
      count(kind);
    } catch {
      // Counting must not stop the log line below, nor the exit.
    }
    if (kind === "bug") {
      options.log.fatal({ err: error, origin, kind }, "uncaught error: exiting");
      exit(1);
      return;
    }
    options.log.error(
      { err: error, origin, kind },
      `uncaught ${kind} error confined to one request or connection: serving on`,
    );
  };
  process.on("uncaughtException", handler);
  const handle: LastResort = {
    attach(m) {
      metrics = m;
      for (const kind of pending.splice(0)) m.countUncaughtError(kind);
    },
    uninstall() {
      process.off("uncaughtException", handler);
      if (installed === handle) installed = undefined;
    },
  };
  installed = handle;
  return handle;
}

/** Count uncaught errors into `metrics` when the last-resort handler is installed (the daemon). */
export function countUncaughtErrorsIn(metrics: IpamMetrics): void {
  installed?.attach(metrics);
}
