import { decodeConfChangeEntry, EMPTY_CONF } from "../core/conf-change.js";
import { RaftError } from "../core/raft-error.js";
import { createSeededRandom } from "../core/random.js";
import { RawNode } from "../core/raw-node.js";
import { contextKey } from "../core/read-only.js";
import type { ConfState, Entry, Message, NodeId, RandomSource, Snapshot } from "../types.js";
import { checkKvHistory, type HistoryRead } from "./kv-history.js";
import { encodeKvPut, KvStateMachine } from "./kv-state-machine.js";
import { SafetyChecker } from "./safety-checker.js";
import { SimDisk } from "./sim-disk.js";

/** Kinds of faults the simulator injects (each can be disabled, e.g. when shrinking). */
export const FAULT_KINDS = [
  "drop",
  "duplicate",
  "reorder",
  "partition",
  "asymmetric",
  "isolate-leader",
  "crash",
  "torn-write",
  "membership",
  "transfer",
  "snapshot",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Default liveness bounds, in election timeouts: after healing, a proposal must commit within this
 * many. With PreVote and CheckQuorum (the defaults) the worst case observed over 20 000 seeds is
 * 13; with either disabled a removed server that never learned of its removal can keep disrupting
 * elections (dissertation §4.2.3) until its removal commits: worst observed 34.
 */
export const RECOVERY_ELECTION_TIMEOUTS = 40;
/** Liveness bound (election timeouts) for seeds that disable PreVote or CheckQuorum. */
export const RECOVERY_ELECTION_TIMEOUTS_UNPROTECTED = 100;

export interface SimulationOptions {
  readonly seed: number;
  /** Steps (virtual ticks) with faults enabled (default 300). */
  readonly faultSteps?: number;
  /** Liveness bound in ticks after healing (default: RECOVERY_ELECTION_TIMEOUTS election timeouts). */
  readonly recoverySteps?: number;
  /** Initial voters (default: 3 or 5, chosen by the seed). */
  readonly voters?: number;
  /** Fault kinds enabled (default: all). */
  readonly faults?: readonly FaultKind[];
  /** Receives a line per notable event (elections, faults, violations). */
  readonly trace?: (line: string) => void;
}

export interface SimulationResult {
  readonly seed: number;
  readonly steps: number;
  readonly faultsInjected: number;
  readonly faultCounts: Readonly<Record<FaultKind, number>>;
  readonly messages: number;
  readonly proposals: number;
  readonly acknowledged: number;
  readonly reads: number;
  readonly leadersElected: number;
  readonly snapshotsInstalled: number;
  /** Ticks from healing to the first commit of a new proposal (undefined if never). */
  readonly recoveredAfter: number | undefined;
  readonly violations: readonly string[];
  /** Step at which the first violation was detected. */
  readonly failedAtStep: number | undefined;
}

const KEYS = ["a", "b", "c"] as const;
/** Clients stop writing to a leader whose log has this many uncommitted entries. */
const MAX_UNCOMMITTED = 32;

interface PendingWrite {
  readonly term: number;
  readonly history: { key: string; value: string; invokedAt: number; ackedAt: number | undefined };
}

interface SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  readonly bootstrap: ConfState | undefined;
  raw: RawNode | undefined;
  sm: KvStateMachine;
  applied: number;
  appliedConf: ConfState;
  removed: boolean;
  leaderTerm: number;
  leaderMaxIndex: number;
  snapshotEvery: number;
  proposals: Map<number, PendingWrite>;
  reads: Map<string, { key: string; invokedAt: number }>;
  waitingReads: { index: number; key: string; invokedAt: number }[];
}

interface InFlight {
  readonly at: number;
  readonly message: Message;
}

/**
 * A deterministic Raft cluster simulation: N RawNodes in one process with a virtual clock and a
 * seeded scheduler. The simulator is the driver: it persists each Ready to a {@link SimDisk}
 * (a crash loses unsynced writes), sends messages through a faulty network, applies committed
 * entries to a {@link KvStateMachine}, takes snapshots and runs client writes and reads.
 * After every step the {@link SafetyChecker} verifies the Raft safety properties; at the end
 * the client history is checked for linearizability. Same seed and options, same run.
 */
