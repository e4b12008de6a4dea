// The lean entry `@ipam/grpc-server/lean`: the node API (`ipam.v1.Ipam`) messages and a unary
// client over a minimal HTTP/2 client (not node:http2, which costs a third of a Node start) on a
// unix socket made on libuv's pipe handle (not node:net, which loads node:stream). It must never
// import @grpc/grpc-js nor the Cluster/Raft code.

export type { CallOptions, ServiceClient } from "./client-types.js";
export { ERROR_TRAILERS } from "./error-mapping.js";
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
  ListAllocationsRequest,
  ListAllocationsResponse,
  NodeBlock,
  ReleaseRequest,
  ReleaseResponse,
  Route,
  StatusRequest,
  StatusResponse,
  SubnetStats,
} from "./gen/ipam/v1/ipam_pb.js";
// Enums only: the schemas (`*Schema`, `Ipam`) would load protobuf-es's reflection runtime;
// take them from the main entry when needed.
export { Family, FamilySelection, ReadyState } from "./gen/ipam/v1/ipam_pb.js";
export { IPAM_METHODS } from "./gen/lean/ipam_codec.js";
export type { GrpcErrorCode, GrpcErrorOptions } from "./grpc-error.js";
export { GrpcError } from "./grpc-error.js";
export type { UnixTransport } from "./h2/unix-stream.js";
export type { LeanIpamClient, LeanIpamClientOptions } from "./lean-client.js";
export { createLeanIpamClient, decodeGrpcMessage, grpcTimeout } from "./lean-client.js";
export type { GrpcStatusName } from "./status-codes.js";
export { GRPC_STATUS, grpcStatusName } from "./status-codes.js";
