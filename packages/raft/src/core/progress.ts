import type { PeerProgress, ProgressState, Snapshot } from "../types.js";
import { Inflights } from "./inflights.js";

/**
 * The leader's view of one follower (etcd's Progress). States:
 * - `probe`: one append at a time, until the follower's match point is found;
 * - `replicate`: pipelined appends, up to `inflights.capacity` unacknowledged;
 * - `snapshot`: an InstallSnapshot transfer is in progress; no appends.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an append was sent and no response has arrived since. */
  probeSent = false;
  /** Heard from the follower since the last CheckQuorum round. */
  recentActive = false;
  readonly inflights: Inflights;
  /** The snapshot being transferred (snapshot state only) and the acknowledged offset. */
  snapshot: Snapshot | undefined = undefined;
  snapshotOffset = 0;
  /** Leader tick of the last acknowledgement, or of the first send after an idle period. */
  lastProgressTick = 0;

  constructor(
    next: number,
    maxInflight: number,
    public learner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    if (this.state === "snapshot" && this.snapshot !== undefined) {
      this.next = Math.max(this.match + 1, this.snapshot.meta.index + 1);
    } else {
      this.next = this.match + 1;
    }
    this.resetState("probe");
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState("replicate");
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.resetState("snapshot");
    this.snapshot = snapshot;
    this.snapshotOffset = 0;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.snapshot = undefined;
    this.snapshotOffset = 0;
    this.inflights.reset();
  }

  /** Record an acknowledgement up to `index`. Returns false when it is stale (≤ match). */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; `matchHint` is the leader's guess
   * (from the follower's hint) of the last matching index. Returns false when the rejection is
   * stale (refers to an append sent before a later state change).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** No append may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      default:
        return true;
    }
  }

  view(recentActive: boolean): PeerProgress {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflight: this.inflights.count,
      learner: this.learner,
      recentActive,
    };
  }
}
