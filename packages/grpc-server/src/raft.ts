// `@ipam/grpc-server/raft`: the Raft transport over gRPC. Its own entry so that the main entry
// (node and cluster APIs) never loads @ipam/raft, an optional peer dependency that only a
// process running a Raft member installs. Name every export explicitly (no `export *`).

export type {
  GrpcRaftTransportOptions,
  NotMemberRefusal,
  PeerRefusal,
  RaftMessageCodec,
  RaftTransportStats,
} from "./raft-transport.js";
export { GrpcRaftTransport, raftMessageCodec } from "./raft-transport.js";