export class Simulation {
  readonly rng: RandomSource;
  private readonly enabled: ReadonlySet<FaultKind>;
  private readonly trace: ((line: string) => void) | undefined;
  private readonly nodes = new Map<NodeId, SimNode>();
  private inflight: InFlight[] = [];
  private blocked = new Set<string>();
  private readonly checker: SafetyChecker;
  private now = 0;
  private seq = 0;
  private nextNodeNumber = 1;
  private faultPhase = true;
  private readonly writes: PendingWrite["history"][] = [];
  private readonly reads: HistoryRead[] = [];
  private readonly valueIndex = new Map<string, number>();
  private readonly faultCounts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<
    FaultKind,
    number
  >;
  private messages = 0;
  private proposals = 0;
  private acknowledged = 0;
  private snapshotsInstalled = 0;
  private readCounter = 0;
  /** Per-seed fault intensity multiplier (some seeds are calm, some are storms). */
  private readonly chaos: number;
  private readonly maxInflight: number;
  private readonly maxAppendBytes: number;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly chunkBytes: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly leaderSendsFirst: boolean;

  constructor(private readonly options: SimulationOptions) {
    this.rng = createSeededRandom(options.seed);
    this.enabled = new Set(options.faults ?? FAULT_KINDS);
    this.trace = options.trace;
    this.checker = new SafetyChecker((line) => this.log(line));
    this.chaos = [0.5, 1, 2, 4][this.int(4)] as number;
    this.maxInflight = [1, 4, 16][this.int(3)] as number;
    this.maxAppendBytes = [1, 64, 512][this.int(3)] as number;
    this.electionTicks = [6, 10, 20][this.int(3)] as number;
    this.heartbeatTicks = [1, 2][this.int(2)] as number;
    this.chunkBytes = [8, 16, 64][this.int(3)] as number;
    this.checkQuorum = this.rng() < 0.75;
    this.preVote = this.rng() < 0.75;
    this.leaderSendsFirst = this.rng() < 0.5;
    const voters = options.voters ?? ([1, 3, 3, 5, 5, 7][this.int(6)] as number);
    const ids = Array.from({ length: voters }, () => `n${this.nextNodeNumber++}`);
    const bootstrap: ConfState = { voters: [...ids].sort(), learners: [] };
    for (const id of ids) this.addNode(id, bootstrap);
  }

  private log(line: string): void {
    this.trace?.(`[t=${this.now}] ${line}`);
  }

