import { decodeConfChangeEntry, EMPTY_CONF } from "../core/conf-change.js";
import { RaftError } from "../core/raft-error.js";
import { RawNode } from "../core/raw-node.js";
import type {
  Clock,
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  RaftStatus,
  Ready,
  Role,
  SoftState,
  StateMachine,
  Storage,
  TimerHandle,
  Transport,
} from "../types.js";
import type {
  RaftLogger,
  RaftNodeHooks,
  RaftNodeOptions,
  RaftNodeState,
  RaftNodeStatus,
  ReadOptions,
  SnapshotTaken,
} from "./raft-node-options.js";
import { createRealClock } from "./real-clock.js";

interface PendingProposal {
  readonly term: number;
  readonly start: number;
  readonly deadline: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: RaftError) => void;
}

interface PendingRead {
  /** Read index once confirmed by the leader; -1 while waiting for confirmation. */
  index: number;
  readonly deadline: number;
  /** When the ReadIndex request was last sent (it is re-sent after an election timeout). */
  issuedAt: number;
  readonly waiters: { run: () => void; reject: (error: RaftError) => void }[];
}

interface PendingTransfer {
  readonly to: NodeId;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: RaftError) => void;
}

/** Most ticks one late tick timer counts (see RaftNode's dueTicks). */
const MAX_TICK_CATCH_UP = 4;

const SILENT_LOGGER: RaftLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

function positive(value: number | undefined, fallback: number, field: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min) {
    throw new RaftError("INVALID_ARGUMENT", `options.${field}: must be a number ≥ ${min}`, {
      details: {
        field: `options.${field}`,
      },
    });
  }
  return v;
}

/** Throws `INVALID_ARGUMENT` naming `options.<field>` unless `value` has the given methods. */
function requireMethods(value: unknown, field: string, methods: readonly string[]): void {
  const obj = value as Record<string, unknown> | null | undefined;
  const missing = methods.find((m) => typeof obj?.[m] !== "function");
  if (missing !== undefined) {
    throw new RaftError(
      "INVALID_ARGUMENT",
      `options.${field}: expected an object with method ${missing}()`,
      { details: { field: `options.${field}` } },
    );
  }
}

function readContext(id: number): Uint8Array {
  const ctx = new Uint8Array(8);
  new DataView(ctx.buffer).setFloat64(0, id);
  return ctx;
}

function readContextId(ctx: Uint8Array): number | undefined {
  if (ctx.length !== 8) return undefined;
  return new DataView(ctx.buffer, ctx.byteOffset, 8).getFloat64(0);
}

/**
 * A running Raft member: drives the pure core (`RawNode`) with timer ticks, peer messages and
 * client requests, and does its I/O in the order the {@link Ready} contract prescribes — persist
 * (snapshot, entries, hard state) through {@link Storage}, THEN send messages (batched per
 * peer), then apply committed entries to the {@link StateMachine}, then advance. One documented
 * exception (`leaderSendsBeforePersist`, default on): a leader's batch that changes neither term
 * nor vote is sent before the leader's own write (dissertation §10.2.1).
 *
 * Single-threaded by design: every callback runs on the Node.js event loop; nothing here is
 * re-entrant. Work that arrives within one event-loop turn (proposals, received batches) is
 * handled as one Ready batch, i.e. one durable write.
 *
 * Exactly-once apply across restarts is DERIVED, not stored: at start the node restores the
 * state machine from the latest snapshot in Storage (or, when the state machine implements
 * `lastApplied()`, skips the snapshot if it is already past it) and then re-applies the committed
 * entries after that point. The applied index itself is never persisted by the driver.
 */
export class RaftNode<Result = unknown> {
  readonly id: NodeId;
  private readonly raw: RawNode;
  private readonly storage: Storage;
  private readonly sm: StateMachine<Result>;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly log: RaftLogger;
  private readonly hooks: RaftNodeHooks;
  private readonly schedule: (run: () => void) => void;
  private readonly tickMs: number;
  /** When the last counted tick was due (see {@link dueTicks}). */
  private lastTickAt: number;
  private readonly electionMs: number;
  private readonly maxPending: number;
  private readonly proposalTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly snapshotThreshold: number;
  private readonly snapshotTrailing: number;
  private readonly maxPromoteLag: number;
  private readonly leaderSendsFirst: boolean;
  /** Term and vote known to be durable in Storage. */
  private durableTerm: number;
  private durableVote: NodeId | null;

  private lifecycle: RaftNodeState = "running";
  private scheduled = false;
  private processing = false;
  private tickTimer: TimerHandle | undefined = undefined;

