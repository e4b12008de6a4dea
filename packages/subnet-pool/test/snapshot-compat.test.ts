// Snapshots written by an earlier build still restore: every fixture in test/fixtures/ (bytes
// written by the build of its snapshot version, see generate-snapshot-fixtures.ts) restores to
// a state that answers every query as the writing build did, and applies later commands with
// the same results and the same final state. A fixture of the version this build writes
// re-snapshots to the same bytes; one of an earlier version is compared on the fields its
// build had (the fields added since are listed in ADDED_IN), and re-snapshots to the current
// version, which restores to the same state again.
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

/** Fields of query answers added in each snapshot version (absent from older expectations). */
const ADDED_IN: Readonly<Record<number, readonly string[]>> = {
  // The block life cycle: lease states, subnet origin and removal, node deregistration.
  2: [
    "state",
    "revokedAt",
    "origin",
    "removing",
    "deregistering",
    "deregisteringSince",
    "holdings",
  ],
  // Carve requests: apply-topology's diff lists purpose strategy changes; a carve-subnet
  // retried with its request id answers the subnet it carved.
  4: ["purposePolicies", "alreadyCarved"],
  // StatefulSet pods' sticky addresses.
  5: ["sticky"],
};

/** `value` without the fields added after snapshot version `version` (as that build saw it). */
function asOf(version: number, value: unknown): unknown {
  const drop = new Set<string>();
  for (const [v, fields] of Object.entries(ADDED_IN))
    if (Number(v) > version) for (const f of fields) drop.add(f);
  const strip = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(strip);
    if (typeof x !== "object" || x === null) return x;
    return Object.fromEntries(
      Object.entries(x)
        .filter(([k]) => !drop.has(k))
        .map(([k, v]) => [k, strip(v)]),
    );
  };
  return strip(value);
}

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
      const version = bytes[4] as number;
      expect(`cluster-state-v${version}-`).toBe(stem.slice(0, stem.lastIndexOf("-") + 1));
      const state = ClusterState.restore(bytes);
      expect(asOf(version, observe(state))).toEqual(expected.queries);
      const again = state.snapshot();
      if (version === SNAPSHOT_VERSION) {
        expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
      } else {
        // Written again in the current version, it restores to the very same state.
        expect(again[4]).toBe(SNAPSHOT_VERSION);
        expect(observe(ClusterState.restore(again))).toEqual(observe(state));
      }

      // Restoring into a state that already holds something replaces all of it.
      const target = ClusterState.restore(fixture(stems[stems.length - 1] as string).bytes);
      target.restore(bytes);
      expect(asOf(version, observe(target))).toEqual(expected.queries);
    });

    it(`${stem} applies later commands as the writing build did`, () => {
      const { bytes, expected } = fixture(stem);
      const version = bytes[4] as number;
      const state = ClusterState.restore(bytes);
      for (const [i, step] of expected.followUps.entries()) {
        expect({ i, result: asOf(version, asJson(state.apply(step.command))) }).toEqual({
          i,
          result: step.result,
        });
      }
      if (version === SNAPSHOT_VERSION) {
        expect(Buffer.from(state.snapshot()).toString("base64")).toBe(
          expected.snapshotAfterFollowUps,
        );
      } else {
        // The writing build's final snapshot, restored here, is the state reached here.
        const theirs = ClusterState.restore(Buffer.from(expected.snapshotAfterFollowUps, "base64"));
        expect(observe(state)).toEqual(observe(theirs));
      }
    });
  }
});