  private int(n: number): number {
    return Math.floor(this.rng() * n);
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.int(items.length)];
  }

  private on(kind: FaultKind, p: number): boolean {
    return this.faultPhase && this.enabled.has(kind) && this.rng() < p * this.chaos;
  }

  private count(kind: FaultKind, what: string): void {
    this.faultCounts[kind]++;
    this.log(`fault ${kind}: ${what}`);
  }

  // ---- nodes -----------------------------------------------------------------------------

  private addNode(id: NodeId, bootstrap: ConfState | undefined): SimNode {
    const node: SimNode = {
      id,
      disk: new SimDisk(),
      bootstrap,
      raw: undefined,
      sm: new KvStateMachine(),
      applied: 0,
      appliedConf: bootstrap ?? EMPTY_CONF,
      removed: false,
      leaderTerm: 0,
      leaderMaxIndex: 0,
      snapshotEvery: 5 + this.int(30),
      proposals: new Map(),
      reads: new Map(),
      waitingReads: [],
    };
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  private start(n: SimNode): void {
    n.raw = new RawNode({
      id: n.id,
      storage: n.disk,
      random: createSeededRandom(this.int(2 ** 32)),
      electionTicks: this.electionTicks,
      heartbeatTicks: this.heartbeatTicks,
      maxInflightAppends: this.maxInflight,
      maxAppendBytes: this.maxAppendBytes,
      snapshotChunkBytes: this.chunkBytes,
      checkQuorum: this.checkQuorum,
      preVote: this.preVote,
      ...(n.bootstrap === undefined ? {} : { bootstrap: n.bootstrap }),
    });
    n.sm = new KvStateMachine();
    const snap = n.disk.snapshot();
    n.applied = snap?.meta.index ?? 0;
    n.appliedConf = snap?.meta.conf ?? n.bootstrap ?? EMPTY_CONF;
    if (snap !== undefined) n.sm.restore(snap.data);
    n.leaderTerm = 0;
    n.leaderMaxIndex = 0;
  }

  private crash(n: SimNode, keepUnsynced: number): void {
    n.disk.crash(keepUnsynced);
    n.raw = undefined;
    n.proposals.clear();
    n.reads.clear();
    n.waitingReads = [];
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raw !== undefined && !n.removed);
  }

  private leaders(): SimNode[] {
    return this.live().filter((n) => n.raw?.status().role === "leader");
  }

  // ---- the driver ------------------------------------------------------------------------

  private processReady(n: SimNode): void {
    for (let guard = 0; n.raw?.hasReady(); guard++) {
      const raw = n.raw;
      if (guard > 10_000) {
        this.checker.fail(`${n.id}: Ready loop does not converge`);
        return;
      }
      const before = raw.status();
      const rd = raw.ready();
      // Dissertation §10.2.1 (optional): a leader may send before its own write completes when
      // nothing in the batch depends on a term or vote that is not yet durable.
      const durable = n.disk.durableHardState();
      const sendFirst =
        this.leaderSendsFirst &&
        rd.snapshot === undefined &&
        (rd.softState?.role ?? before.role) === "leader" &&
        (rd.hardState === undefined ||
          (rd.hardState.term === durable.term && rd.hardState.vote === durable.vote));
      if (sendFirst) for (const m of rd.messages) this.send(m);
      if (rd.snapshot !== undefined) n.disk.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) {
        this.checker.onPersist(n.id, rd.entries, (i) => raw.logTerm(i));
        if (before.role === "leader") {
          if (n.leaderTerm !== before.term) {
            n.leaderTerm = before.term;
            n.leaderMaxIndex = 0;
          }
          const first = rd.entries[0]?.index ?? 0;
          if (first <= n.leaderMaxIndex) {
            this.checker.fail(`leader append-only (§5.3): ${n.id} rewrote its log at ${first}`);
          }
          n.leaderMaxIndex = Math.max(
            n.leaderMaxIndex,
            rd.entries[rd.entries.length - 1]?.index ?? 0,
          );
        }
        n.disk.append(rd.entries);
      }
      if (rd.hardState !== undefined) n.disk.setHardState(rd.hardState);
      if (n.disk.unsyncedWrites > 0 && this.on("torn-write", 0.004)) {
        const keep = this.int(n.disk.unsyncedWrites);
        this.count(
          "torn-write",
          `${n.id} crashed keeping ${keep} of ${n.disk.unsyncedWrites} unsynced writes`,
        );
        this.crash(n, keep);
        return;
      }
      n.disk.sync();
      if (!sendFirst) for (const m of rd.messages) this.send(m);
      if (rd.snapshot !== undefined) {
        this.snapshotsInstalled++;
        n.sm.restore(rd.snapshot.data);
        n.applied = rd.snapshot.meta.index;
        n.appliedConf = rd.snapshot.meta.conf;
        this.log(`${n.id} installed snapshot at ${rd.snapshot.meta.index}`);
      }
      for (const e of rd.committedEntries) this.apply(n, e);
      for (const rs of rd.readStates) {
        const key = contextKey(rs.context);
        const pending = n.reads.get(key);
        if (pending !== undefined) {
          n.reads.delete(key);
          n.waitingReads.push({ index: rs.index, ...pending });
        }
      }
      this.serveReads(n);
      raw.advance();
      const st = raw.status();
      if (st.role === "leader") {
        this.checker.onLeader(n.id, st.term, raw);
        this.checker.onLeaderCommit(st.term, st.commit, raw, () => this.liveLeaders());
      }
      this.maybeSnapshot(n);
    }
  }

  private liveLeaders(): { id: NodeId; raw: RawNode }[] {
    const out: { id: NodeId; raw: RawNode }[] = [];
    for (const n of this.live()) {
      if (n.raw !== undefined && n.raw.status().role === "leader")
        out.push({ id: n.id, raw: n.raw });
    }
    return out;
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) {
      this.checker.fail(`${n.id} applied ${e.index} after ${n.applied} (gap or repeat)`);
    }
    this.checker.onApply(n.id, e);
    n.applied = e.index;
    if (e.type === "normal") {
      n.sm.apply(e.data, e.index);
      const value = JSON.parse(new TextDecoder().decode(e.data))[1] as string;
      const seen = this.valueIndex.get(value);
      if (seen !== undefined && seen !== e.index) {
        this.checker.fail(`value ${value} applied at both ${seen} and ${e.index}`);
      }
      this.valueIndex.set(value, e.index);
    } else if (e.type === "config") {
      const { change, conf } = decodeConfChangeEntry(e.data);
      n.appliedConf = conf;
      if (change.type === "remove") {
        const gone = this.nodes.get(change.node);
        if (gone !== undefined && !gone.removed) {
          gone.removed = true;
          gone.raw = undefined;
          this.log(`${change.node} removed from the cluster and stopped`);
        }
      }
    }
    const pending = n.proposals.get(e.index);
    if (pending !== undefined) {
      n.proposals.delete(e.index);
      if (pending.term === e.term) {
        pending.history.ackedAt = this.seq++;
        this.acknowledged++;
        this.checker.onAcknowledged(e);
      }
    }
  }

  private serveReads(n: SimNode): void {
    if (n.waitingReads.length === 0) return;
    const still: SimNode["waitingReads"] = [];
    for (const w of n.waitingReads) {
      if (w.index <= n.applied) {
        this.reads.push({
          key: w.key,
          value: n.sm.get(w.key),
          invokedAt: w.invokedAt,
          returnedAt: this.seq++,
        });
      } else {
        still.push(w);
      }
    }
    n.waitingReads = still;
  }

  private maybeSnapshot(n: SimNode): void {
    const raw = n.raw;
    if (raw === undefined || !this.enabled.has("snapshot")) return;
    const snapIndex = n.disk.snapshot()?.meta.index ?? 0;
    if (n.applied - snapIndex < n.snapshotEvery) return;
    const term = raw.logTerm(n.applied);
    if (term === undefined) return;
    const snap: Snapshot = {
      meta: { index: n.applied, term, conf: n.appliedConf },
      data: n.sm.snapshot(),
    };
    n.disk.applySnapshot(snap);
    const compactTo = n.applied - this.int(4);
    if (compactTo >= n.disk.firstIndex()) n.disk.compact(compactTo);
    n.disk.sync();
    this.faultCounts.snapshot++;
  }

  // ---- network ---------------------------------------------------------------------------

  private send(m: Message): void {
    this.messages++;
    if (this.blocked.has(`${m.from}>${m.to}`)) return;
    if (this.on("drop", 0.05)) {
      this.faultCounts.drop++;
      return;
    }
    const jitter = this.enabled.has("reorder") && this.faultPhase ? this.int(4) : 0;
    if (jitter > 0) this.faultCounts.reorder++;
    this.inflight.push({ at: this.now + 1 + jitter, message: m });
    if (this.on("duplicate", 0.03)) {
      this.faultCounts.duplicate++;
      this.inflight.push({ at: this.now + 1 + this.int(5), message: m });
    }
  }

  private deliver(): void {
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const f of this.inflight) (f.at <= this.now ? due : later).push(f);
    this.inflight = later;
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = due[i] as InFlight;
      due[i] = due[j] as InFlight;
      due[j] = t;
    }
    for (const { message: m } of due) {
      const n = this.nodes.get(m.to);
      if (n?.raw === undefined || n.removed || this.blocked.has(`${m.from}>${m.to}`)) continue;
      n.raw.step(m);
      this.processReady(n);
    }
  }

  // ---- faults ----------------------------------------------------------------------------

  private injectFaults(): void {
    const live = this.live();
    if (this.blocked.size > 0 && this.rng() < 0.05) {
      this.blocked.clear();
      this.log("network healed");
    }
    if (this.on("partition", 0.012) && live.length > 1) {
      const a = new Set(live.filter(() => this.rng() < 0.5).map((n) => n.id));
      for (const x of live) {
        for (const y of live) {
          if (a.has(x.id) !== a.has(y.id)) this.blocked.add(`${x.id}>${y.id}`);
        }
      }
      this.count("partition", `{${[...a].join(",")}} | rest`);
    }
    if (this.on("asymmetric", 0.012) && live.length > 1) {
      const x = this.pick(live);
      const y = this.pick(live);
      if (x !== undefined && y !== undefined && x !== y) {
        this.blocked.add(`${x.id}>${y.id}`);
        this.count("asymmetric", `${x.id} -/-> ${y.id}`);
      }
    }
    if (this.on("isolate-leader", 0.012)) {
      const l = this.pick(this.leaders());
      if (l !== undefined) {
        for (const y of this.nodes.keys()) {
          if (y !== l.id) {
            this.blocked.add(`${l.id}>${y}`);
            this.blocked.add(`${y}>${l.id}`);
          }
        }
        this.count("isolate-leader", l.id);
      }
    }
    if (this.on("crash", 0.012)) {
      // Half of the crashes hit a leader: leader crashes drive the Figure 7/8 scenarios.
      const leaders = this.leaders();
      const n = leaders.length > 0 && this.rng() < 0.5 ? this.pick(leaders) : this.pick(live);
      if (n !== undefined) {
        this.count("crash", n.id);
        this.crash(n, 0);
      }
    }
    for (const n of this.nodes.values()) {
      if (n.raw === undefined && !n.removed && this.rng() < 0.06) {
        this.start(n);
        this.log(`${n.id} restarted`);
        this.processReady(n);
      }
    }
    if (this.on("membership", 0.015)) this.changeMembership();
    if (this.on("transfer", 0.008)) {
      const l = this.pick(this.leaders());
      const to =
        l === undefined ? undefined : this.pick(l.appliedConf.voters.filter((v) => v !== l.id));
      if (l?.raw !== undefined && to !== undefined) {
        try {
          l.raw.transferLeadership(to);
          this.count("transfer", `${l.id} -> ${to}`);
          this.processReady(l);
        } catch (error) {
          if (!(error instanceof RaftError)) throw error;
        }
      }
    }
  }

  private changeMembership(): void {
    const l = this.pick(this.leaders());
    if (l?.raw === undefined) return;
    const conf = l.raw.status().conf;
    const members = conf.voters.length + conf.learners.length;
    const r = this.rng();
    let change:
      | { type: "add-voter" | "add-learner" | "promote" | "remove"; node: NodeId }
      | undefined;
    if (conf.learners.length > 0 && r < 0.7) {
      change = { type: "promote", node: conf.learners[0] as NodeId };
    } else if (members < 6 && r < 0.75) {
      change = {
        type: this.rng() < 0.8 ? "add-learner" : "add-voter",
        node: `n${this.nextNodeNumber}`,
      };
    } else if (conf.voters.length > 2) {
      const victim = this.pick([...conf.voters, ...conf.learners]);
      if (victim !== undefined) change = { type: "remove", node: victim };
    }
    if (change === undefined) return;
    try {
      l.raw.proposeConfChange({ ...change, address: `sim://${change.node}` });
    } catch (error) {
      if (error instanceof RaftError) return;
      throw error;
    }
    this.count("membership", `${change.type} ${change.node} via ${l.id}`);
    if (change.type === "add-learner" || change.type === "add-voter") {
      this.nextNodeNumber++;
      this.addNode(change.node, undefined);
    }
    this.processReady(l);
  }

  // ---- clients ---------------------------------------------------------------------------

  private clientWrite(preferLeader: boolean): PendingWrite | undefined {
    const leaders = this.leaders();
    const n = preferLeader && leaders.length > 0 ? this.pick(leaders) : this.pick(this.live());
    if (n?.raw === undefined) return undefined;
    // Backpressure, as a real driver applies it: a leader with a long uncommitted tail takes no
    // new writes (otherwise a slow configuration could be overloaded forever).
    const st = n.raw.status();
    if (st.lastIndex - st.commit > MAX_UNCOMMITTED) return undefined;
    const key = this.pick(KEYS) as string;
    const value = `v${this.proposals + 1}`;
    const invokedAt = this.seq++;
    try {
      const ticket = n.raw.propose(encodeKvPut({ key, value }));
      this.proposals++;
      const pending: PendingWrite = {
        term: ticket.term,
        history: { key, value, invokedAt, ackedAt: undefined },
      };
      this.writes.push(pending.history);
      n.proposals.set(ticket.index, pending);
      this.processReady(n);
      return pending;
    } catch (error) {
      if (error instanceof RaftError) return undefined;
      throw error;
    }
  }

  private clientRead(): void {
    // Half of the reads go to a node that believes it leads: a deposed leader that still
    // answers reads is the classic source of stale reads.
    const leaders = this.leaders();
    const n = leaders.length > 0 && this.rng() < 0.5 ? this.pick(leaders) : this.pick(this.live());
    if (n?.raw === undefined) return;
    const key = this.pick(KEYS) as string;
    const context = new TextEncoder().encode(`r${this.readCounter++}`);
    try {
      n.raw.readIndex(context);
    } catch (error) {
      if (error instanceof RaftError) return;
      throw error;
    }
    n.reads.set(contextKey(context), { key, invokedAt: this.seq++ });
    this.processReady(n);
  }

  // ---- main loop -------------------------------------------------------------------------

  private step(): void {
    this.now++;
    if (this.faultPhase) this.injectFaults();
    for (const n of this.live()) {
      if (this.faultPhase && this.enabled.has("reorder") && this.rng() < 0.05) continue;
      n.raw?.tick();
      this.processReady(n);
    }
    this.deliver();
    if (this.rng() < 0.3) this.clientWrite(this.rng() < 0.8);
    if (this.rng() < 0.25) this.clientRead();
    this.checker.checkStep(this.live().map((n) => ({ id: n.id, raw: n.raw as RawNode })));
    // The history check is monotone (a violation stays one), so checking every few steps finds
    // it at most a few steps late while keeping the cost low; the final check sees everything.
    if (this.now % 20 === 0) this.checkHistory();
  }

  private checkHistory(): void {
    const indexOf = (value: string) => this.valueIndex.get(value);
    for (const v of checkKvHistory(this.writes, this.reads, indexOf)) {
      this.checker.fail(`linearizability: ${v}`);
    }
  }

  private heal(): void {
    this.faultPhase = false;
    this.blocked.clear();
    for (const n of this.nodes.values()) {
      if (n.raw === undefined && !n.removed) {
        this.start(n);
        this.processReady(n);
      }
    }
    this.log("faults healed; all nodes up");
  }

  /**
   * Run the whole scenario: fault phase, heal, bounded recovery, final checks. An exception thrown
   * by the core (e.g. `CORRUPT`) is reported as a violation, never propagated.
   */
  run(): SimulationResult {
    try {
      return this.runUnchecked();
    } catch (error) {
      this.checker.fail(`exception: ${error instanceof Error ? error.stack : String(error)}`);
      return this.result(this.now, undefined);
    }
  }

  private runUnchecked(): SimulationResult {
    const faultSteps = this.options.faultSteps ?? 300;
    const bound =
      this.preVote && this.checkQuorum
        ? RECOVERY_ELECTION_TIMEOUTS
        : RECOVERY_ELECTION_TIMEOUTS_UNPROTECTED;
    const recoverySteps = this.options.recoverySteps ?? bound * this.electionTicks;
    let steps = 0;
    let recoveredAfter: number | undefined;
    const failed = () => this.checker.violations.length > 0;
    for (; steps < faultSteps && !failed(); steps++) this.step();
    if (!failed()) {
      this.heal();
      const healedAt = this.seq;
      for (let t = 1; t <= recoverySteps && !failed(); t++, steps++) {
        this.step();
        if (t % 5 === 1) this.clientWrite(true);
        if (this.writes.some((w) => w.invokedAt > healedAt && w.ackedAt !== undefined)) {
          recoveredAfter = t;
          break;
        }
      }
      if (recoveredAfter === undefined && !failed()) {
        this.checker.fail(
          `liveness: no proposal committed within ${recoverySteps} ticks (${recoverySteps / this.electionTicks} election timeouts) after healing`,
        );
      }
      // Let replicas converge, then compare them.
      for (let t = 0; t < 100 && !failed(); t++, steps++) {
        this.step();
        if (this.converged()) break;
      }
      if (!failed()) this.compareReplicas();
    }
    if (!failed()) this.checkHistory();
    return this.result(steps, recoveredAfter);
  }

  private result(steps: number, recoveredAfter: number | undefined): SimulationResult {
    const failedAtStep = this.checker.violations.length > 0 ? steps : undefined;
    const faultsInjected = FAULT_KINDS.filter((k) => k !== "snapshot").reduce(
      (sum, k) => sum + this.faultCounts[k],
      0,
    );
    return {
      seed: this.options.seed,
      steps,
      faultsInjected,
      faultCounts: { ...this.faultCounts },
      messages: this.messages,
      proposals: this.proposals,
      acknowledged: this.acknowledged,
      reads: this.reads.length,
      leadersElected: this.checker.leadersElected,
      snapshotsInstalled: this.snapshotsInstalled,
      recoveredAfter,
      violations: [...this.checker.violations],
      failedAtStep,
    };
  }

  private converged(): boolean {
    const live = this.live();
    const applied = live.map((n) => n.applied);
    return applied.every((a) => a === applied[0]);
  }

  private compareReplicas(): void {
    const byApplied = new Map<number, { id: NodeId; fp: string }>();
    for (const n of this.live()) {
      const fp = n.sm.fingerprint();
      const other = byApplied.get(n.applied);
      if (other === undefined) byApplied.set(n.applied, { id: n.id, fp });
      else if (other.fp !== fp) {
        this.checker.fail(
          `state machine safety: ${n.id} and ${other.id} differ at applied ${n.applied}`,
        );
      }
    }
  }
}

