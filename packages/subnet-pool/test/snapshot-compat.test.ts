// Snapshots written by an earlier build still restore: every fixture in test/fixtures/ (bytes
// written by the build of its snapshot version, see generate-snapshot-fixtures.ts) restores to
// a state that answers every query as the writing build did, re-snapshots to the same bytes,
// and applies later commands with the same results and the same final snapshot.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ClusterState, SNAPSHOT_VERSION } from "../src/index.js";
import {
  asJson,
  observe,
  SNAPSHOT_SCENARIOS,
  type SnapshotExpectation,
} from "./snapshot-scenarios.js";

const dir = new URL("./fixtures/", import.meta.url);

function fixture(stem: string): { bytes: Uint8Array; expected: SnapshotExpectation } {
  const base64 = readFileSync(new URL(`${stem}.snapshot.b64`, dir), "utf8").trim();
  const expected = JSON.parse(
    readFileSync(new URL(`${stem}.expected.json`, dir), "utf8"),
  ) as SnapshotExpectation;
  return { bytes: new Uint8Array(Buffer.from(base64, "base64")), expected };
}

/** Every fixture committed so far: `cluster-state-v<version>-<scenario>`. */
const stems = readdirSync(dir)
  .filter((f) => f.endsWith(".snapshot.b64"))
  .map((f) => f.slice(0, -".snapshot.b64".length))
  .sort();

describe("snapshot fixtures of earlier builds", () => {
  it("there are fixtures of the version this build writes, one per scenario", () => {
    // A new snapshot version keeps the fixtures of the old ones (a replica must restore what
    // its predecessor wrote) and adds its own: run generate-snapshot-fixtures.ts.
    expect(stems.filter((s) => s.startsWith(`cluster-state-v${SNAPSHOT_VERSION}-`))).toEqual(
      SNAPSHOT_SCENARIOS.map((s) => `cluster-state-v${SNAPSHOT_VERSION}-${s.name}`).sort(),
    );
  });

  for (const stem of stems) {
    it(`${stem} restores to the same answers and the same bytes`, () => {
      const { bytes, expected } = fixture(stem);
      expect(`cluster-state-v${bytes[4]}-`).toBe(stem.slice(0, stem.lastIndexOf("-") + 1));
      const state = ClusterState.restore(bytes);
      expect(observe(state)).toEqual(expected.queries);
      expect(Buffer.from(state.snapshot()).equals(Buffer.from(bytes))).toBe(true);

      // Restoring into a state that already holds something replaces all of it.
      const target = ClusterState.restore(fixture(stems[stems.length - 1] as string).bytes);
      target.restore(bytes);
      expect(observe(target)).toEqual(expected.queries);
    });

    it(`${stem} applies later commands as the writing build did`, () => {
      const { bytes, expected } = fixture(stem);
      const state = ClusterState.restore(bytes);
      for (const [i, step] of expected.followUps.entries()) {
        expect({ i, result: asJson(state.apply(step.command)) }).toEqual({
          i,
          result: step.result,
        });
      }
      expect(Buffer.from(state.snapshot()).toString("base64")).toBe(
        expected.snapshotAfterFollowUps,
      );
    });
  }
});
