import type {
  ConfChange,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposalTicket,
  RaftStatus,
  RawNodeApi,
  RawNodeOptions,
  Ready,
  SoftState,
} from "../types.js";
import { Raft } from "./raft.js";
import { RaftError } from "./raft-error.js";

interface Outstanding {
  readonly lastEntry: Entry | undefined;
  readonly snapshotIndex: number | undefined;
  readonly appliedTo: number;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * The pure Raft core (etcd's RawNode): feed it ticks, messages and proposals; take `ready()`
 * batches, do their I/O in the documented order (see {@link Ready}), then `advance()`.
 * No clock, timers, randomness (except the injected source) or I/O beyond reading Storage.
 *
 * At most one Ready is outstanding: `hasReady()` is false and `ready()` throws `INTERNAL` until
 * `advance()` is called. Ticks, messages and proposals may still be fed in between.
 *
 * Restart: the driver restores the state machine from `storage.snapshot()` (if any) before the
 * first `ready()`; committed entries after the snapshot (or after `options.applied`) are then
 * delivered again in `committedEntries`.
 */
export class RawNode implements RawNodeApi {
  private readonly raft: Raft;
  private prevHard: HardState;
  private prevSoft: SoftState;
  private outstanding: Outstanding | undefined = undefined;

  /** Throws `RaftError` `INVALID_ARGUMENT` naming the bad option. */
  constructor(options: RawNodeOptions) {
    this.raft = new Raft(options);
    this.prevHard = this.raft.hardState();
    this.prevSoft = this.raft.softState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    this.raft.step(message);
  }

  propose(data: Uint8Array): ProposalTicket {
    return this.raft.propose(data);
  }

  proposeConfChange(change: ConfChange): ProposalTicket {
    return this.raft.proposeConfChange(change);
  }

  readIndex(context: Uint8Array): void {
    this.raft.readIndex(context);
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  campaign(): void {
    this.raft.hup(false);
  }

  reportUnreachable(to: NodeId): void {
    const pr = this.raft.role === "leader" ? this.raft.progress.get(to) : undefined;
    if (pr !== undefined && pr.state === "replicate") pr.becomeProbe();
  }

  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const r = this.raft;
    const log = r.log;
    const applyFrom = Math.max(log.applied, log.unstable.snapshot?.meta.index ?? 0);
    return (
      r.needFlush ||
      log.unstable.entries.length > 0 ||
      log.unstable.snapshot !== undefined ||
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      log.committed > applyFrom ||
      !sameHardState(r.hardState(), this.prevHard) ||
      r.role !== this.prevSoft.role ||
      r.leader !== this.prevSoft.leader
    );
  }

  ready(): Ready {
    if (this.outstanding !== undefined) {
      throw new RaftError("INTERNAL", "ready() called again before advance()");
    }
    const r = this.raft;
    r.flush();
    const log = r.log;
    const entries = log.unstable.entries.slice();
    const snapshot = log.unstable.snapshot;
    const applyFrom = Math.max(log.applied, snapshot?.meta.index ?? 0);
    const committedEntries =
      log.committed > applyFrom ? log.slice(applyFrom + 1, log.committed + 1) : [];
    const hs = r.hardState();
    const ss = r.softState();
    const rd: {
      -readonly [K in keyof Ready]: Ready[K];
    } = {
      entries,
      messages: r.msgs,
      committedEntries,
      readStates: r.readStates,
    };
    if (snapshot !== undefined) rd.snapshot = snapshot;
    if (!sameHardState(hs, this.prevHard)) rd.hardState = hs;
    if (ss.role !== this.prevSoft.role || ss.leader !== this.prevSoft.leader) rd.softState = ss;
    r.msgs = [];
    r.readStates = [];
    this.prevHard = hs;
    this.prevSoft = ss;
    this.outstanding = {
      lastEntry: entries[entries.length - 1],
      snapshotIndex: snapshot?.meta.index,
      appliedTo: committedEntries[committedEntries.length - 1]?.index ?? applyFrom,
    };
    return rd;
  }

  advance(): void {
    const o = this.outstanding;
    if (o === undefined) throw new RaftError("INTERNAL", "advance() without a ready()");
    this.outstanding = undefined;
    const log = this.raft.log;
    if (o.snapshotIndex !== undefined) log.unstable.stableSnapTo(o.snapshotIndex);
    if (o.lastEntry !== undefined) log.unstable.stableTo(o.lastEntry.index, o.lastEntry.term);
    log.applied = Math.max(log.applied, o.appliedTo);
    this.raft.onPersisted();
  }

  /**
   * Read-only view of the log for checkers and debugging: term of an index (undefined when
   * unknown or compacted), including entries not yet persisted.
   */
  logTerm(index: number): number | undefined {
    return this.raft.log.term(index);
  }

  /** First index still held in the log (entries before it are covered by a snapshot). */
  firstIndex(): number {
    return this.raft.log.firstIndex();
  }

  status(): RaftStatus {
    return this.raft.status();
  }
}
