/**
 * Contracts of @ipam/raft: the data the consensus core exchanges with its driver, and the
 * named seams (Storage, StateMachine, Transport, Clock) that the driver does I/O through.
 *
 * Everything here is plain data (no classes) so that it can be encoded by the binary codec,
 * carried by any transport and compared structurally in tests.
 *
 * Indexes and terms are non-negative safe integers. Index 0 / term 0 mean "nothing": the
 * first log entry has index 1, the first real term is 1.
 */

/** Identity of a Raft member, stable for the life of the member (not its address). */
export type NodeId = string;

/**
 * Kind of a log entry.
 * - `normal`: application data, passed to {@link StateMachine.apply}.
 * - `config`: a membership change; `data` is the core's encoding of a {@link ConfChange} and the
 *   resulting {@link ConfState} (decode with `decodeConfChangeEntry`). Not given to the state
 *   machine.
 * - `noop`: appended by every new leader at the start of its term (§5.4.2 / §8 of the Raft
 *   paper); `data` is empty. Not given to the state machine.
 */
export type EntryType = "normal" | "config" | "noop";

/** One log entry. Entries are immutable once created; `data` is never mutated by the core. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be durable before any message that depends on it is sent (Figure 2). */
export interface HardState {
  /** Latest term this server has seen. */
  readonly term: number;
  /** Candidate that received this server's vote in `term`, or null. */
  readonly vote: NodeId | null;
  /** Highest index known to be committed. Persisting it is an optimisation, not a requirement. */
  readonly commit: number;
}

/**
 * A cluster membership configuration. `voters` and `learners` are disjoint and sorted.
 * `addresses` optionally maps members to their network address (from {@link ConfChange.address})
 * so that a follower can tell a client where the leader is.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly addresses?: Readonly<Record<NodeId, string>>;
}

/** Metadata of a snapshot: the last log entry it covers and the configuration at that entry. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

/** A state machine snapshot as produced by {@link StateMachine.snapshot}, plus its metadata. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** A membership change. Changes are applied one server at a time (dissertation §4.1). */
export interface ConfChange {
  /**
   * - `add-voter`: add a new server directly as a voter (prefer add-learner then promote).
   * - `add-learner`: add a non-voting member that receives the log but does not count for
   *   quorums or elections.
   * - `promote`: turn an existing learner into a voter.
   * - `remove`: remove a voter or learner.
   */
  readonly type: "add-voter" | "add-learner" | "promote" | "remove";
  readonly node: NodeId;
  /** Network address of the node, recorded in {@link ConfState.addresses}. */
  readonly address?: string;
}

/** Fields every message carries. `term` is the sender's term (see each message for nuances). */
export interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** AppendEntries (Figure 2). Also the probe sent to find where a follower's log matches. */
export interface AppendMessage extends MessageBase {
  readonly type: "append";
  /** Index of the entry immediately preceding `entries`. */
  readonly prevIndex: number;
  /** Term of the entry at `prevIndex`. */
  readonly prevTerm: number;
  /** Entries to store, contiguous, starting at `prevIndex + 1`; may be empty. */
  readonly entries: readonly Entry[];
  /** Leader's commit index. */
  readonly commit: number;
}

/** Reply to {@link AppendMessage}. */
export interface AppendResponseMessage extends MessageBase {
  readonly type: "append-response";
  /** True when the follower's log does not contain an entry at `prevIndex` with `prevTerm`. */
  readonly reject: boolean;
  /**
   * On success: the index of the last entry now known to match the leader's log
   * (`prevIndex + entries.length`). On reject: the `prevIndex` that was rejected.
   */
  readonly index: number;
  /**
   * On reject only: fast backtracking hint (dissertation §5.3 / etcd). `index` is the largest
   * index in the follower's log that is ≤ the rejected index and whose term is ≤ the rejected
   * `prevTerm`; `term` is the term of that entry (0 when the follower's log is empty there).
   * The leader retries from the largest index ≤ `hint.index` where its own term ≤ `hint.term`.
   */
  readonly rejectHint?: { readonly index: number; readonly term: number };
}

/** Fields of a (pre-)vote request. */
export interface VoteRequestFields extends MessageBase {
  /** Index of the candidate's last log entry (§5.4.1). */
  readonly lastIndex: number;
  /** Term of the candidate's last log entry (§5.4.1). */
  readonly lastTerm: number;
  /**
   * True when the election was started by a leadership transfer (TimeoutNow): voters then grant
   * even if they heard from a leader recently (the "leader lease" check is skipped).
   */
  readonly transfer: boolean;
}

