// Public API of @ipam/grpc-client (name every export explicitly, no `export *`): the node API
// (`ipam.v1.Ipam`) messages and a unary client over a minimal HTTP/2 client (not node:http2,
// which costs a third of a Node start) on a unix socket made on libuv's pipe handle (not
// node:net, which loads node:stream), and the error model on the wire (status codes, trailers,
// the kind tables) that servers share. It must never import @grpc/grpc-js, @ipam/raft nor the
// Cluster/Raft generated code: those are `@ipam/grpc-client/messages` and @ipam/grpc-server.

export type { CallOptions, ServiceClient } from "./client-types.js";
export type { EncodedError } from "./error-mapping.js";
export {
  decodeError,
  ERROR_TRAILERS,
  encodeError,
  grpcStatusForKind,
  jsonSafeDetails,
  KIND_TO_GRPC_STATUS,
  kindForGrpcStatus,
  parseDetailsJson,
} from "./error-mapping.js";
export type {
  AddressCounts,
  AllocatedAddress,
  AllocateRequest,
  AllocateResponse,
  Allocation,
  AllocationKey,
  Attachment,
  CheckRequest,
  CheckResponse,
  Dns,
  GarbageCollectRequest,
  GarbageCollectResponse,
  GetNodeBlocksRequest,
  GetNodeBlocksResponse,
  GetPoolStatsRequest,
  GetPoolStatsResponse,
  GetRuntimeViewRequest,
  GetRuntimeViewResponse,
  ListAllocationsRequest,
  ListAllocationsResponse,
  NodeBlock,
  ReleaseRequest,
  ReleaseResponse,
  Route,
  RuntimeView,
  StatusRequest,
  StatusResponse,
  SubnetStats,
} from "./gen/ipam/v1/ipam_pb.js";
// Enums only: the schemas (`*Schema`, `Ipam`) would load protobuf-es's reflection runtime;
// take them from `@ipam/grpc-client/messages` when needed.
export { Family, FamilySelection, ReadyState } from "./gen/ipam/v1/ipam_pb.js";
export { IPAM_METHODS } from "./gen/lean/ipam_codec.js";
export type { GrpcErrorCode, GrpcErrorOptions } from "./grpc-error.js";
export { GrpcError } from "./grpc-error.js";
export type { UnixTransport } from "./h2/unix-stream.js";
export type { LeanIpamClient, LeanIpamClientOptions } from "./lean-client.js";
export { createLeanIpamClient, decodeGrpcMessage, grpcTimeout } from "./lean-client.js";
export type { GrpcStatusName } from "./status-codes.js";
export { GRPC_STATUS, grpcStatusName } from "./status-codes.js";
