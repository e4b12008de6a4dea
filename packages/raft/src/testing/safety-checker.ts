import type { RawNode } from "../core/raw-node.js";
import type { Entry, NodeId } from "../types.js";

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Seen {
  readonly type: Entry["type"];
  readonly data: Uint8Array;
  readonly prevTerm: number | undefined;
}

/**
 * Checks the safety properties of Raft (Figure 3 of the paper) over a whole simulated history:
 * - Election Safety: at most one leader per term, ever (tracked historically);
 * - Leader Append-Only: checked by the simulator's driver (a leader never rewrites its log);
 * - Log Matching: two entries with the same index and term carry the same command and follow
 *   the same previous term (inductively: identical prefixes);
 * - Leader Completeness: a leader of term T holds every entry committed in a term < T;
 * - State Machine Safety: no two servers apply different entries at the same index.
 * Violations are collected as human-readable strings; the first one stops the simulation.
 */
export class SafetyChecker {
  readonly violations: string[] = [];
  leadersElected = 0;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly persisted = new Map<string, Seen>();
  private readonly applied: (Entry | undefined)[] = [];
  /** Per committed index: the term of the leader that committed it and the entry's term. */
  private readonly commitTerm: (number | undefined)[] = [];
  private readonly entryTerm: (number | undefined)[] = [];
  private recordedUpTo = 0;

  constructor(private readonly trace: (line: string) => void) {}

  fail(message: string): void {
    this.violations.push(message);
    this.trace(`VIOLATION ${message}`);
  }

  /** `id` is leader of `term` (called after each of its Ready batches). */
  onLeader(id: NodeId, term: number, raw: RawNode): void {
    const known = this.leaderOfTerm.get(term);
    if (known === id) return;
    if (known !== undefined) {
      this.fail(`election safety (§5.2): ${known} and ${id} both leaders of term ${term}`);
      return;
    }
    this.leaderOfTerm.set(term, id);
    this.leadersElected++;
    this.trace(`${id} elected leader of term ${term}`);
    const first = raw.firstIndex();
    for (let i = Math.max(first, 1); i <= this.recordedUpTo; i++) {
      const ct = this.commitTerm[i];
      const et = this.entryTerm[i];
      if (ct === undefined || et === undefined || ct >= term) continue;
      if (raw.logTerm(i) !== et) {
        this.fail(
          `leader completeness (§5.4): ${id} (term ${term}) lacks entry ${i}/${et} committed in term ${ct}`,
        );
        return;
      }
    }
  }

  /** A leader of `term` reports commit index `commit`. */
  onLeaderCommit(
    term: number,
    commit: number,
    raw: RawNode,
    liveLeaders: () => readonly { id: NodeId; raw: RawNode }[],
  ): void {
    if (commit <= this.recordedUpTo) return;
    const leaders = liveLeaders();
    for (let i = this.recordedUpTo + 1; i <= commit; i++) {
      const et = raw.logTerm(i) ?? this.applied[i]?.term;
      this.commitTerm[i] = term;
      this.entryTerm[i] = et;
      if (et === undefined) continue;
      for (const other of leaders) {
        const st = other.raw.status();
        if (st.term <= term || i < other.raw.firstIndex()) continue;
        if (other.raw.logTerm(i) !== et) {
          this.fail(
            `leader completeness (§5.4): ${other.id} (term ${st.term}) lacks committed ${i}/${et}`,
          );
        }
      }
    }
    if (commit > this.recordedUpTo) this.recordedUpTo = commit;
  }

  /** Entries about to be persisted by a node; `termOf` reads that node's log. */
  onPersist(
    id: NodeId,
    entries: readonly Entry[],
    termOf: (index: number) => number | undefined,
  ): void {
    for (const e of entries) {
      const key = `${e.index}:${e.term}`;
      const prevTerm = e.index === 1 ? 0 : termOf(e.index - 1);
      const seen = this.persisted.get(key);
      if (seen === undefined) {
        this.persisted.set(key, { type: e.type, data: e.data, prevTerm });
        continue;
      }
      if (seen.type !== e.type || !bytesEqual(seen.data, e.data)) {
        this.fail(`log matching (§5.3): ${id} holds a different entry at ${key}`);
      } else if (
        seen.prevTerm !== undefined &&
        prevTerm !== undefined &&
        seen.prevTerm !== prevTerm
      ) {
        this.fail(
          `log matching (§5.3): ${id} has entry ${key} after term ${prevTerm}, others after ${seen.prevTerm}`,
        );
      }
    }
  }

  /** A node applies `e` to its state machine. */
  onApply(id: NodeId, e: Entry): void {
    const g = this.applied[e.index];
    if (g === undefined) {
      this.applied[e.index] = e;
      return;
    }
    if (g.term !== e.term || g.type !== e.type || !bytesEqual(g.data, e.data)) {
      this.fail(
        `state machine safety (§5.4.3): ${id} applied ${e.index}/${e.term}, another server ${e.index}/${g.term}`,
      );
    }
  }

  /** A proposal was acknowledged to its client as committed. */
  onAcknowledged(e: Entry): void {
    if (this.applied[e.index]?.term !== e.term) {
      this.fail(`acknowledged entry ${e.index}/${e.term} is not the committed entry`);
    }
  }

  /** Cheap per-step checks over the live nodes. */
  checkStep(nodes: readonly { id: NodeId; raw: RawNode }[]): void {
    const leaders = new Map<number, NodeId>();
    for (const { id, raw } of nodes) {
      const st = raw.status();
      if (st.commit > st.lastIndex)
        this.fail(`${id}: commit ${st.commit} beyond last index ${st.lastIndex}`);
      if (st.role !== "leader") continue;
      const other = leaders.get(st.term);
      if (other !== undefined)
        this.fail(`election safety (§5.2): ${other} and ${id} lead term ${st.term}`);
      leaders.set(st.term, id);
    }
  }
}
