import { type ErrorKind, isErrorKind, isIpamError } from "@ipam/errors";
import { GrpcError } from "./grpc-error.js";
import { GRPC_STATUS, type GrpcStatusName, grpcStatusName } from "./status-codes.js";

/** Trailer names ipamd uses to carry its error codes next to the gRPC status. */
export const ERROR_TRAILERS = {
  /** The ipamd error code (`POOL_EXHAUSTED`, `INVALID_CIDR`), ASCII. */
  code: "ipam-error-code",
  /** The error's kind (`INVALID_ARGUMENT`; see `ErrorKind` in @ipam/errors), ASCII. */
  kind: "ipam-error-kind",
  /** The error's `details` as UTF-8 JSON (binary header, base64 on the wire). */
  details: "ipam-error-details-bin",
  /** For `NOT_LEADER`: the leader's Raft id, when known. */
  leaderId: "ipam-leader-id",
  /** For `NOT_LEADER`: the leader's cluster API address (`host:port`), when known. */
  leaderAddress: "ipam-leader-address",
} as const;

/**
 * The one translation of an error's kind into a gRPC status (see docs/grpc.md for the why). The
 * error's own code travels beside it in the `ipam-error-code` trailer, so nothing is lost.
 */
export const KIND_TO_GRPC_STATUS: Readonly<Record<ErrorKind, GrpcStatusName>> = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "ALREADY_EXISTS",
  POOL_EXHAUSTED: "RESOURCE_EXHAUSTED",
  NOT_LEADER: "FAILED_PRECONDITION",
  TIMEOUT: "DEADLINE_EXCEEDED",
  UNAVAILABLE: "UNAVAILABLE",
  SHUTTING_DOWN: "UNAVAILABLE",
  CANCELLED: "CANCELLED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  UNIMPLEMENTED: "UNIMPLEMENTED",
  DATA_LOSS: "DATA_LOSS",
  INTERNAL: "INTERNAL",
  UNKNOWN: "UNKNOWN",
};

/** The gRPC status for an error kind ({@link KIND_TO_GRPC_STATUS}). */
export function grpcStatusForKind(kind: ErrorKind): GrpcStatusName {
  return KIND_TO_GRPC_STATUS[kind];
}

/**
 * The kind a client gives a failed call whose server sent no `ipam-error-kind` (an older
 * server, or a gRPC peer that is not ipamd), from its status.
 */
const STATUS_TO_KIND: Readonly<Record<GrpcStatusName, ErrorKind>> = {
  OK: "UNKNOWN",
  CANCELLED: "CANCELLED",
  UNKNOWN: "UNKNOWN",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  DEADLINE_EXCEEDED: "TIMEOUT",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "CONFLICT",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  FAILED_PRECONDITION: "CONFLICT",
  ABORTED: "CONFLICT",
  OUT_OF_RANGE: "INVALID_ARGUMENT",
  UNIMPLEMENTED: "UNIMPLEMENTED",
  INTERNAL: "INTERNAL",
  UNAVAILABLE: "UNAVAILABLE",
  DATA_LOSS: "DATA_LOSS",
  UNAUTHENTICATED: "UNAUTHENTICATED",
};

/** The kind (and the code) a client reports for a status that came without ipamd's trailers. */
export function kindForGrpcStatus(status: number): ErrorKind {
  return STATUS_TO_KIND[grpcStatusName(status)] ?? "UNKNOWN";
}

/** What a server sends for a failed call, independent of the gRPC library. */
export interface EncodedError {
  /** Numeric gRPC status. */
  readonly status: number;
  /** `grpc-message`: the error's message, or `internal error` for untyped errors. */
  readonly message: string;
  /** The ipamd code (`INTERNAL` for untyped errors). */
  readonly code: string;
  /** Its kind (`INTERNAL` for untyped errors). */
  readonly kind: ErrorKind;
  /** JSON-safe details (empty for untyped errors: nothing internal leaks). */
  readonly details: Readonly<Record<string, unknown>>;
  /** Trailers to send, ASCII values except the `-bin` ones. */
  readonly trailers: ReadonlyArray<readonly [string, string | Uint8Array]>;
  /** True when the error had no ipamd code (it should be logged: it is a bug or an outage). */
  readonly untyped: boolean;
}

const encoder = new TextEncoder();

/**
 * `details` as a JSON-safe object (bigints as decimal text; anything that is not a plain object,
 * or does not serialise, is `{}`): what an error's details may carry over the wire.
 */