  private applied: number;
  private appliedConf: ConfState;
  private snapshotIndex: number;
  private role: Role = "follower";
  private leader: NodeId | null = null;
  private term = 0;

  /** Proposals by log index, in proposal order (deadlines ascending). */
  private readonly pending = new Map<number, PendingProposal>();
  /** ReadIndex rounds by context id, in request order. */
  private readonly reads = new Map<number, PendingRead>();
  /** Reads requested this turn, sent as one ReadIndex round at the next processing. */
  private batchRead: PendingRead | undefined = undefined;
  private nextReadId = 1;
  private readonly transfers: PendingTransfer[] = [];
  /** Callers of {@link snapshotNow} waiting for the next Ready loop's end. */
  private readonly snapshotWaiters: {
    resolve(taken: SnapshotTaken): void;
    reject(error: RaftError): void;
  }[] = [];
  private readonly listeners = new Set<(status: RaftNodeStatus) => void>();

  /** @internal Use {@link createRaftNode}. */
  constructor(options: RaftNodeOptions<Result>) {
    requireMethods(options.storage, "storage", ["initialState", "append", "setHardState"]);
    requireMethods(options.stateMachine, "stateMachine", ["apply", "snapshot", "restore"]);
    requireMethods(options.transport, "transport", ["send", "onReceive", "close"]);
    this.id = options.id;
    this.storage = options.storage;
    this.sm = options.stateMachine;
    this.transport = options.transport;
    this.clock = options.clock ?? createRealClock();
    this.log = options.logger ?? SILENT_LOGGER;
    this.hooks = options.hooks ?? {};
    this.schedule = options.schedule ?? ((run) => setImmediate(run));
    this.tickMs = positive(options.tickMs, 100, "tickMs");
    this.lastTickAt = this.clock.now();
    const electionTicks = positive(options.electionTicks, 10, "electionTicks");
    this.electionMs = electionTicks * this.tickMs;
    this.maxPending = positive(options.maxPendingProposals, 4096, "maxPendingProposals");
    this.proposalTimeoutMs = positive(options.proposalTimeoutMs, 10_000, "proposalTimeoutMs");
    this.readTimeoutMs = positive(options.readTimeoutMs, 10_000, "readTimeoutMs");
    this.snapshotThreshold = positive(options.snapshotThreshold, 10_000, "snapshotThreshold", 0);
    this.snapshotTrailing = positive(
      options.snapshotTrailingEntries,
      1000,
      "snapshotTrailingEntries",
      0,
    );
    this.maxPromoteLag = positive(options.maxPromoteLag, 64, "maxPromoteLag", 0);
    this.leaderSendsFirst = options.leaderSendsBeforePersist ?? true;
    const durable = this.storage.initialState().hardState;
    this.durableTerm = durable.term;
    this.durableVote = durable.vote;

    // Restore the state machine: latest snapshot, unless a durable state machine is past it.
    const snap = this.storage.snapshot();
    const snapIndex = snap?.meta.index ?? 0;
    const smApplied = this.sm.lastApplied?.();
    let applied = snapIndex;
    if (smApplied !== undefined && smApplied >= snapIndex) {
      applied = smApplied;
    } else if (snap !== undefined) {
      this.sm.restore(snap.data);
    }
    this.applied = applied;
    this.snapshotIndex = snapIndex;
    this.appliedConf = this.confAt(applied, snap?.meta.conf ?? options.bootstrap ?? EMPTY_CONF);

    this.raw = new RawNode({
      id: options.id,
      storage: options.storage,
      random: options.random ?? Math.random,
      electionTicks,
      ...(options.heartbeatTicks === undefined ? {} : { heartbeatTicks: options.heartbeatTicks }),
      ...(options.preVote === undefined ? {} : { preVote: options.preVote }),
      ...(options.checkQuorum === undefined ? {} : { checkQuorum: options.checkQuorum }),
      ...(options.maxInflightAppends === undefined
        ? {}
        : { maxInflightAppends: options.maxInflightAppends }),
      ...(options.maxAppendBytes === undefined ? {} : { maxAppendBytes: options.maxAppendBytes }),
      ...(options.snapshotChunkBytes === undefined
        ? {}
        : { snapshotChunkBytes: options.snapshotChunkBytes }),
      ...(options.bootstrap === undefined ? {} : { bootstrap: options.bootstrap }),
      applied,
    });
    const st = this.raw.status();
    this.term = st.term;
  }

  /** Configuration as of `index`: `base` (the snapshot's) plus config entries up to `index`. */
  private confAt(index: number, base: ConfState): ConfState {
    let conf = base;
    const from = Math.max(this.storage.firstIndex(), this.snapshotIndex + 1);
    if (from > index) return conf;
    for (const e of this.storage.entries(from, index + 1)) {
      if (e.type === "config") conf = decodeConfChangeEntry(e.data).conf;
    }
    return conf;
  }

