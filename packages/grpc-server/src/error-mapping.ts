import { GrpcError } from "./grpc-error.js";
import { GRPC_STATUS, type GrpcStatusName, grpcStatusName } from "./status-codes.js";

/** Trailer names ipamd uses to carry its error codes next to the gRPC status. */
export const ERROR_TRAILERS = {
  /** The ipamd error code (`POOL_EXHAUSTED`), ASCII. */
  code: "ipam-error-code",
  /** The error's `details` as UTF-8 JSON (binary header, base64 on the wire). */
  details: "ipam-error-details-bin",
  /** For `NOT_LEADER`: the leader's Raft id, when known. */
  leaderId: "ipam-leader-id",
  /** For `NOT_LEADER`: the leader's cluster API address (`host:port`), when known. */
  leaderAddress: "ipam-leader-address",
} as const;

/** The fixed part of the ipamd code → gRPC status mapping (see docs/grpc.md for the why). */
export const IPAM_CODE_TO_GRPC_STATUS: Readonly<Record<string, GrpcStatusName>> = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "ALREADY_EXISTS",
  POOL_EXHAUSTED: "RESOURCE_EXHAUSTED",
  NOT_LEADER: "FAILED_PRECONDITION",
  TIMEOUT: "DEADLINE_EXCEEDED",
  UNAVAILABLE: "UNAVAILABLE",
  SHUTTING_DOWN: "UNAVAILABLE",
  INTERNAL: "INTERNAL",
  CANCELLED: "CANCELLED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  UNIMPLEMENTED: "UNIMPLEMENTED",
};

/**
 * The gRPC status for an ipamd error code. Codes outside the fixed table follow their name:
 * `INVALID_*` → INVALID_ARGUMENT, `*_NOT_FOUND` / `UNKNOWN_*` → NOT_FOUND, `*_EXHAUSTED` →
 * RESOURCE_EXHAUSTED, `*CONFLICT*` / `*OVERLAP*` / `DUPLICATE_*` / `ALREADY_*` → ALREADY_EXISTS,
 * `*_TIMEOUT` → DEADLINE_EXCEEDED; anything else is UNKNOWN (the code still travels in the
 * trailer, so nothing is lost).
 */
export function grpcStatusForIpamCode(code: string): GrpcStatusName {
  const fixed = IPAM_CODE_TO_GRPC_STATUS[code];
  if (fixed !== undefined) return fixed;
  if (code.startsWith("INVALID_")) return "INVALID_ARGUMENT";
  if (code.endsWith("_NOT_FOUND") || code.startsWith("UNKNOWN_")) return "NOT_FOUND";
  if (code.endsWith("_EXHAUSTED")) return "RESOURCE_EXHAUSTED";
  if (
    code.includes("CONFLICT") ||
    code.includes("OVERLAP") ||
    code.startsWith("DUPLICATE_") ||
    code.startsWith("ALREADY_")
  ) {
    return "ALREADY_EXISTS";
  }
  if (code.endsWith("_TIMEOUT")) return "DEADLINE_EXCEEDED";
  return "UNKNOWN";
}

const STATUS_TO_CODE: Readonly<Partial<Record<GrpcStatusName, string>>> = {
  CANCELLED: "CANCELLED",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  DEADLINE_EXCEEDED: "TIMEOUT",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "CONFLICT",
  ABORTED: "CONFLICT",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  UNIMPLEMENTED: "UNIMPLEMENTED",
  INTERNAL: "INTERNAL",
  DATA_LOSS: "INTERNAL",
  UNAVAILABLE: "UNAVAILABLE",
};

/** The error code a client reports for a status that came without an `ipam-error-code`. */
export function ipamCodeForGrpcStatus(status: number): string {
  return STATUS_TO_CODE[grpcStatusName(status)] ?? "UNKNOWN";
}

/** A value whose `code` is a string: the IpamError shape every package's error class has. */
export interface CodedError {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

/** True for anything with a string `code` and string `message` (every project error class). */
export function isCodedError(value: unknown): value is CodedError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    /^[A-Z][A-Z0-9_]*$/.test((value as { code: string }).code) &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

/** What a server sends for a failed call, independent of the gRPC library. */
export interface EncodedError {
  /** Numeric gRPC status. */
  readonly status: number;
  /** `grpc-message`: the error's message, or `internal error` for untyped errors. */
  readonly message: string;
  /** The ipamd code (`INTERNAL` for untyped errors). */
  readonly code: string;
  /** JSON-safe details (empty for untyped errors: nothing internal leaks). */
  readonly details: Readonly<Record<string, unknown>>;
  /** Trailers to send, ASCII values except the `-bin` ones. */
  readonly trailers: ReadonlyArray<readonly [string, string | Uint8Array]>;
  /** True when the error had no ipamd code (it should be logged: it is a bug or an outage). */
  readonly untyped: boolean;
}

const encoder = new TextEncoder();

function jsonSafeDetails(details: unknown): Record<string, unknown> {
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
 * Translate any thrown value into what goes on the wire. Errors with an UPPER_SNAKE string
 * `code` keep their code, message and details; anything else becomes INTERNAL with the fixed
 * message `internal error` (no message, stack or cause leaves the process).
 */
export function encodeError(error: unknown): EncodedError {
  if (!isCodedError(error)) {
    return {
      status: GRPC_STATUS.INTERNAL,
      message: "internal error",
      code: "INTERNAL",
      details: {},
      trailers: [[ERROR_TRAILERS.code, "INTERNAL"]],
      untyped: true,
    };
  }
  const details = jsonSafeDetails(error.details);
  const trailers: Array<readonly [string, string | Uint8Array]> = [
    [ERROR_TRAILERS.code, error.code],
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
    status: GRPC_STATUS[grpcStatusForIpamCode(error.code)],
    message: error.message,
    code: error.code,
    details,
    trailers,
    untyped: false,
  };
}

/**
 * Build the client-side error for a failed call from its status, message and a trailer
 * lookup. The `code` is the server's `ipam-error-code` when present, else derived from the
 * status. Leader id and address, when sent, are merged into `details`.
 */
export function decodeError(
  status: number,
  message: string,
  trailer: (name: string) => string | Uint8Array | undefined,
): GrpcError {
  const sentCode = trailer(ERROR_TRAILERS.code);
  const code =
    typeof sentCode === "string" && /^[A-Z][A-Z0-9_]*$/.test(sentCode)
      ? sentCode
      : ipamCodeForGrpcStatus(status);
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
    grpcStatus: status,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  });
}
