/**
 * gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) as plain
 * numbers, so that code which must not load @grpc/grpc-js (the lean client) can use them.
 */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** Name of a gRPC status code (`"RESOURCE_EXHAUSTED"`). */
export type GrpcStatusName = keyof typeof GRPC_STATUS;

const NAMES: readonly GrpcStatusName[] = Object.keys(GRPC_STATUS) as GrpcStatusName[];

/** The name of a numeric gRPC status; numbers outside 0..16 are `UNKNOWN` (per the spec). */
export function grpcStatusName(status: number): GrpcStatusName {
  return NAMES[status] ?? "UNKNOWN";
}