  /** @internal Called once by {@link createRaftNode}. */
  start(): void {
    this.transport.onReceive((messages) => this.receive(messages));
    this.armTick();
    this.safeHook(() => this.hooks.onRoleChange?.(this.role, this.term));
    this.log.info({ id: this.id, term: this.term, applied: this.applied }, "raft node started");
    this.requestProcessing();
  }

  // ---- event sources ---------------------------------------------------------------------

  private armTick(): void {
    this.tickTimer = this.clock.setTimeout(() => this.onTick(), this.tickMs);
  }

  /**
   * The ticks due at `now`: one per `tickMs` elapsed since the last counted tick, so that a
   * timer that fires late (a busy event loop, a starved process) does not stretch election and
   * lease timeouts in real time: a restarted server still busy starting up would otherwise
   * believe its leader alive for seconds after it died and refuse the survivors' pre-votes.
   * At least 1, at most {@link MAX_TICK_CATCH_UP}; a longer stall (a paused process) is
   * dropped, not replayed, so that a leader does not step down before reading its peers'
   * queued answers.
   */
  private dueTicks(now: number): number {
    const elapsed = Math.floor((now - this.lastTickAt) / this.tickMs);
    if (elapsed > MAX_TICK_CATCH_UP) {
      this.lastTickAt = now;
      return MAX_TICK_CATCH_UP;
    }
    const due = Math.max(1, elapsed);
    this.lastTickAt = due === elapsed ? this.lastTickAt + due * this.tickMs : now;
    return due;
  }

  private onTick(): void {
    if (this.lifecycle !== "running") return;
    for (let n = this.dueTicks(this.clock.now()); n > 0; n--) this.raw.tick();
    this.expire(this.clock.now());
    this.process();
    if (this.lifecycle === "running") this.armTick();
  }

  private receive(messages: readonly Message[]): void {
    if (this.lifecycle !== "running") return;
    for (const m of messages) this.raw.step(m);
    this.requestProcessing();
  }

