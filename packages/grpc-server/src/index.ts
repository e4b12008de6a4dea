// Public API of @ipam/grpc-server: name every export explicitly (no `export *`).

export type { AccessPolicy, AccessRule } from "./access-policy.js";
export { IPAM_ACCESS_POLICY, isOpenMethod } from "./access-policy.js";
export type { AuthorizationOptions } from "./call-authorization.js";
export {
  authorizationInterceptor,
  callerIdentity,
  PEER_IDENTITY_HEADER,
} from "./call-authorization.js";
export type { ServerHooks } from "./call-hooks.js";
export type { ClientTlsOptions, ClusterClient, GrpcClientOptions, IpamClient } from "./client.js";
export { createClusterClient, createIpamClient } from "./client.js";
export type { ClientTlsFiles } from "./client-tls-files.js";
export { CLIENT_TLS_FLAGS, readClientTls } from "./client-tls-files.js";
export type { CallOptions, ServiceClient } from "./client-types.js";
export type { ClusterReconnect } from "./cluster-links.js";
export { clusterChannelOptions, clusterReconnect, DEFAULT_ELECTION_MS } from "./cluster-links.js";
export type { EncodedError } from "./error-mapping.js";
export {
  decodeError,
  ERROR_TRAILERS,
  encodeError,
  grpcStatusForKind,
  KIND_TO_GRPC_STATUS,
  kindForGrpcStatus,
} from "./error-mapping.js";
export type { FieldRule, MessageLimits, MessageRules } from "./field-rules.js";
export { checkMessage } from "./field-rules.js";
export type {
  RaftBatch,
  SnapshotAck,
  SnapshotChunk,
} from "./gen/ipam/raft/v1/raft_pb.js";
export {
  file_ipam_raft_v1_raft,
  Raft,
  RaftBatchSchema,
  SnapshotAckSchema,
  SnapshotChunkSchema,
} from "./gen/ipam/raft/v1/raft_pb.js";
export type {
  AddLearnerRequest,
  AddressEvent,
  AddressHistoryRequest,
  AddressHistoryResponse,
  AddSubnetRequest,
  AddSubnetResponse,
  AddVoterRequest,
  AllocateDirectRequest,
  AllocateDirectResponse,
  ApplyTopologyRequest,
  ApplyTopologyResponse,
  Block,
  BlockReport,
  ClaimBlockRequest,
  ClaimBlockResponse,
  DeregisterNodeRequest,
  DeregisterNodeResponse,
  DirectAllocateItem,
  DirectAllocateResult,
  DirectAllocation,
  DrainSubnetRequest,
  DrainSubnetResponse,
  ForecastEntry,
  ForecastRequest,
  ForecastResponse,
  GetLeaderRequest,
  GetLeaderResponse,
  GetNodeLeasesRequest,
  GetNodeLeasesResponse,
  GetStatsRequest,
  GetStatsResponse,
  GetStatusRequest,
  GetStatusResponse,
  GetTopologyRequest,
  GetTopologyResponse,
  ItemError,
  LeaseBlockRequest,
  LeaseBlockResponse,
  ListBlocksRequest,
  ListBlocksResponse,
  Member,
  MembershipResponse,
  RegisterNodeRequest,
  RegisterNodeResponse,
  ReleaseBlockRequest,
  ReleaseBlockResponse,
  ReleaseDirectRequest,
  ReleaseDirectResponse,
  ReleaseDirectResult,
  RemoveMemberRequest,
  RemoveSubnetRequest,
  RemoveSubnetResponse,
  ReportAddressEventsRequest,
  ReportAddressEventsResponse,
  ReportNodeRequest,
  ReportNodeResponse,
  Reservation,
  ReserveRangeRequest,
  ReserveRangeResponse,
  StatsEntry,
  Subnet,
  SubnetHolder,
  TransferLeadershipRequest,
  UnreserveRangeRequest,
  UnreserveRangeResponse,
} from "./gen/ipam/v1/cluster_pb.js";
export {
  AddLearnerRequestSchema,
  AddressEventSchema,
  AddressHistoryRequestSchema,
  AddressHistoryResponseSchema,
  AddSubnetRequestSchema,
  AddSubnetResponseSchema,
  AddVoterRequestSchema,
  AllocateDirectRequestSchema,
  AllocateDirectResponseSchema,
  ApplyTopologyRequestSchema,
  ApplyTopologyResponseSchema,
  BlockReportSchema,
  BlockSchema,
  ClaimBlockRequestSchema,
  ClaimBlockResponseSchema,
  Cluster,
  DeregisterNodeRequestSchema,
  DeregisterNodeResponseSchema,
  DirectAllocateItemSchema,
  DirectAllocateResultSchema,
  DirectAllocationSchema,
  DrainSubnetRequestSchema,
  DrainSubnetResponseSchema,
  ForecastEntrySchema,
  ForecastRequestSchema,
  ForecastResponseSchema,
  file_ipam_v1_cluster,
  GetLeaderRequestSchema,
  GetLeaderResponseSchema,
  GetNodeLeasesRequestSchema,
  GetNodeLeasesResponseSchema,
  GetStatsRequestSchema,
  GetStatsResponseSchema,
  GetStatusRequestSchema,
  GetStatusResponseSchema,
  GetTopologyRequestSchema,
  GetTopologyResponseSchema,
  ItemErrorSchema,
  LeaseBlockRequestSchema,
  LeaseBlockResponseSchema,
  ListBlocksRequestSchema,
  ListBlocksResponseSchema,
  MemberRole,
  MemberRoleSchema,
  MemberSchema,
  MembershipResponseSchema,
  RaftRole,
  RaftRoleSchema,
  RegisterNodeRequestSchema,
  RegisterNodeResponseSchema,
  ReleaseBlockRequestSchema,
  ReleaseBlockResponseSchema,
  ReleaseDirectRequestSchema,
  ReleaseDirectResponseSchema,
  ReleaseDirectResultSchema,
  RemoveMemberRequestSchema,
  RemoveSubnetRequestSchema,
  RemoveSubnetResponseSchema,
  ReportAddressEventsRequestSchema,
  ReportAddressEventsResponseSchema,
  ReportNodeRequestSchema,
  ReportNodeResponseSchema,
  ReservationSchema,
  ReserveRangeRequestSchema,
  ReserveRangeResponseSchema,
  StatsEntrySchema,
  StatsLevel,
  StatsLevelSchema,
  SubnetHolderSchema,
  SubnetSchema,
  TransferLeadershipRequestSchema,
  UnreserveRangeRequestSchema,
  UnreserveRangeResponseSchema,
} from "./gen/ipam/v1/cluster_pb.js";
// Generated messages, enums and service descriptors of ipam.v1 and ipam.raft.v1.
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
export type { UnixTransport } from "./h2/unix-stream.js";
export type { RefusalReason } from "./http2-guard.js";
export type { LeanIpamClient, LeanIpamClientOptions } from "./lean-client.js";
export { createLeanIpamClient } from "./lean-client.js";
export type { IdentityRules, PeerIdentity, PeerRole } from "./peer-identity.js";
export { describePeer, PEER_ROLES, peerIdentity } from "./peer-identity.js";
export type {
  GrpcRaftTransportOptions,
  NotMemberRefusal,
  PeerRefusal,
  RaftMessageCodec,
  RaftTransportStats,
} from "./raft-transport.js";
export { GrpcRaftTransport, raftMessageCodec } from "./raft-transport.js";
export type { ServiceLimits } from "./request-limits.js";
export {
  CLUSTER_REQUEST_LIMITS,
  IPAM_REQUEST_LIMITS,
  MAX_ADDRESSES_PER_CALL,
  MAX_DIRECT_BATCH,
  MAX_NODE_LABELS,
  MAX_REPORTED_ADDRESSES,
  MAX_REPORTED_BLOCKS,
  MAX_REPORTED_EVENTS,
  MAX_TOPOLOGY_BYTES,
  MAX_VALID_ATTACHMENTS,
} from "./request-limits.js";
export type {
  GrpcServer,
  GrpcServerOptions,
  IpamServerOptions,
  ServingStatus,
  TlsOptions,
} from "./server.js";
export { createIpamServer, readTlsFiles, startGrpcServer } from "./server.js";
export type { ServerLimits } from "./server-limits.js";
export { DEFAULT_SERVER_LIMITS } from "./server-limits.js";
export { grpcServiceDefinition, methodLabel, methodPath } from "./service-definition.js";
export type { ClusterHandlers, IpamHandlers } from "./services.js";
export { createClusterService, createIpamService } from "./services.js";
export type { GrpcStatusName } from "./status-codes.js";
export { GRPC_STATUS, grpcStatusName } from "./status-codes.js";
export { isLoopbackHost } from "./tcp-address.js";
export type {
  CallContext,
  ServiceBinding,
  ServicePolicy,
  UnaryHandler,
  UnaryHandlers,
  UnaryServiceOptions,
} from "./unary-service.js";
export { createUnaryService } from "./unary-service.js";