/** RequestVote (Figure 2). `term` is the candidate's new term. */
export interface VoteMessage extends VoteRequestFields {
  readonly type: "vote";
}

/**
 * PreVote (dissertation §9.6): "would you vote for me in `term`?" `term` is the term the
 * candidate WOULD campaign in (its current term + 1); no one changes term because of it.
 */
export interface PreVoteMessage extends VoteRequestFields {
  readonly type: "prevote";
}

/** Reply to {@link VoteMessage}. */
export interface VoteResponseMessage extends MessageBase {
  readonly type: "vote-response";
  readonly reject: boolean;
}

/** Reply to {@link PreVoteMessage}. When granted, `term` echoes the request's term. */
export interface PreVoteResponseMessage extends MessageBase {
  readonly type: "prevote-response";
  readonly reject: boolean;
}

/** Leader heartbeat: asserts leadership and carries the commit index (capped to the match). */
export interface HeartbeatMessage extends MessageBase {
  readonly type: "heartbeat";
  readonly commit: number;
  /** ReadIndex round identifier, echoed back in the response (empty when unused). */
  readonly context: Uint8Array;
}

/** Reply to {@link HeartbeatMessage}. */
export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: "heartbeat-response";
  /** Echo of {@link HeartbeatMessage.context}. */
  readonly context: Uint8Array;
}

/**
 * One chunk of InstallSnapshot (Figure 13 of the paper). A snapshot is sent as consecutive
 * chunks; the follower installs it once it has received the chunk with `done: true` and all bytes
 * before it. A chunk at an unexpected offset is answered with the offset the follower expects.
 */
export interface SnapshotMessage extends MessageBase {
  readonly type: "snapshot";
  readonly meta: SnapshotMeta;
  /** Byte offset of `data` within the whole snapshot data. */
  readonly offset: number;
  /** Total size of the snapshot data in bytes. */
  readonly total: number;
  readonly data: Uint8Array;
  /** True on the last chunk. */
  readonly done: boolean;
}

/** Reply to {@link SnapshotMessage}. */
export interface SnapshotResponseMessage extends MessageBase {
  readonly type: "snapshot-response";
  /** `meta.index` of the snapshot being transferred. */
  readonly index: number;
  /** Number of bytes the follower holds contiguously from offset 0 (the next offset it wants). */
  readonly offset: number;
  /** True when the follower refuses the transfer (stale term or unknown snapshot). */
  readonly reject: boolean;
  /** True once the whole snapshot has been received and handed to the driver to install. */
  readonly done: boolean;
}

/** Leadership transfer (dissertation §3.10): "start an election now, skipping the timeout". */
export interface TimeoutNowMessage extends MessageBase {
  readonly type: "timeout-now";
}

/** A follower forwarding a ReadIndex request to the leader (dissertation §6.4). */
export interface ReadIndexMessage extends MessageBase {
  readonly type: "read-index";
  readonly context: Uint8Array;
}

/** The leader's answer to {@link ReadIndexMessage}. */
export interface ReadIndexResponseMessage extends MessageBase {
  readonly type: "read-index-response";
  /** The read index (leader's commit index when the read was confirmed); 0 when rejected. */
  readonly index: number;
  readonly context: Uint8Array;
  /** True when the receiver was not (or no longer) a leader able to serve the read. */
  readonly reject: boolean;
}

/** Every message the core sends or accepts, discriminated by `type`. */
export type Message =
  | AppendMessage
  | AppendResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | PreVoteMessage
  | PreVoteResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotMessage
  | SnapshotResponseMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

/** The `type` discriminator of {@link Message}. */
export type MessageType = Message["type"];

/** Role of a node. Learners are followers that never campaign. */
export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Volatile state useful to the driver and operators; never needs persisting. */
export interface SoftState {
  readonly role: Role;
  /** Leader of the current term as far as this node knows, or null. */
  readonly leader: NodeId | null;
}