/** Run one seeded scenario. */
export function runSimulation(options: SimulationOptions): SimulationResult {
  return new Simulation(options).run();
}

/**
 * Minimise a failing scenario: drop fault kinds one at a time while the run still fails, then
 * return the smallest failing options (same seed) and the step of its first violation.
 */
export function shrinkFailure(options: SimulationOptions): {
  readonly options: SimulationOptions;
  readonly result: SimulationResult;
} {
  let best = options;
  let bestResult = runSimulation(options);
  if (bestResult.violations.length === 0) return { options, result: bestResult };
  for (const kind of FAULT_KINDS) {
    const faults = (best.faults ?? FAULT_KINDS).filter((k) => k !== kind);
    const candidate: SimulationOptions = { ...best, faults };
    const r = runSimulation(candidate);
    if (r.violations.length > 0) {
      best = candidate;
      bestResult = r;
    }
  }
  for (let steps = 25; steps < (best.faultSteps ?? 300); steps *= 2) {
    const candidate: SimulationOptions = { ...best, faultSteps: steps };
    const r = runSimulation(candidate);
    if (r.violations.length > 0) return { options: candidate, result: r };
  }
  return { options: best, result: bestResult };
}

/** A one-line command that replays a (shrunk) failing scenario with a trace. */
export function replayCommand(options: SimulationOptions): string {
  const faults =
    options.faults === undefined ? "" : ` --faults ${options.faults.join(",") || "none"}`;
  const steps = options.faultSteps === undefined ? "" : ` --fault-steps ${options.faultSteps}`;
  return `pnpm --filter @ipam/raft sim --seed ${options.seed}${faults}${steps} --trace`;
}
