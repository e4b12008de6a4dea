// Public API of @ipam/raft: name every export explicitly (no `export *`).
export {
  decodeEntries,
  decodeMessages,
  encodeEntries,
  encodeMessages,
  MESSAGE_CODEC_VERSION,
} from "./codec/message-codec.js";
export type { ConfChangeRecord } from "./core/conf-change.js";
export {
  applyConfChange,
  decodeConfChangeEntry,
  EMPTY_CONF,
  encodeConfChangeEntry,
} from "./core/conf-change.js";
export type { RaftErrorCode } from "./core/raft-error.js";
export { RaftError } from "./core/raft-error.js";
export { createSeededRandom } from "./core/random.js";
export { RawNode } from "./core/raw-node.js";
export { createRaftNode, RaftNode } from "./node/raft-node.js";
export type {
  RaftLogger,
  RaftNodeHooks,
  RaftNodeOptions,
  RaftNodeState,
  RaftNodeStatus,
  RawNodePassThroughOptions,
  ReadOptions,
  SnapshotTaken,
} from "./node/raft-node-options.js";
export { createRealClock } from "./node/real-clock.js";
export { MemoryStorage } from "./storage/memory-storage.js";
export type {
  AppendMessage,
  AppendResponseMessage,
  Clock,
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  InitialState,
  Message,
  MessageBase,
  MessageType,
  PeerProgress,
  PreVoteMessage,
  PreVoteResponseMessage,
  ProgressState,
  ProposalTicket,
  RaftStatus,
  RandomSource,
  RawNodeApi,
  RawNodeOptions,
  ReadIndexMessage,
  ReadIndexResponseMessage,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotMessage,
  SnapshotMeta,
  SnapshotResponseMessage,
  SoftState,
  StateMachine,
  Storage,
  TimeoutNowMessage,
  TimerHandle,
  Transport,
  VoteMessage,
  VoteRequestFields,
  VoteResponseMessage,
} from "./types.js";