/**
 * A linearizable read point (ReadIndex, dissertation §6.4): once the local applied index is
 * ≥ `index`, a read of the local state machine reflects every write committed before the read
 * request was made. `context` is the caller's request id, as passed to `readIndex`.
 */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/**
 * A batch of work produced by the core (`RawNode.ready()`). THE CONTRACT — the driver must, in
 * this order:
 *
 * 1. Persist durably (fsync) `snapshot` (via {@link Storage.applySnapshot}), then `entries` (via
 *    {@link Storage.append}, which replaces any existing entries at those indexes), then
 *    `hardState` (via {@link Storage.setHardState}). All three must be durable BEFORE step 2:
 *    a vote or an append acknowledgement that is sent and then forgotten in a crash breaks
 *    election safety or durability.
 * 2. Send `messages` (each to `message.to`). Delivery is best-effort: messages may be dropped,
 *    duplicated or reordered; the core copes.
 * 3. If `snapshot` is set, restore the state machine from it ({@link StateMachine.restore}).
 *    Then apply `committedEntries` in order, exactly once (skip `noop` and `config` entries for
 *    the state machine; they are already handled by the core). Answer `readStates` once the
 *    applied index reaches each one's index.
 * 4. Call `advance()` on the core. No other `ready()` may be taken before that.
 *
 * `committedEntries` only ever contains entries that are already durable in Storage (persisted
 * by an earlier Ready, or in `entries` of this one, which step 1 persisted first).
 * Arrays are owned by the caller after `ready()` returns; entries must not be mutated.
 */
export interface Ready {
  /** Present when term, vote or commit changed since the last Ready. */
  readonly hardState?: HardState;
  /** Present when role or leader changed since the last Ready. */
  readonly softState?: SoftState;
  /** Entries to persist before sending messages (contiguous, ascending). */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and restore. */
  readonly snapshot?: Snapshot;
  /** Messages to send once everything above is durable. */
  readonly messages: readonly Message[];
  /** Entries to apply, contiguous, ascending, starting right after the last applied index. */
  readonly committedEntries: readonly Entry[];
  /** Confirmed ReadIndex requests. */
  readonly readStates: readonly ReadState[];
}

/** What a proposal became: the log position it was appended at, by a leader in `term`. */
export interface ProposalTicket {
  readonly index: number;
  readonly term: number;
}

/** Replication state of one follower as seen by the leader (etcd's Progress states). */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** Leader's view of one peer, for status and metrics. */
export interface PeerProgress {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  /** Append messages sent and not yet acknowledged. */
  readonly inflight: number;
  readonly learner: boolean;
  /** Heard from the peer within the last election timeout. */
  readonly recentActive: boolean;
}

/** A point-in-time view of a node for operators and metrics. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /**
   * The highest commit index this node heard from the leader of its current term (in appends,
   * heartbeats and ReadIndex answers); its own commit index on the leader; 0 before it heard
   * from a leader in this term. Above `applied` for long, it means this node does not catch up
   * (an operator signal: its log may have gone backwards).
   */
  readonly leaderCommit: number;
  readonly conf: ConfState;
  /**
   * The log index `conf` comes from: its `config` entry, else the snapshot the configuration
   * was restored from (an upper bound of the entry's index), 0 for the bootstrap configuration.
   */
  readonly confIndex: number;
  /** Set while a leadership transfer to this node is in progress (leader only). */
  readonly leadTransferee: NodeId | null;
  /** Per-peer replication progress; only populated on the leader. */
  readonly progress: Readonly<Record<NodeId, PeerProgress>>;
}

/** State the core reads at start-up. */
export interface InitialState {
  readonly hardState: HardState;
  /**
   * The configuration as of the latest snapshot (its `meta.conf`); empty voters and learners when
   * there is no snapshot. The core derives the current configuration from this plus the
   * `config` entries in the log after the snapshot.
   */
  readonly confState: ConfState;
}

/**
 * Durable Raft state (hashicorp's LogStore + StableStore + SnapshotStore in one seam).
 *
 * READ side (used by the core, synchronously, between driver calls): must reflect everything
 * persisted by previous Ready batches. WRITE side (used only by the driver): each call is durable
 * when it returns (or, for the in-memory implementation, "durable" within the process).
 *
 * Log positions: `firstIndex()` is the first entry still held (snapshot index + 1 after a
 * snapshot without trailing entries; 1 for an empty, never-compacted log). `lastIndex()` is the
 * last entry's index, or the snapshot index if no entries follow it, or 0.
 */
