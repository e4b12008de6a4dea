/** How a server lags its leader (see {@link ApplyLag.lagging}). */
export interface Lag {
  /** The leader's commit index this server has not applied yet. */
  readonly target: number;
  /** The applied index at the last observation. */
  readonly applied: number;
  /** How long the target has been waiting, ms. */
  readonly forMs: number;
}

/**
 * Whether a server keeps up with the leader: every commit index the leader announced must be
 * applied here within `boundMs`. Under a steady write load the applied index is always a little
 * behind the newest commit index, so the lag is measured per announced index, not "behind at
 * all": the oldest announced index not yet applied and since when it waits. Pure: time comes in
 * as arguments (ms).
 */
export class ApplyLag {
  readonly boundMs: number;
  #target: number | undefined;
  #since = 0;
  #applied = 0;

  constructor(boundMs: number) {
    this.boundMs = boundMs;
  }

  /** Records this server's applied index and the leader's commit index (0: none known) at `now`. */
  observe(now: number, applied: number, leaderCommit: number): void {
    this.#applied = applied;
    if (this.#target !== undefined && applied >= this.#target) this.#target = undefined;
    if (this.#target === undefined && leaderCommit > applied) {
      this.#target = leaderCommit;
      this.#since = now;
    }
  }

  /** The lag, when an announced commit index has waited longer than the bound; else undefined. */
  lagging(now: number): Lag | undefined {
    if (this.#target === undefined || now - this.#since <= this.boundMs) return undefined;
    return { target: this.#target, applied: this.#applied, forMs: now - this.#since };
  }
}