export function jsonSafeDetails(details: unknown): Record<string, unknown> {
  if (typeof details !== "object" || details === null) return {};
  try {
    const text = JSON.stringify(details, (_key, value: unknown) =>
      typeof value === "bigint" ? value.toString() : value,
    );
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function asciiHeaderValue(value: string): string {
  // Header values must be printable ASCII; percent-encode anything else.
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/**
 * Translate any thrown value into what goes on the wire. An error of the ipamd packages
 * (`isIpamError`: every package's class, any copy) keeps its code, kind, message and details,
 * and its kind picks the status; anything else — a Node system error with its own `code`
 * included — becomes INTERNAL with the fixed message `internal error` (no message, stack or
 * cause leaves the process).
 */
export function encodeError(error: unknown): EncodedError {
  if (!isIpamError(error)) {
    return {
      status: GRPC_STATUS.INTERNAL,
      message: "internal error",
      code: "INTERNAL",
      kind: "INTERNAL",
      details: {},
      trailers: [
        [ERROR_TRAILERS.code, "INTERNAL"],
        [ERROR_TRAILERS.kind, "INTERNAL"],
      ],
      untyped: true,
    };
  }
  const details = jsonSafeDetails(error.details);
  const trailers: Array<readonly [string, string | Uint8Array]> = [
    [ERROR_TRAILERS.code, asciiHeaderValue(error.code)],
    [ERROR_TRAILERS.kind, error.kind],
  ];
  if (Object.keys(details).length > 0) {
    trailers.push([ERROR_TRAILERS.details, encoder.encode(JSON.stringify(details))]);
  }
  if (typeof details.leaderId === "string" && details.leaderId !== "") {
    trailers.push([ERROR_TRAILERS.leaderId, asciiHeaderValue(details.leaderId)]);
  }
  if (typeof details.leaderAddress === "string" && details.leaderAddress !== "") {
    trailers.push([ERROR_TRAILERS.leaderAddress, asciiHeaderValue(details.leaderAddress)]);
  }
  return {
    status: GRPC_STATUS[KIND_TO_GRPC_STATUS[error.kind]],
    message: error.message,
    code: error.code,
    kind: error.kind,
    details,
    trailers,
    untyped: false,
  };
}

/**
 * Build the client-side error for a failed call from its status, message and a trailer
 * lookup. The `code` and `kind` are the server's `ipam-error-code` and `ipam-error-kind` when
 * present; a server that sent a code but no kind (an older ipamd) gets the code as its kind
 * when the code names one, else the status's; without a code, both come from the status.
 * Leader id and address, when sent, are merged into `details`.
 */
export function decodeError(
  status: number,
  message: string,
  trailer: (name: string) => string | Uint8Array | undefined,
): GrpcError {
  const sentCode = trailer(ERROR_TRAILERS.code);
  const statusKind = kindForGrpcStatus(status);
  const code =
    typeof sentCode === "string" && /^[A-Z][A-Z0-9_]*$/.test(sentCode) ? sentCode : statusKind;
  const sentKind = trailer(ERROR_TRAILERS.kind);
  const kind: ErrorKind = isErrorKind(sentKind) ? sentKind : isErrorKind(code) ? code : statusKind;
  let details: Record<string, unknown> = {};
  const rawDetails = trailer(ERROR_TRAILERS.details);
  if (rawDetails instanceof Uint8Array) {
    try {
      // Buffer, not a module-level TextDecoder: building one costs every short process ~0.1 ms.
      const text = Buffer.from(rawDetails.buffer, rawDetails.byteOffset, rawDetails.byteLength);
      const parsed: unknown = JSON.parse(text.toString("utf8"));
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        details = parsed as Record<string, unknown>;
      }
    } catch {
      // Undecodable details are dropped; the code and message still stand.
    }
  }
  const leaderId = trailer(ERROR_TRAILERS.leaderId);
  if (typeof leaderId === "string" && leaderId !== "") details.leaderId = leaderId;
  const leaderAddress = trailer(ERROR_TRAILERS.leaderAddress);
  if (typeof leaderAddress === "string" && leaderAddress !== "") {
    details.leaderAddress = leaderAddress;
  }
  const text = message === "" ? `${grpcStatusName(status)} (gRPC status ${status})` : message;
  return new GrpcError(code, text, {
    kind,
    grpcStatus: status,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  });
}

/** The details an error carried as JSON text (a batch item's `details_json`); `{}` when none or unreadable. */
export function parseDetailsJson(text: string): Record<string, unknown> {
  if (text === "") return {};
  try {
    return jsonSafeDetails(JSON.parse(text));
  } catch {
    return {};
  }
}
