// The load both raft benchmark modes drive (all nodes on one thread in run.ts, one worker
// thread per node in worker-node.ts): a counter state machine and back-to-back proposers.
import type { StateMachine } from "../src/types.js";

/** Every proposal's payload: 64 bytes. */
export const PAYLOAD = new Uint8Array(64).fill(7);

/** A counter state machine: the cheapest deterministic apply, so Raft itself is measured. */
export class Counter implements StateMachine<number> {
  private n = 0;
  apply(): number {
    return ++this.n;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.n));
  }
  restore(data: Uint8Array): void {
    this.n = Number(new TextDecoder().decode(data));
  }
}

/**
 * Warms up with 50 sequential proposals (JIT, SQLite caches), then runs `proposers` loops that
 * each propose PAYLOAD back to back until `ms` have passed. Returns the proposals committed in
 * the timed part, its length in seconds and every proposal's latency in ms.
 */
export async function proposeFor(
  propose: (data: Uint8Array) => Promise<unknown>,
  proposers: number,
  ms: number,
): Promise<{ done: number; seconds: number; latencies: number[] }> {
  for (let i = 0; i < 50; i++) await propose(PAYLOAD);
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + ms;
  let done = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await propose(PAYLOAD);
      latencies.push(performance.now() - t0);
      done++;
    }
  };
  await Promise.all(Array.from({ length: proposers }, loop));
  return { done, seconds: (performance.now() - start) / 1000, latencies };
}