  private requestProcessing(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.process();
    });
  }

  // ---- the Ready loop --------------------------------------------------------------------

  private process(): void {
    if (this.lifecycle !== "running" || this.processing) return;
    this.processing = true;
    let yielded = false;
    try {
      this.flushBatchRead();
      // Bounded so that a flood of work cannot starve timers and I/O callbacks.
      for (
        let round = 0;
        round < 16 && this.lifecycle === "running" && this.raw.hasReady();
        round++
      ) {
        const rd = this.raw.ready();
        if (this.sendBeforePersist(rd)) {
          // The transport puts messages on the wire from the event loop (gRPC/HTTP2 writes
          // leave in a later phase of the loop), and a synchronous write here would hold them
          // back until it is durable: the followers would persist only after the leader did.
          // So the leader's own write and the rest of this Ready run one turn later, and
          // `processing` stays set until then (peers' messages and proposals that arrive in
          // between are stepped into the core, which allows that before `advance`).
          this.send(rd.messages);
          yielded = true;
          this.schedule(() => this.finishDeferred(rd));
          return;
        }
        this.handleReady(rd, false);
        this.raw.advance();
      }
      this.afterReadyLoop();
    } catch (err) {
      this.fail(err);
    } finally {
      if (!yielded) this.processing = false;
    }
  }

  /** The second half of a Ready whose messages a leader sent first (see {@link process}). */
  private finishDeferred(rd: Ready): void {
    if (this.lifecycle !== "running") {
      // Stopped or failed in between: nothing of this batch was acknowledged by this node.
      this.processing = false;
      return;
    }
    try {
      this.handleReady(rd, true);
      this.raw.advance();
      this.afterReadyLoop();
    } catch (err) {
      this.fail(err);
    } finally {
      this.processing = false;
    }
    // Work that arrived while the write was pending.
    if (this.lifecycle === "running" && this.raw.hasReady()) this.requestProcessing();
  }

  private afterReadyLoop(): void {
    if (this.lifecycle !== "running") return;
    this.maybeSnapshot();
    if (this.raw.hasReady()) this.requestProcessing();
  }

  /**
   * §10.2.1: a leader may replicate entries while it writes them itself, as long as nothing in
   * the batch depends on a term or vote that is not yet durable. True when `rd` is such a batch
   * and has both messages to send and something to write.
   */
  private sendBeforePersist(rd: Ready): boolean {
    const hs = rd.hardState;
    return (
      this.leaderSendsFirst &&
      rd.snapshot === undefined &&
      (rd.softState?.role ?? this.role) === "leader" &&
      (hs === undefined || (hs.term === this.durableTerm && hs.vote === this.durableVote)) &&
      rd.messages.length > 0 &&
      (rd.entries.length > 0 || hs !== undefined)
    );
  }

  /** Persist, send (unless `sent`: the messages already left), apply; see the Ready contract. */
  private handleReady(rd: Ready, sent: boolean): void {
    const hs = rd.hardState;

    // 1. Persist, in the order of the Ready contract.
    const t0 = this.clock.now();
    if (rd.snapshot !== undefined) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (hs !== undefined) {
      this.storage.setHardState(hs);
      this.durableTerm = hs.term;
      this.durableVote = hs.vote;
      this.term = hs.term;
    }
    if (rd.entries.length > 0) {
      const seconds = (this.clock.now() - t0) / 1000;
      this.safeHook(() => this.hooks.onPersist?.(rd.entries.length, seconds));
    }

    // 2. Send, one batch per peer.
    if (!sent && rd.messages.length > 0) this.send(rd.messages);
    if (rd.softState !== undefined) this.onSoftState(rd.softState);

    // 3. Install a received snapshot, apply committed entries, answer reads.
    if (rd.snapshot !== undefined) {
      const meta = rd.snapshot.meta;
      this.sm.restore(rd.snapshot.data);
      this.applied = meta.index;
      this.appliedConf = meta.conf;
      this.snapshotIndex = Math.max(this.snapshotIndex, meta.index);
      this.settleCoveredBySnapshot(meta.index);
    }
    if (rd.committedEntries.length > 0) this.apply(rd.committedEntries);
    for (const rs of rd.readStates) {
      const id = readContextId(rs.context);
      const read = id === undefined ? undefined : this.reads.get(id);
      if (read !== undefined && read.index < 0) read.index = rs.index;
    }
    if (this.reads.size > 0) this.serveReads();
  }

  private send(messages: readonly Message[]): void {
    let byPeer: Map<NodeId, Message[]> | undefined;
    const first = messages[0]!;
    if (messages.every((m) => m.to === first.to)) {
      this.sendTo(first.to, messages);
      return;
    }
    byPeer = new Map();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, [m]);
      else list.push(m);
    }
    for (const [to, list] of byPeer) this.sendTo(to, list);
  }

  /** Transports must not throw (delivery is best-effort); one that does loses the batch. */
  private sendTo(to: NodeId, messages: readonly Message[]): void {
    try {
      this.transport.send(to, messages);
    } catch (err) {
      this.log.warn({ id: this.id, to, err }, "transport send threw; batch dropped");
    }
  }

  private apply(entries: readonly Entry[]): void {
    const t0 = this.clock.now();
    let count = 0;
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      const p = this.pending.get(e.index);
      if (p !== undefined) this.pending.delete(e.index);
      const ours = p !== undefined && p.term === e.term;
      if (e.type === "normal") {
        count++;
        let result: Result | undefined;
        let error: unknown;
        try {
          result = this.sm.apply(e.data, e.index);
        } catch (err) {
          // A deterministic state machine throws on every replica alike: the entry counts as
          // applied (with no effect) and only its proposer hears about the failure.
          error = err;
          this.log.error({ id: this.id, index: e.index, err }, "state machine apply threw");
        }
        if (ours) {
          if (error === undefined) this.settleOk(p, result);
          else
            this.settleErr(
              p,
              new RaftError("INTERNAL", "the state machine failed to apply the entry", {
                cause: error,
              }),
            );
        }
      } else if (e.type === "config") {
        this.appliedConf = decodeConfChangeEntry(e.data).conf;
        if (ours) this.settleOk(p, undefined);
      }
      if (p !== undefined && !ours) {
        this.settleErr(
          p,
          new RaftError("PROPOSAL_DROPPED", "the proposal was overwritten by a new leader", {
            details: {
              index: e.index,
            },
          }),
        );
      }
      this.applied = e.index;
    }
    if (count > 0) {
      const seconds = (this.clock.now() - t0) / 1000;
      this.safeHook(() => this.hooks.onApply?.(count, seconds, this.applied));
    }
  }

  private settleCoveredBySnapshot(index: number): void {
    for (const [i, p] of this.pending) {
      if (i > index) continue;
      this.pending.delete(i);
      this.settleErr(
        p,
        new RaftError(
          "UNAVAILABLE",
          "outcome unknown: the entry was covered by a snapshot from the leader",
          { details: { index: i } },
        ),
      );
    }
  }

  private onSoftState(ss: SoftState): void {
    const roleChanged = ss.role !== this.role;
    const leaderChanged = ss.leader !== this.leader;
    this.role = ss.role;
    this.leader = ss.leader;
    if (roleChanged) {
      this.log.info({ id: this.id, role: ss.role, term: this.term }, "raft role changed");
      this.safeHook(() => this.hooks.onRoleChange?.(ss.role, this.term));
    }
    if (leaderChanged) {
      this.safeHook(() => this.hooks.onLeaderChange?.(ss.leader, this.term));
      if (ss.leader !== null) {
        for (const t of this.transfers.splice(0)) {
          if (t.to === ss.leader) t.resolve();
          else this.transfers.push(t);
        }
        // ReadIndex requests are dropped on a leader change: ask the new leader.
        for (const [id, read] of this.reads) {
          if (read.index < 0) this.issueReadIndex(id);
        }
      }
    }
    if (this.listeners.size > 0) {
      const status = this.status();
      for (const listener of this.listeners) this.safeHook(() => listener(status));
    }
  }

  private maybeSnapshot(): void {
    const waiters = this.snapshotWaiters.splice(0);
    if (waiters.length > 0) {
      let taken: SnapshotTaken;
      try {
        taken = this.takeSnapshot() ?? {
          index: this.snapshotIndex,
          bytes: this.storage.snapshot()?.data.length ?? 0,
          firstIndex: this.storage.firstIndex(),
        };
      } catch (err) {
        const error = this.notLeader(err);
        for (const w of waiters) w.reject(error);
        throw err;
      }
      for (const w of waiters) w.resolve(taken);
      return;
    }
    if (this.snapshotThreshold === 0) return;
    if (this.applied - this.snapshotIndex < this.snapshotThreshold) return;
    this.takeSnapshot();
  }

  /** Snapshots at the applied index and compacts; undefined when nothing was applied since. */
  private takeSnapshot(): SnapshotTaken | undefined {
    if (this.applied <= this.snapshotIndex) return undefined;
    const t0 = this.clock.now();
    const index = this.applied;
    const term = this.storage.term(index);
    if (term === undefined) return undefined;
    const data = this.sm.snapshot();
    this.storage.applySnapshot({ meta: { index, term, conf: this.appliedConf }, data });
    this.snapshotIndex = index;
    const compactTo = index - this.snapshotTrailing;
    if (compactTo >= this.storage.firstIndex()) this.storage.compact(compactTo);
    const seconds = (this.clock.now() - t0) / 1000;
    this.log.debug({ id: this.id, index, bytes: data.length }, "raft snapshot taken");
    this.safeHook(() => this.hooks.onSnapshot?.(index, data.length, seconds));
    return { index, bytes: data.length, firstIndex: this.storage.firstIndex() };
  }

  // ---- settling --------------------------------------------------------------------------

  private settleOk(p: PendingProposal, value: unknown): void {
    const seconds = (this.clock.now() - p.start) / 1000;
    this.safeHook(() => this.hooks.onProposal?.("ok", seconds));
    p.resolve(value);
  }

  private settleErr(p: PendingProposal, error: RaftError): void {
    const seconds = (this.clock.now() - p.start) / 1000;
    this.safeHook(() => this.hooks.onProposal?.(error.code, seconds));
    p.reject(error);
  }

  /** Reject proposals, reads and transfers whose deadline passed. Deadlines ascend per map. */
  private expire(now: number): void {
    for (const [index, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(index);
      this.settleErr(
        p,
        new RaftError("TIMEOUT", `proposal at index ${index} was not applied in time`, {
          details: {
            index,
            timeoutMs: this.proposalTimeoutMs,
          },
        }),
      );
    }
    for (const [id, read] of this.reads) {
      if (read.deadline > now) {
        if (read.index < 0 && now - read.issuedAt >= this.electionMs) this.issueReadIndex(id);
        continue;
      }
      this.reads.delete(id);
      const err = new RaftError("TIMEOUT", "linearizable read was not confirmed in time", {
        details: {
          timeoutMs: this.readTimeoutMs,
        },
      });
      for (const w of read.waiters) w.reject(err);
    }
    for (let i = this.transfers.length - 1; i >= 0; i--) {
      const t = this.transfers[i]!;
      if (t.deadline > now) continue;
      this.transfers.splice(i, 1);
      t.reject(new RaftError("TIMEOUT", `leadership transfer to ${t.to} did not complete`));
    }
  }

  private safeHook(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ id: this.id, err }, "raft hook threw");
    }
  }

  private fail(err: unknown): void {
    const error =
      err instanceof Error
        ? err
        : new RaftError("INTERNAL", "non-error thrown", { details: { err } });
    this.log.error({ id: this.id, err: error }, "raft node failed: storage or state machine error");
    this.shutdown(
      "failed",
      new RaftError("UNAVAILABLE", "the raft node failed and must be restarted", { cause: error }),
    );
    void this.transport.close().catch((closeErr: unknown) => {
      this.log.warn({ id: this.id, err: closeErr }, "transport close failed");
    });
    this.safeHook(() => this.hooks.onFatal?.(error));
  }

  private shutdown(state: RaftNodeState, error: RaftError): void {
    this.lifecycle = state;
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    for (const [index, p] of this.pending) {
      this.pending.delete(index);
      this.settleErr(p, error);
    }
    for (const read of this.reads.values()) for (const w of read.waiters) w.reject(error);
    this.reads.clear();
    if (this.batchRead !== undefined) for (const w of this.batchRead.waiters) w.reject(error);
    this.batchRead = undefined;
    for (const t of this.transfers.splice(0)) t.reject(error);
    for (const w of this.snapshotWaiters.splice(0)) w.reject(error);
  }

  private refuse(): RaftError | undefined {
    if (this.lifecycle === "running") return undefined;
    return this.lifecycle === "failed"
      ? new RaftError("UNAVAILABLE", "the raft node failed and must be restarted")
      : new RaftError("SHUTTING_DOWN", "the raft node is stopped");
  }

  private notLeader(err: unknown): RaftError {
    if (err instanceof RaftError && err.code === "NOT_LEADER") {
      const leaderId = (err.details?.leader as NodeId | null | undefined) ?? null;
      const leaderAddress = err.details?.address as string | undefined;
      return new RaftError(
        "NOT_LEADER",
        leaderId === null ? "not the leader; no leader is known" : `not the leader; ${leaderId} is`,
        {
          details: leaderAddress === undefined ? { leaderId } : { leaderId, leaderAddress },
          cause: err,
        },
      );
    }
    return err instanceof RaftError
      ? err
      : new RaftError("INTERNAL", "unexpected error", { cause: err });
  }

  // ---- public API ------------------------------------------------------------------------

  /**
   * Replicate `data` and apply it. Resolves with the state machine's result once the entry is
   * applied on THIS node (which must be the leader). Rejects with `RaftError`:
   * `NOT_LEADER` (details `leaderId`, `leaderAddress` when known), `OVERLOADED` when
   * `maxPendingProposals` are already waiting (back off and retry), `PROPOSAL_DROPPED` (a
   * transfer is in progress, or a new leader overwrote the entry: not applied), `TIMEOUT`
   * (outcome unknown: it may still be applied), `SHUTTING_DOWN`, `UNAVAILABLE` (outcome unknown,
   * or the node failed), `INTERNAL` when `apply` threw. Proposals made in the same event-loop
   * turn are persisted and replicated as one batch.
   */
  propose(data: Uint8Array): Promise<Result> {
    return this.submit(() => {
      if (!(data instanceof Uint8Array)) {
        throw new RaftError("INVALID_ARGUMENT", "data: expected a Uint8Array", {
          details: { field: "data" },
        });
      }
      return this.raw.propose(data);
    }) as Promise<Result>;
  }

  private submit(append: () => { index: number; term: number }): Promise<unknown> {
    const refused = this.refuse();
    if (refused !== undefined) return Promise.reject(refused);
    if (this.pending.size >= this.maxPending) {
      this.safeHook(() => this.hooks.onProposal?.("OVERLOADED", 0));
      return Promise.reject(
        new RaftError("OVERLOADED", "too many pending proposals; retry later", {
          details: {
            pending: this.pending.size,
            max: this.maxPending,
          },
        }),
      );
    }
    let ticket: { index: number; term: number };
    try {
      ticket = append();
    } catch (err) {
      const error = this.notLeader(err);
      this.safeHook(() => this.hooks.onProposal?.(error.code, 0));
      return Promise.reject(error);
    }
    const start = this.clock.now();
    return new Promise((resolve, reject) => {
      const previous = this.pending.get(ticket.index);
      if (previous !== undefined) {
        this.pending.delete(ticket.index);
        this.settleErr(
          previous,
          new RaftError("PROPOSAL_DROPPED", "the proposal was overwritten by a new leader", {
            details: {
              index: ticket.index,
            },
          }),
        );
      }
      this.pending.set(ticket.index, {
        term: ticket.term,
        start,
        deadline: start + this.proposalTimeoutMs,
        resolve,
        reject,
      });
      this.requestProcessing();
    });
  }

  /**
   * Run `query` against the local state machine at a linearizable point: after a ReadIndex
   * round confirms the leader's commit index and this node has applied up to it (works on
   * followers too: they ask the leader). With `{ stale: true }`, runs it right away instead.
   * Reads requested in the same turn share one ReadIndex round. Rejects with `NOT_LEADER`
   * (no leader known), `TIMEOUT`, `SHUTTING_DOWN`; a throwing `query` rejects with its error.
   */
  read<T>(query: () => T, options: ReadOptions = {}): Promise<T> {
    const refused = this.refuse();
    if (refused !== undefined) return Promise.reject(refused);
    if (options.stale === true) {
      try {
        return Promise.resolve(query());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.leader === null) {
      return Promise.reject(
        new RaftError("NOT_LEADER", "no leader is known to serve a read", {
          details: { leaderId: null },
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      if (this.batchRead === undefined) {
        const now = this.clock.now();
        this.batchRead = {
          index: -1,
          deadline: now + this.readTimeoutMs,
          issuedAt: now,
          waiters: [],
        };
      }
      this.batchRead.waiters.push({
        run: () => {
          try {
            resolve(query());
          } catch (err) {
            reject(err);
          }
        },
        reject,
      });
      this.requestProcessing();
    });
  }

  private flushBatchRead(): void {
    const read = this.batchRead;
    if (read === undefined) return;
    this.batchRead = undefined;
    const id = this.nextReadId++;
    this.reads.set(id, read);
    this.issueReadIndex(id);
  }

  /**
   * Ask for a read point. Without a leader the round stays pending until one appears; a request
   * or answer lost in transit is re-sent after an election timeout (see `expire`).
   */
  private issueReadIndex(id: number): void {
    const read = this.reads.get(id);
    if (read !== undefined) read.issuedAt = this.clock.now();
    try {
      this.raw.readIndex(readContext(id));
    } catch (err) {
      this.log.debug({ id: this.id, read: id, err }, "read index deferred: no leader");
    }
  }

  private serveReads(): void {
    for (const [id, read] of this.reads) {
      if (read.index < 0 || read.index > this.applied) continue;
      this.reads.delete(id);
      for (const w of read.waiters) w.run();
    }
  }

  /** Add `node` as a voter directly (prefer `addLearner` + `promote`). Resolves once applied here. */
  addVoter(node: NodeId, address?: string): Promise<void> {
    return this.confChange({
      type: "add-voter",
      node,
      ...(address === undefined ? {} : { address }),
    });
  }

  /** Add `node` as a learner (receives the log, does not vote). Resolves once applied here. */
  addLearner(node: NodeId, address?: string): Promise<void> {
    return this.confChange({
      type: "add-learner",
      node,
      ...(address === undefined ? {} : { address }),
    });
  }

  /**
   * Promote a learner to voter. A learner may vote only once it has caught up: it answered the
   * leader within the last election timeout, is not receiving a snapshot, and is within
   * `maxPromoteLag` entries of the commit index. `promote` waits up to `waitMs` (default two
   * election timeouts) for that, retrying every tick, then rejects with `CONFLICT` (details
   * `match`, `commit`). Resolves once the change is applied here.
   */
  async promote(node: NodeId, options: { waitMs?: number } = {}): Promise<void> {
    const waitMs = options.waitMs ?? 2 * this.electionMs;
    const deadline = this.clock.now() + waitMs;
    for (;;) {
      try {
        return await this.promoteOnce(node);
      } catch (err) {
        const retry =
          err instanceof RaftError &&
          err.code === "CONFLICT" &&
          this.clock.now() + this.tickMs <= deadline &&
          this.refuse() === undefined;
        if (!retry) throw err;
      }
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.tickMs));
    }
  }

  private promoteOnce(node: NodeId): Promise<void> {
    const st = this.raw.status();
    const pr = st.progress[node];
    if (st.role === "leader" && pr !== undefined && st.commit - pr.match > this.maxPromoteLag) {
      return Promise.reject(
        new RaftError("CONFLICT", `${node} has not caught up with the log yet`, {
          details: {
            node,
            match: pr.match,
            commit: st.commit,
          },
        }),
      );
    }
    return this.confChange({ type: "promote", node });
  }

  /** Remove a voter or learner. Resolves once applied here. */
  removeMember(node: NodeId): Promise<void> {
    return this.confChange({ type: "remove", node });
  }

  private confChange(change: ConfChange): Promise<void> {
    return this.submit(() => this.raw.proposeConfChange(change)) as Promise<void>;
  }

  /**
   * Hand leadership to `to` (default: the most up-to-date other voter). Resolves when this
   * node sees `to` as leader; rejects with `NOT_LEADER`, `INVALID_ARGUMENT` (not a voter, or
   * no other voter), `TIMEOUT` after two election timeouts.
   */
  transferLeadership(to?: NodeId): Promise<void> {
    const refused = this.refuse();
    if (refused !== undefined) return Promise.reject(refused);
    const st = this.raw.status();
    if (st.role !== "leader") {
      return Promise.reject(
        this.notLeader(
          new RaftError("NOT_LEADER", "not the leader", { details: { leader: st.leader } }),
        ),
      );
    }
    let target = to;
    if (target === undefined) {
      let best = -1;
      for (const v of st.conf.voters) {
        const match = st.progress[v]?.match ?? -1;
        if (v !== this.id && match > best) {
          best = match;
          target = v;
        }
      }
      if (target === undefined) {
        return Promise.reject(
          new RaftError("INVALID_ARGUMENT", "to: there is no other voter to transfer to"),
        );
      }
    }
    if (st.role === "leader" && target === this.id) return Promise.resolve();
    try {
      this.raw.transferLeadership(target);
    } catch (err) {
      return Promise.reject(this.notLeader(err));
    }
    const dest = target;
    return new Promise<void>((resolve, reject) => {
      this.transfers.push({
        to: dest,
        deadline: this.clock.now() + 2 * this.electionMs,
        resolve,
        reject,
      });
      this.requestProcessing();
    });
  }

  /**
   * Snapshot the state machine now, at the applied index, and compact the log behind it
   * (keeping `snapshotTrailingEntries`), as reaching `snapshotThreshold` would; on any role.
   * Taken at the end of the next Ready loop (never while a write is in flight). Resolves with
   * the snapshot's index and size and the first log index kept; with the current snapshot when
   * nothing was applied since (index 0 when there is none). Rejects `SHUTTING_DOWN` /
   * `UNAVAILABLE` when the node is stopped or failed, or with the storage's error.
   */
  snapshotNow(): Promise<SnapshotTaken> {
    const refused = this.refuse();
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.snapshotWaiters.push({ resolve, reject });
      this.requestProcessing();
    });
  }

  /** Start an election now (e.g. an operator forcing a leader after maintenance). */
  campaign(): void {
    if (this.lifecycle !== "running") return;
    this.raw.campaign();
    this.requestProcessing();
  }

  /** A point-in-time view for operators and metrics. */
  status(): RaftNodeStatus {
    const st: RaftStatus = this.raw.status();
    return {
      id: this.id,
      state: this.lifecycle,
      role: st.role,
      term: st.term,
      vote: st.vote,
      leader: st.leader,
      leaderAddress: st.leader === null ? null : (st.conf.addresses?.[st.leader] ?? null),
      commit: st.commit,
      leaderCommit: st.leaderCommit,
      applied: this.applied,
      lastIndex: st.lastIndex,
      snapshotIndex: this.snapshotIndex,
      members: st.conf,
      membersIndex: st.confIndex,
      progress: st.progress,
      pendingProposals: this.pending.size,
      pendingReads:
        [...this.reads.values()].reduce((n, r) => n + r.waiters.length, 0) +
        (this.batchRead?.waiters.length ?? 0),
    };
  }

  /** Call `listener` after every role, leader or term change. Returns an unsubscribe function. */
  onStatusChange(listener: (status: RaftNodeStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Stop: cancel timers, reject everything pending with `SHUTTING_DOWN`, call
   * {@link Storage.flush} when the storage has one (SqliteStorage writes its lazily held commit
   * index), close the
   * transport. Storage stays open (it is the caller's to close). Idempotent. With
   * `{ transferLeadership: true }` a leader first hands leadership to the most up-to-date voter
   * (waiting at most two election timeouts; a failed transfer does not prevent the stop), so
   * the cluster does not wait an election timeout for a new leader.
   */
  async stop(options: { readonly transferLeadership?: boolean } = {}): Promise<void> {
    if (this.lifecycle !== "running") return;
    if (options.transferLeadership === true && this.role === "leader") {
      try {
        await this.transferLeadership();
      } catch (err) {
        this.log.warn({ id: this.id, err }, "leadership transfer before stop failed");
      }
      if (this.lifecycle !== "running") return;
    }
    this.shutdown("stopped", new RaftError("SHUTTING_DOWN", "the raft node is stopping"));
    if (this.storage.flush !== undefined) {
      try {
        this.storage.flush();
      } catch (err) {
        this.log.warn({ id: this.id, err }, "storage flush on stop failed");
      }
    }
    await this.transport.close();
    this.log.info({ id: this.id }, "raft node stopped");
  }
}

/**
 * Create and start a {@link RaftNode}: restores the state machine from Storage, registers the
 * transport handler and starts ticking. Throws `RaftError` `INVALID_ARGUMENT` naming a bad option.
 */
export function createRaftNode<Result = unknown>(
  options: RaftNodeOptions<Result>,
): RaftNode<Result> {
  const node = new RaftNode(options);
  node.start();
  return node;
}