export interface Storage {
  /** Persisted hard state (zero state for a new node) and the latest snapshot's configuration. */
  initialState(): InitialState;
  /**
   * Entries in `[lo, hi)`, ascending. When `maxBytes` is given, stops before the total size of
   * `data` would exceed it, but always returns at least one entry when `lo < hi`.
   * Throws `RaftError` `COMPACTED` when `lo < firstIndex()` and `UNAVAILABLE` when
   * `hi > lastIndex() + 1`.
   *
   * Ownership: the returned array is new on every call and belongs to the caller (it may keep,
   * reorder or extend it). The `Entry` objects and their `data` bytes stay shared with Storage:
   * neither side may mutate them (entries are immutable once appended).
   */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /**
   * Term of the entry at `index`. Defined for `index` in `[firstIndex(), lastIndex()]`, for the
   * snapshot's index (its `meta.term`) and for 0 (term 0) when the log was never compacted;
   * `undefined` otherwise.
   */
  term(index: number): number | undefined;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot, or undefined if none was ever saved. */
  snapshot(): Snapshot | undefined;

  /**
   * Persist entries (contiguous, ascending). Any held entries with index ≥ `entries[0].index`
   * are discarded first (a conflicting suffix). `entries[0].index` must be ≤ `lastIndex() + 1`.
   */
  append(entries: readonly Entry[]): void;
  /** Persist the hard state (replaces the previous one). */
  setHardState(state: HardState): void;
  /**
   * Make `snapshot` the latest snapshot. If the log holds an entry at `meta.index` with term
   * `meta.term`, the log is kept as is (a locally taken snapshot: compact separately); otherwise
   * the whole log is discarded and `firstIndex()` becomes `meta.index + 1` (a snapshot installed
   * from the leader, §7). A snapshot older than the current one is ignored.
   */
  applySnapshot(snapshot: Snapshot): void;
  /**
   * Discard entries with index ≤ `index`. Requires `index` ≤ the latest snapshot's index (so
   * every discarded entry is covered by a snapshot); throws `RaftError` `INVALID_ARGUMENT`
   * otherwise.
   */
  compact(index: number): void;
  /**
   * Optional. Make durable whatever the implementation holds back for speed (SqliteStorage's
   * `commitDurability: "lazy"` keeps the commit index in memory). The driver calls it once in
   * `RaftNode.stop()`, after the last write and before the caller closes the underlying store;
   * a throw is logged and does not prevent the stop. Implementations whose every write is
   * durable when it returns omit it. Idempotent.
   */
  flush?(): void;
}

/**
 * The replicated application (hashicorp's FSM). Called by the driver only, in log order.
 * `apply` must be deterministic: the same entries in the same order give the same state and
 * results on every server (no clock, no randomness, no unordered iteration).
 */
export interface StateMachine<Result = unknown> {
  /** Apply the `data` of the committed normal entry at `index`; the result goes to its proposer. */
  apply(data: Uint8Array, index: number): Result;
  /** A complete, self-contained image of the current state (restore replaces all state). */
  snapshot(): Uint8Array;
  /** Replace the whole state with a snapshot produced by `snapshot()` on some server. */
  restore(data: Uint8Array): void;
  /**
   * For state machines that persist themselves: the last index they applied durably. The driver
   * then skips committed entries ≤ it after a restart (exactly-once). In-memory state machines
   * omit it and are rebuilt from the snapshot plus the log.
   */
  lastApplied?(): number;
}

/**
 * Peer transport (hashicorp's Transport). Best-effort, asynchronous, ordered per peer when
 * possible but the core tolerates loss, duplication and reordering.
 */
export interface Transport {
  /**
   * Queue `messages` (all addressed to `to`) for delivery; never throws on network errors and
   * never blocks (fire-and-forget). The transport owns `messages` after the call.
   */
  send(to: NodeId, messages: readonly Message[]): void;
  /** Register the single handler for incoming batches (a later call replaces the handler). */
  onReceive(handler: (messages: readonly Message[]) => void): void;
  /** Stop sending and receiving; pending sends may be dropped. Idempotent. */
  close(): Promise<void>;
}

/** Opaque handle of a scheduled timer. */
export type TimerHandle = unknown;

/**
 * Time seam for the driver (the core has no clock: it counts `tick()` calls). Production uses
 * the wall clock and `globalThis.setTimeout`; tests use a virtual clock.
 */
export interface Clock {
  /** Monotonic milliseconds (any origin). */
  now(): number;
  /** Call `callback` once after `delayMs` milliseconds. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancel a timer; a no-op when it already fired or was cancelled. */
  clearTimeout(handle: TimerHandle): void;
}

