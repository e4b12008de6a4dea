import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FAULT_KINDS,
  replayCommand,
  runSimulation,
  type SimulationResult,
  shrinkFailure,
} from "../src/testing/index.js";

/**
 * The deterministic fault simulation (Raft paper Figure 3 properties, no acknowledged write lost,
 * linearizable KV history, liveness after healing), over many seeds. Split into shards so that
 * vitest can run them in parallel; together they cover SEEDS seeds.
 */
const SEEDS = 2000;
const SHARDS = 8;

/** The failure message: seed, step, violation, and the command replaying a shrunk scenario. */
function explain(r: SimulationResult): string {
  const shrunk = shrinkFailure({ seed: r.seed });
  return [
    `seed ${r.seed} failed at step ${r.failedAtStep}: ${r.violations.join("; ")}`,
    `replay: ${replayCommand({ seed: r.seed })}`,
    `minimal replay (fails at step ${shrunk.result.failedAtStep}): ${replayCommand(shrunk.options)}`,
  ].join("\n");
}

describe("deterministic simulation", () => {
  for (let shard = 0; shard < SHARDS; shard++) {
    it(`keeps every safety and liveness property (seeds ${shard + 1}..${SEEDS} step ${SHARDS})`, () => {
      let acknowledged = 0;
      let faults = 0;
      for (let seed = shard + 1; seed <= SEEDS; seed += SHARDS) {
        const r = runSimulation({ seed });
        if (r.violations.length > 0) expect.fail(explain(r));
        expect(r.recoveredAfter).toBeDefined();
        acknowledged += r.acknowledged;
        faults += r.faultsInjected;
      }
      // The runs must actually exercise the system (not vacuous).
      expect(acknowledged).toBeGreaterThan(SEEDS / SHARDS);
      expect(faults).toBeGreaterThan(SEEDS / SHARDS);
    });
  }

  it("keeps every property under any subset of fault kinds (property test)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.subarray([...FAULT_KINDS]),
        (seed, faults) => {
          const r = runSimulation({ seed, faults, faultSteps: 200 });
          if (r.violations.length > 0) {
            expect.fail(
              `${r.violations.join("; ")}\nreplay: ${replayCommand({ seed, faults, faultSteps: 200 })}`,
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("is deterministic: the same seed gives the same run", () => {
    const a = runSimulation({ seed: 7 });
    const b = runSimulation({ seed: 7 });
    expect(b).toEqual(a);
    expect(runSimulation({ seed: 8 })).not.toEqual(a);
  });
});
