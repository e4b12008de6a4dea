// The lean entry `@ipam/grpc-server/lean`: the node API (`ipam.v1.Ipam`) messages and a unary
// client over node:http2. It must never import @grpc/grpc-js nor the Cluster/Raft code.

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
export {
  AddressCountsSchema,
  AllocatedAddressSchema,
  AllocateRequestSchema,
  AllocateResponseSchema,
  AllocationKeySchema,
  AllocationSchema,
  AttachmentSchema,
  CheckRequestSchema,
  CheckResponseSchema,
  DnsSchema,
  Family,
  FamilySchema,
  FamilySelection,
  FamilySelectionSchema,
  file_ipam_v1_ipam,
  GarbageCollectRequestSchema,
  GarbageCollectResponseSchema,
  GetNodeBlocksRequestSchema,
  GetNodeBlocksResponseSchema,
  GetPoolStatsRequestSchema,
  GetPoolStatsResponseSchema,
  Ipam,
  ListAllocationsRequestSchema,
  ListAllocationsResponseSchema,
  NodeBlockSchema,
  ReadyState,
  ReadyStateSchema,
  ReleaseRequestSchema,
  ReleaseResponseSchema,
  RouteSchema,
  StatusRequestSchema,
  StatusResponseSchema,
  SubnetStatsSchema,
} from "./gen/ipam/v1/ipam_pb.js";
export type { GrpcErrorCode, GrpcErrorOptions } from "./grpc-error.js";
export { GrpcError } from "./grpc-error.js";
export type { LeanIpamClient, LeanIpamClientOptions } from "./lean-client.js";
export { createLeanIpamClient, decodeGrpcMessage, grpcTimeout } from "./lean-client.js";
export type { GrpcStatusName } from "./status-codes.js";
export { GRPC_STATUS, grpcStatusName } from "./status-codes.js";
