/** An address family as the other ipamd packages spell it (`@ipam/bitmap`'s `IpFamily`). */
export type Family = 4 | 6;

/** The value of the `family` label: `ipv4` or `ipv6`. */
export type FamilyLabel = "ipv4" | "ipv6";

/** Renders a family as its label value. */
export function familyLabel(family: Family): FamilyLabel {
  return family === 4 ? "ipv4" : "ipv6";
}

/**
 * The `result` label of an operation: `ok`, or the stable UPPER_SNAKE error code of the failure
 * (`POOL_EXHAUSTED`, `NOT_LEADER`, `TIMEOUT`, ...). Anything else is folded into `INTERNAL` so a
 * free-form string can never create a new series per message.
 */
export type ResultLabel = "ok" | (string & {});

const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * Normalises a result given as a string: `ok` and UPPER_SNAKE codes of at most 64 characters
 * pass through, anything else becomes `INTERNAL`.
 */
export function normaliseResult(result: string): ResultLabel {
  return result === "ok" || CODE_PATTERN.test(result) ? result : "INTERNAL";
}

/**
 * The `result` label for a thrown value: its `code` when that is an UPPER_SNAKE string (every
 * ipamd error class carries one), `INTERNAL` otherwise (plain `Error`s, strings, numeric codes).
 */
export function resultOf(error: unknown): ResultLabel {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { readonly code: unknown }).code;
    if (typeof code === "string" && CODE_PATTERN.test(code)) return code;
  }
  return "INTERNAL";
}

/** gRPC status code names, indexed by their numeric value (grpc/grpc `doc/statuscodes.md`). */
export const GRPC_CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** The value of the `code` label of gRPC metrics. */
export type GrpcCodeName = (typeof GRPC_CODE_NAMES)[number];

/**
 * The `code` label for a gRPC status given as its number (0-16) or its name. Unknown numbers
 * and names become `UNKNOWN`, as gRPC itself treats them.
 */
export function grpcCodeLabel(code: number | GrpcCodeName): GrpcCodeName {
  if (typeof code === "number") return GRPC_CODE_NAMES[code] ?? "UNKNOWN";
  return (GRPC_CODE_NAMES as readonly string[]).includes(code) ? code : "UNKNOWN";
}

/**
 * The `method` label for a gRPC method: the path without its leading slash
 * (`/ipam.v1.Ipam/Allocate` → `ipam.v1.Ipam/Allocate`). Callers must pass only methods the
 * server implements (map anything else to `unknown`): a client-chosen path would be an unbounded
 * label.
 */
export function grpcMethodLabel(method: string): string {
  return method.startsWith("/") ? method.slice(1) : method;
}