/** A source of uniformly distributed numbers in [0, 1). Inject a seeded one for determinism. */
export type RandomSource = () => number;

/** Options of the pure core (`new RawNode(options)`). Tick counts are in `tick()` calls. */
export interface RawNodeOptions {
  readonly id: NodeId;
  /** Read at construction and during operation; written only by the driver. */
  readonly storage: Storage;
  /** Randomness for election timeouts (seeded in tests and the simulator). */
  readonly random: RandomSource;
  /**
   * Base election timeout in ticks (default 10). Each election waits a random number of ticks in
   * `[electionTicks, 2 * electionTicks)`. Must be > `heartbeatTicks`.
   */
  readonly electionTicks?: number;
  /** Leader heartbeat interval in ticks (default 1). */
  readonly heartbeatTicks?: number;
  /** Run a PreVote round before a real election (default true). */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum within an election timeout (default true). */
  readonly checkQuorum?: boolean;
  /** Max unacknowledged append messages per follower in the replicate state (default 64). */
  readonly maxInflightAppends?: number;
  /** Max total entry data bytes per append message (default 1 MiB; at least one entry is sent). */
  readonly maxAppendBytes?: number;
  /** Snapshot chunk size in bytes for InstallSnapshot (default 1 MiB). */
  readonly snapshotChunkBytes?: number;
  /**
   * Initial membership of a NEW cluster. Used only when storage holds no snapshot and no config
   * entry; pass the same value on every start of an initial member, and omit it on a node that
   * joins an existing cluster (it learns the configuration from the leader).
   */
  readonly bootstrap?: ConfState;
  /** Index the state machine has already applied (restart of a durable state machine; default: snapshot index). */
  readonly applied?: number;
}

/**
 * The pure consensus core (etcd's RawNode), implemented by `RawNode`. Not thread-safe by design:
 * the driver calls it from one place; every method is synchronous and does no I/O except reading
 * {@link Storage}.
 */
export interface RawNodeApi {
  /** Advance logical time by one tick (election timeouts, heartbeats, CheckQuorum). */
  tick(): void;
  /**
   * Feed a message received from a peer. Messages for another node, from unknown terms that are
   * stale, or otherwise irrelevant are ignored (never throws on peer input).
   */
  step(message: Message): void;
  /**
   * Append `data` as a normal entry (leader only). Replication messages go out with the next
   * `ready()`, so proposals made between two `ready()` calls are batched. The entry is committed
   * iff a committed entry with the same index AND term is later applied; if the applied entry at
   * `index` has another term, the proposal was lost (leader change) and may be retried.
   * Throws `RaftError` `NOT_LEADER` (details: `leader`, `address` when known) on a non-leader and
   * `PROPOSAL_DROPPED` while a leadership transfer is in progress.
   */
  propose(data: Uint8Array): ProposalTicket;
  /**
   * Propose a membership change (leader only). Throws `NOT_LEADER`, `PROPOSAL_DROPPED`,
   * `CONFLICT` when a previous change is not yet committed or the leader has not yet committed an
   * entry of its term, and `INVALID_ARGUMENT` when the change makes no sense (adding a member,
   * promoting a non-learner, removing a non-member, removing the last voter).
   */
  proposeConfChange(change: ConfChange): ProposalTicket;
  /**
   * Request a linearizable read point; the answer arrives as a {@link ReadState} with the same
   * `context` in a later `ready()` (on any node: followers forward to the leader). Throws
   * `NOT_LEADER` when no leader is known. A request may be silently dropped (leader change):
   * the caller retries after a timeout. `context` identifies the request and MUST be unique
   * (e.g. a counter plus the node id): a reused context could be confirmed by acknowledgements
   * of an earlier request.
   */
  readIndex(context: Uint8Array): void;
  /** Leader only: hand leadership to `to` (a voter) via TimeoutNow once it is caught up. */
  transferLeadership(to: NodeId): void;
  /** Start an election now (as if the election timeout elapsed). Ignored on learners/non-members. */
  campaign(): void;
  /** Tell the leader that messages to `to` could not be delivered (switches it to probing). */
  reportUnreachable(to: NodeId): void;
  /** True when `ready()` would return something to do. */
  hasReady(): boolean;
  /** Take the pending batch of work. See {@link Ready} for the contract. */
  ready(): Ready;
  /** Acknowledge that the last `ready()` batch was fully handled (persisted, sent, applied). */
  advance(): void;
  status(): RaftStatus;
}
