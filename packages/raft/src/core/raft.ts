import type {
  AppendMessage,
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  NodeId,
  ProposalTicket,
  RaftStatus,
  RandomSource,
  RawNodeOptions,
  ReadState,
  Role,
  SnapshotMessage,
  SoftState,
} from "../types.js";
import {
  applyConfChange,
  decodeConfChangeEntry,
  EMPTY_CONF,
  encodeConfChangeEntry,
  isMember,
  isVoter,
} from "./conf-change.js";
import { Progress } from "./progress.js";
import { committedIndex, hasQuorum, voteResult } from "./quorum.js";
import { RaftError } from "./raft-error.js";
import { RaftLog } from "./raft-log.js";
import { ReadOnly } from "./read-only.js";
import { stepCandidate } from "./step-candidate.js";
import { stepFollower } from "./step-follower.js";
import { stepLeader } from "./step-leader.js";

const EMPTY = new Uint8Array(0);
/** A learner may be promoted when it is at most this many entries behind the commit index. */
export const PROMOTE_MAX_LAG = 64;
const MIB = 1024 * 1024;

interface SnapshotReceive {
  readonly index: number;
  readonly term: number;
  readonly total: number;
  readonly chunks: Uint8Array[];
  received: number;
}

function positiveInt(value: number | undefined, fallback: number, field: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RaftError(
      "INVALID_ARGUMENT",
      `options.${field}: must be a positive integer, got ${v}`,
    );
  }
  return v;
}

/**
 * The Raft state machine of one server (etcd's `raft` struct). Internal: use `RawNode`.
 * Fields are public so that the role step functions (separate files) can act on them.
 */
export class Raft {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflight: number;
  readonly maxAppendBytes: number;
  readonly snapshotChunkBytes: number;
  private readonly random: RandomSource;

  term = 0;
  vote: NodeId | null = null;
  leader: NodeId | null = null;
  /** Highest commit index heard from the leader of the current term (see RaftStatus.leaderCommit). */
  leaderCommit = 0;
  role: Role = "follower";
  readonly log: RaftLog;

  /** Configuration as of the latest snapshot (or bootstrap); `confStack` holds later config entries. */
  baseConf: ConfState;
  /** The snapshot index `baseConf` came from (0: bootstrap). */
  baseConfIndex = 0;
  confStack: { index: number; conf: ConfState }[] = [];
  conf: ConfState;

  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId | null = null;
  readonly readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before the leader committed an entry of its term. */
  pendingReadIndex: { context: Uint8Array; from: NodeId }[] = [];
  /** Replication must be (re)considered at the next flush (new entries or a new commit index). */
  needFlush = false;
  snapRecv: SnapshotReceive | undefined = undefined;
  /** Ticks seen since start (a local logical clock for retransmission decisions). */
  ticks = 0;
  /** Ticks without an acknowledgement after which in-flight appends/chunks are presumed lost. */
  readonly retransmitTicks: number;
  /** Commit index last sent to each peer in an append. */
  readonly sentCommit = new Map<NodeId, number>();

