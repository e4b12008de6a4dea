import type { RaftErrorCode } from "../core/raft-error.js";
import type {
  Clock,
  ConfState,
  NodeId,
  PeerProgress,
  RawNodeOptions,
  Role,
  StateMachine,
  Transport,
} from "../types.js";

/** A pino-compatible structured logger (object first, message second). */
export interface RaftLogger {
  debug(fields: Readonly<Record<string, unknown>>, message: string): void;
  info(fields: Readonly<Record<string, unknown>>, message: string): void;
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
  error(fields: Readonly<Record<string, unknown>>, message: string): void;
}

/**
 * Observation points for metrics (wire them to @ipam/metrics). Every hook is optional, called
 * synchronously from the node's event loop, and must not throw (an exception is logged and
 * ignored). Durations are in seconds.
 */
export interface RaftNodeHooks {
  /** The role changed (also called once at start with the initial role). */
  onRoleChange?(role: Role, term: number): void;
  /** The known leader changed (null: no leader known). */
  onLeaderChange?(leader: NodeId | null, term: number): void;
  /** A batch of committed entries was applied; `seconds` is the time spent in `apply`. */
  onApply?(entries: number, seconds: number, appliedIndex: number): void;
  /** A proposal settled: `"ok"` or the error code it was rejected with. */
  onProposal?(result: "ok" | RaftErrorCode, seconds: number): void;
  /** A ready batch was persisted (entries written, time spent in Storage). */
  onPersist?(entries: number, seconds: number): void;
  /** A local snapshot was taken and the log compacted. */
  onSnapshot?(index: number, bytes: number, seconds: number): void;
  /** The node stopped because Storage or the state machine failed; it must be restarted. */
  onFatal?(error: Error): void;
}

/**
 * The core options the driver passes through to `RawNode` unchanged (same meaning, same
 * defaults; tick counts are in ticks of `tickMs`). `random` becomes optional (default
 * `Math.random`); `applied` is the driver's to compute and is not an option.
 */
export type RawNodePassThroughOptions = Pick<
  RawNodeOptions,
  | "id"
  | "storage"
  | "bootstrap"
  | "electionTicks"
  | "heartbeatTicks"
  | "preVote"
  | "checkQuorum"
  | "maxInflightAppends"
  | "maxAppendBytes"
  | "snapshotChunkBytes"
> &
  Partial<Pick<RawNodeOptions, "random">>;

/**
 * Options of {@link createRaftNode}: the {@link RawNodePassThroughOptions} (documented on
 * `RawNodeOptions`) plus the driver's own. `storage` is owned by the caller (the node never
 * closes it; it calls `storage.flush()` in `stop()` when present).
 */
export interface RaftNodeOptions<Result = unknown> extends RawNodePassThroughOptions {
  /** The replicated application; called only from the node's event loop, in log order. */
  readonly stateMachine: StateMachine<Result>;
  /** Peer transport; the node closes it in `stop()`. */
  readonly transport: Transport;
  /** Time and timers (default: `performance.now` and global timers). */
  readonly clock?: Clock;
  /** Milliseconds per tick (default 100). */
  readonly tickMs?: number;
  /**
   * A leader sends its append messages BEFORE writing the same entries to its own log, so that
   * followers persist in parallel with it (dissertation §10.2.1; etcd does the same). Safe
   * because the core counts the leader's own copy only once it is durable (after `advance`), and
   * only for Ready batches that change neither term nor vote and carry no snapshot; every other
   * batch is persisted before anything is sent. Default true; false sends strictly after persisting.
   */
  readonly leaderSendsBeforePersist?: boolean;
  /** Proposals (and membership changes) waiting for apply before `propose` rejects `OVERLOADED` (default 4096). */
  readonly maxPendingProposals?: number;
  /** A proposal not applied within this many ms rejects with `TIMEOUT` (default 10 000). */
  readonly proposalTimeoutMs?: number;
  /** A linearizable read not served within this many ms rejects with `TIMEOUT` (default 10 000). */
  readonly readTimeoutMs?: number;
  /** Take a state-machine snapshot every this many applied entries (default 10 000; 0: never). */
  readonly snapshotThreshold?: number;
  /**
   * Entries kept in the log behind a snapshot so that slightly lagging followers catch up from
   * the log instead of a snapshot (default 1 000). Storage may compact more (SqliteStorage
   * compacts up to the snapshot).
   */
  readonly snapshotTrailingEntries?: number;
  /** A learner may be promoted when it is at most this many entries behind the commit index (default 64). */
  readonly maxPromoteLag?: number;
  /**
   * Defers the processing of new work to a later moment of the same event-loop cycle, so that
   * everything that arrives in one turn (proposals, messages) forms one Ready batch
   * (default `setImmediate`).
   */
  readonly schedule?: (run: () => void) => void;
  readonly logger?: RaftLogger;
  readonly hooks?: RaftNodeHooks;
}

/** Lifecycle state of a node. */
export type RaftNodeState = "running" | "stopped" | "failed";

/** A snapshot `RaftNode.snapshotNow()` took (or found current). */
export interface SnapshotTaken {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** Size of the state machine's snapshot, bytes. */
  readonly bytes: number;
  /** The first log index still stored after compaction. */
  readonly firstIndex: number;
}

/** A point-in-time view of a node for operators and metrics (`RaftNode.status()`). */
export interface RaftNodeStatus {
  readonly id: NodeId;
  readonly state: RaftNodeState;
  readonly role: Role;
  readonly term: number;
  /** Candidate this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  /** The leader's address from the membership, when known. */
  readonly leaderAddress: string | null;
  readonly commit: number;
  /**
   * The highest commit index heard from the current term's leader (this node's own commit on
   * the leader; 0 before a leader was heard from). `leaderCommit - applied` is how far this node
   * is behind; a gap that does not close means it does not catch up.
   */
  readonly leaderCommit: number;
  /** Last index applied to the state machine by this node. */
  readonly applied: number;
  readonly lastIndex: number;
  /** Index of the latest snapshot held in Storage (0: none). */
  readonly snapshotIndex: number;
  /** The latest membership known to this node (may include a change not yet committed). */
  readonly members: ConfState;
  /**
   * The log index `members` comes from (its config entry, or the snapshot it was restored
   * from; 0: the bootstrap configuration). `members` is committed when this is ≤ `commit`.
   */
  readonly membersIndex: number;
  /** Leader only: replication progress of every member (this node included). */
  readonly progress: Readonly<Record<NodeId, PeerProgress>>;
  readonly pendingProposals: number;
  readonly pendingReads: number;
}

/** Options of `RaftNode.read`. */
export interface ReadOptions {
  /**
   * Serve from this node's state machine right away, without a ReadIndex round: fast, but may
   * miss writes committed elsewhere (bounded staleness is not guaranteed). Default false.
   */
  readonly stale?: boolean;
}