  constructor(options: RawNodeOptions) {
    if (typeof options.id !== "string" || options.id.length === 0) {
      throw new RaftError("INVALID_ARGUMENT", "options.id: must be a non-empty string");
    }
    this.id = options.id;
    this.electionTicks = positiveInt(options.electionTicks, 10, "electionTicks");
    this.heartbeatTicks = positiveInt(options.heartbeatTicks, 1, "heartbeatTicks");
    if (this.heartbeatTicks >= this.electionTicks) {
      throw new RaftError(
        "INVALID_ARGUMENT",
        "options.electionTicks: must be greater than options.heartbeatTicks",
      );
    }
    this.preVote = options.preVote ?? true;
    this.checkQuorum = options.checkQuorum ?? true;
    this.maxInflight = positiveInt(options.maxInflightAppends, 64, "maxInflightAppends");
    this.maxAppendBytes = positiveInt(options.maxAppendBytes, MIB, "maxAppendBytes");
    this.snapshotChunkBytes = positiveInt(options.snapshotChunkBytes, MIB, "snapshotChunkBytes");
    this.retransmitTicks = Math.max(2 * this.heartbeatTicks, Math.ceil(this.electionTicks / 2));
    this.random = options.random;

    const storage = options.storage;
    const { hardState, confState } = storage.initialState();
    const snap = storage.snapshot();
    const snapIndex = snap?.meta.index ?? 0;
    const lastIndex = storage.lastIndex();
    let committed = Math.min(Math.max(hardState.commit, snapIndex), lastIndex);
    const applied = Math.max(snapIndex, options.applied ?? 0);
    if (applied > lastIndex) {
      throw new RaftError("INVALID_ARGUMENT", `options.applied: ${applied} is beyond the log`);
    }
    committed = Math.max(committed, applied);
    this.log = new RaftLog(storage, committed, applied);
    this.baseConf = snapIndex > 0 ? confState : (options.bootstrap ?? confState ?? EMPTY_CONF);
    this.baseConfIndex = snapIndex;
    const scanFrom = Math.max(storage.firstIndex(), snapIndex + 1);
    if (scanFrom <= lastIndex) {
      for (const e of storage.entries(scanFrom, lastIndex + 1)) {
        if (e.type === "config") {
          this.confStack.push({ index: e.index, conf: decodeConfChangeEntry(e.data).conf });
        }
      }
    }
    this.conf = this.currentConf();
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, null);
  }

  // ---- state accessors -------------------------------------------------------------------

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { role: this.role, leader: this.leader };
  }

  promotable(): boolean {
    return isVoter(this.conf, this.id);
  }

  currentConf(): ConfState {
    return this.confStack[this.confStack.length - 1]?.conf ?? this.baseConf;
  }

  lastConfIndex(): number {
    return this.confStack[this.confStack.length - 1]?.index ?? 0;
  }

  /** The index the current configuration comes from (see RaftStatus.confIndex). */
  confIndex(): number {
    return this.confStack[this.confStack.length - 1]?.index ?? this.baseConfIndex;
  }

  /** A leader of the current term told us its commit index is at least `commit`. */
  noteLeaderCommit(commit: number): void {
    if (commit > this.leaderCommit) this.leaderCommit = commit;
  }

  committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  send(m: Message): void {
    if (m.to !== this.id) this.msgs.push(m);
  }

  // ---- role transitions ------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
      this.leaderCommit = 0;
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.electionTicks + Math.floor(this.random() * this.electionTicks);
    this.leadTransferee = null;
    this.votes.clear();
    this.progress.clear();
    this.sentCommit.clear();
    this.readOnly.reset();
    this.pendingReadIndex = [];
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
  }

  becomePreCandidate(): void {
    this.votes.clear();
    this.leader = null;
    this.role = "pre-candidate";
  }

  becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    this.reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    this.syncProgress();
    for (const [id, pr] of this.progress) {
      pr.recentActive = true;
      if (id === this.id) pr.maybeUpdate(this.log.stableLastIndex());
    }
    // §5.4.2 / §8: commit an entry of the new term so that earlier entries become committed.
    this.appendEntry("noop", EMPTY);
  }

  /** Create/delete per-peer progress to match the configuration (leader only). */
  syncProgress(): void {
    if (this.role !== "leader") return;
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const learner = !this.conf.voters.includes(id);
      const pr = this.progress.get(id);
      if (pr === undefined) {
        this.progress.set(id, new Progress(next, this.maxInflight, learner));
        if (id !== this.id) this.progress.get(id)!.recentActive = true;
      } else {
        pr.learner = learner;
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!isMember(this.conf, id)) {
        this.progress.delete(id);
        if (this.leadTransferee === id) this.leadTransferee = null;
      }
    }
  }

  setConf(conf: ConfState): void {
    this.conf = conf;
    this.syncProgress();
  }

  // ---- elections -------------------------------------------------------------------------

  /** Start an election (pre-vote first unless disabled or `transfer`). */
  hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.preVote && !transfer) this.campaign("pre", false);
    else this.campaign("real", transfer);
  }

  campaign(kind: "pre" | "real", transfer: boolean): void {
    let voteTerm: number;
    if (kind === "pre") {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (this.tally()) return;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const to of this.conf.voters) {
      if (to === this.id) continue;
      this.send({
        type: kind === "pre" ? "prevote" : "vote",
        from: this.id,
        to,
        term: voteTerm,
        lastIndex,
        lastTerm,
        transfer,
      });
    }
  }

  /** Act on the current vote tally. Returns true when the election ended. */
  tally(): boolean {
    const result = voteResult(this.conf.voters, this.votes);
    if (result === "won") {
      if (this.role === "pre-candidate") this.campaign("real", false);
      else this.becomeLeader();
      return true;
    }
    if (result === "lost") {
      this.becomeFollower(this.term, null);
      return true;
    }
    return false;
  }

  // ---- ticks -----------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastContext() ?? EMPTY);
    }
  }

  /** CheckQuorum: were a majority of voters heard from since the last check? Resets the marks. */
  private quorumActive(): boolean {
    const active = new Set<NodeId>();
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.recentActive) active.add(id);
      if (id !== this.id) pr.recentActive = false;
    }
    return hasQuorum(this.conf.voters, active);
  }

  // ---- message dispatch ------------------------------------------------------------------

  /** Handle a message from a peer (Figure 2 "all servers" rules, then the role's rules). */
  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "prevote") {
        // Dissertation §4.2.3: ignore disruptive candidates while we have a live leader.
        const inLease =
          this.checkQuorum && this.leader !== null && this.electionElapsed < this.electionTicks;
        if (!m.transfer && inLease) return;
      }
      if (m.type === "prevote" || (m.type === "prevote-response" && !m.reject)) {
        // A pre-vote never changes anyone's term.
      } else if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === "append" || m.type === "heartbeat")) {
        // Tell a stale leader about the new term so that it steps down.
        this.send({
          type: "append-response",
          from: this.id,
          to: m.from,
          term: this.term,
          reject: false,
          index: 0,
        });
      } else if (m.type === "prevote") {
        this.send({
          type: "prevote-response",
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
        });
      }
      return;
    }

    if (m.type === "vote" || m.type === "prevote") {
      const canVote =
        this.vote === m.from ||
        (this.vote === null && this.leader === null) ||
        (m.type === "prevote" && m.term > this.term);
      const type = m.type === "vote" ? "vote-response" : "prevote-response";
      if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
        this.send({ type, from: this.id, to: m.from, term: m.term, reject: false });
        if (m.type === "vote") {
          this.electionElapsed = 0;
          this.vote = m.from;
        }
      } else {
        this.send({ type, from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (this.role) {
      case "leader":
        stepLeader(this, m);
        break;
      case "candidate":
      case "pre-candidate":
        stepCandidate(this, m);
        break;
      default:
        stepFollower(this, m);
    }
  }

  // ---- proposals -------------------------------------------------------------------------

  private checkCanPropose(): void {
    if (this.role !== "leader") {
      const address = this.leader === null ? undefined : this.conf.addresses?.[this.leader];
      throw new RaftError("NOT_LEADER", "not the leader", {
        details: {
          leader: this.leader,
          ...(address === undefined ? {} : { address }),
        },
      });
    }
    if (this.leadTransferee !== null) {
      throw new RaftError("PROPOSAL_DROPPED", "leadership transfer in progress", {
        details: {
          transferee: this.leadTransferee,
        },
      });
    }
    if (!this.progress.has(this.id)) {
      throw new RaftError("PROPOSAL_DROPPED", "this leader is being removed from the cluster");
    }
  }

  propose(data: Uint8Array): ProposalTicket {
    this.checkCanPropose();
    return this.appendEntry("normal", data);
  }

  proposeConfChange(change: ConfChange): ProposalTicket {
    this.checkCanPropose();
    if (!this.committedInTerm()) {
      throw new RaftError("CONFLICT", "the leader has not yet committed an entry of its term");
    }
    if (this.lastConfIndex() > this.log.committed) {
      throw new RaftError("CONFLICT", "a previous membership change is not yet committed", {
        details: {
          pendingIndex: this.lastConfIndex(),
        },
      });
    }
    const conf = applyConfChange(this.conf, change);
    if (change.type === "promote") {
      // A learner votes only once it has caught up (dissertation §4.2.1): heard from recently,
      // not receiving a snapshot, and at most PROMOTE_MAX_LAG entries behind the commit index.
      const pr = this.progress.get(change.node);
      const match = pr?.match ?? 0;
      if (
        pr === undefined ||
        !pr.recentActive ||
        pr.state === "snapshot" ||
        match === 0 ||
        this.log.committed - match > PROMOTE_MAX_LAG
      ) {
        throw new RaftError("CONFLICT", `change.node: learner ${change.node} has not caught up`, {
          details: {
            node: change.node,
            match,
            commit: this.log.committed,
          },
        });
      }
    }
    return this.appendEntry("config", encodeConfChangeEntry({ change, conf }));
  }

  /** Leader: append one entry of the current term to the local (unstable) log. */
  appendEntry(type: EntryType, data: Uint8Array): ProposalTicket {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append([entry]);
    if (type === "config") {
      // Membership takes effect as soon as the entry is in the log (dissertation §4.1).
      this.confStack.push({ index: entry.index, conf: decodeConfChangeEntry(data).conf });
      this.setConf(this.currentConf());
      this.maybeCommit();
    }
    this.needFlush = true;
    return { index: entry.index, term: entry.term };
  }

  /** Follower: entries at ≥ `conflict` were (re)written; recompute the configuration. */
  onEntriesReplaced(conflict: number, entries: readonly Entry[]): void {
    let changed = false;
    while ((this.confStack[this.confStack.length - 1]?.index ?? 0) >= conflict) {
      this.confStack.pop();
      changed = true;
    }
    for (const e of entries) {
      if (e.index >= conflict && e.type === "config") {
        this.confStack.push({ index: e.index, conf: decodeConfChangeEntry(e.data).conf });
        changed = true;
      }
    }
    if (changed) this.setConf(this.currentConf());
  }

  // ---- replication (leader) --------------------------------------------------------------

  /** §5.3/§5.4.2: advance the commit index to the quorum match if it is of the current term. */
  maybeCommit(): boolean {
    const mci = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (mci <= this.log.committed || this.log.term(mci) !== this.term) return false;
    this.log.commitTo(mci);
    this.needFlush = true;
    this.afterCommit();
    return true;
  }

  private afterCommit(): void {
    if (this.role !== "leader") return;
    if (this.pendingReadIndex.length > 0 && this.committedInTerm()) {
      const pending = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const p of pending) this.handleReadIndex(p.context, p.from);
    }
    if (!this.progress.has(this.id) && this.log.committed >= this.lastConfIndex()) {
      // The configuration that removed this leader is committed: step down (dissertation §4.2.2).
      this.becomeFollower(this.term, null);
    }
  }

  /** The leader's entries were persisted up to the stable index: count our own vote for them. */
  onPersisted(): void {
    if (this.role !== "leader") return;
    const self = this.progress.get(this.id);
    if (self?.maybeUpdate(this.log.stableLastIndex())) this.maybeCommit();
  }

  /** Send pending entries (and the new commit index) to every follower. Called before Ready. */
  flush(): void {
    if (!this.needFlush) return;
    this.needFlush = false;
    if (this.role !== "leader") return;
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      const sent = this.sendAppendLoop(id);
      if (!sent && (this.sentCommit.get(id) ?? 0) < this.log.committed) this.sendAppend(id, true);
    }
  }

  /** Send as many appends to `to` as the in-flight window allows. Returns true if any was sent. */
  sendAppendLoop(to: NodeId): boolean {
    let any = false;
    for (let i = 0; i < this.maxInflight + 1; i++) {
      if (!this.sendAppend(to, false)) break;
      any = true;
      if (this.progress.get(to)?.state !== "replicate") break;
    }
    return any;
  }

  /**
   * Send one append (or start a snapshot when the needed entries are compacted). With
   * `sendIfEmpty` an append without entries is sent (probe or commit update). Returns true when a
   * message was sent.
   */
  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.maxAppendBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m: AppendMessage = {
      type: "append",
      from: this.id,
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
    };
    this.send(m);
    this.sentCommit.set(to, this.log.committed);
    const last = entries[entries.length - 1];
    if (pr.state === "replicate") {
      if (last !== undefined) {
        if (pr.inflights.count === 0) pr.lastProgressTick = this.ticks;
        pr.next = last.index + 1;
        pr.inflights.add(last.index);
      }
    } else if (pr.state === "probe") {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snap = this.log.storage.snapshot();
    if (snap === undefined) return false;
    pr.becomeSnapshot(snap);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  /** (Re)send the snapshot chunk at the follower's acknowledged offset. */
  sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = pr.snapshot;
    if (snap === undefined) return;
    const total = snap.data.length;
    const offset = Math.min(pr.snapshotOffset, total);
    pr.lastProgressTick = this.ticks;
    const end = Math.min(offset + this.snapshotChunkBytes, total);
    const m: SnapshotMessage = {
      type: "snapshot",
      from: this.id,
      to,
      term: this.term,
      meta: snap.meta,
      offset,
      total,
      data: snap.data.subarray(offset, end),
      done: end === total,
    };
    this.send(m);
  }

  bcastHeartbeat(context: Uint8Array): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({
        type: "heartbeat",
        from: this.id,
        to: id,
        term: this.term,
        commit: Math.min(pr.match, this.log.committed),
        context,
      });
    }
  }

  sendTimeoutNow(to: NodeId): void {
    this.send({ type: "timeout-now", from: this.id, to, term: this.term });
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== "leader") {
      throw new RaftError("NOT_LEADER", "only the leader can transfer leadership", {
        details: {
          leader: this.leader,
        },
      });
    }
    if (to === this.id) return;
    if (!this.conf.voters.includes(to)) {
      throw new RaftError("INVALID_ARGUMENT", `to: ${to} is not a voter`, { details: { to } });
    }
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.progress.get(to);
    if (pr !== undefined && pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.needFlush = true;
  }

  // ---- ReadIndex -------------------------------------------------------------------------

  /** Public entry point of a ReadIndex request made on this node. */
  readIndex(context: Uint8Array): void {
    if (this.role === "leader") {
      this.handleReadIndex(context, this.id);
      return;
    }
    if (this.leader === null) {
      throw new RaftError("NOT_LEADER", "no known leader to serve a read", {
        details: { leader: null },
      });
    }
    this.send({ type: "read-index", from: this.id, to: this.leader, term: this.term, context });
  }

  /** Leader: serve a ReadIndex request from `from` (dissertation §6.4). */
  handleReadIndex(context: Uint8Array, from: NodeId): void {
    if (!this.committedInTerm()) {
      this.pendingReadIndex.push({ context, from });
      return;
    }
    const index = this.log.committed;
    if (this.conf.voters.length === 1 && this.conf.voters[0] === this.id) {
      this.respondRead(index, context, from);
      return;
    }
    if (this.readOnly.add(index, context, from, this.id)) this.bcastHeartbeat(context);
  }

  respondRead(index: number, context: Uint8Array, from: NodeId): void {
    if (from === this.id) {
      this.readStates.push({ index, context });
    } else {
      this.send({
        type: "read-index-response",
        from: this.id,
        to: from,
        term: this.term,
        index,
        context,
        reject: false,
      });
    }
  }

  // ---- status ----------------------------------------------------------------------------

  status(): RaftStatus {
    const progress: Record<NodeId, ReturnType<Progress["view"]>> = {};
    if (this.role === "leader") {
      for (const [id, pr] of this.progress)
        progress[id] = pr.view(id === this.id || pr.recentActive);
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      leaderCommit: this.role === "leader" ? this.log.committed : this.leaderCommit,
      conf: this.conf,
      confIndex: this.confIndex(),
      leadTransferee: this.leadTransferee,
      progress,
    };
  }
}
