// Writes the snapshot fixtures of test/snapshot-compat.test.ts for every scenario that has
// none yet: `pnpm exec tsx test/generate-snapshot-fixtures.ts`. Existing fixtures are never
// overwritten: they record what an older build wrote, which every later build must restore.
// When the snapshot version changes, name new scenarios after the new version.
import { existsSync, writeFileSync } from "node:fs";
import { ClusterState, SNAPSHOT_VERSION } from "../src/index.js";
import {
  asJson,
  observe,
  SNAPSHOT_SCENARIOS,
  type SnapshotExpectation,
} from "./snapshot-scenarios.js";

const dir = new URL("./fixtures/", import.meta.url);
for (const scenario of SNAPSHOT_SCENARIOS) {
  const stem = `cluster-state-v${SNAPSHOT_VERSION}-${scenario.name}`;
  const bytesFile = new URL(`${stem}.snapshot.b64`, dir);
  const expectedFile = new URL(`${stem}.expected.json`, dir);
  if (existsSync(bytesFile) || existsSync(expectedFile)) {
    console.log(`${stem}: exists, left alone`);
    continue;
  }
  const state = scenario.build();
  const bytes = state.snapshot();
  const queries = observe(state);
  // The live state and a replica restored from its snapshot must answer alike before the
  // fixture is worth keeping.
  const copy = ClusterState.restore(bytes);
  if (JSON.stringify(observe(copy)) !== JSON.stringify(queries))
    throw new Error(`${stem}: a restored copy answers queries differently`);
  const followUps = scenario.followUps.map((command) => {
    const result = asJson(state.apply(command));
    if (JSON.stringify(asJson(copy.apply(command))) !== JSON.stringify(result))
      throw new Error(`${stem}: a restored copy answers ${command.type} differently`);
    return { command, result };
  });
  const after = Buffer.from(state.snapshot()).toString("base64");
  if (Buffer.from(copy.snapshot()).toString("base64") !== after)
    throw new Error(`${stem}: a restored copy ends with another snapshot`);
  const expected: SnapshotExpectation = { queries, followUps, snapshotAfterFollowUps: after };
  writeFileSync(bytesFile, `${Buffer.from(bytes).toString("base64")}\n`);
  writeFileSync(expectedFile, `${JSON.stringify(expected, null, 2)}\n`);
  console.log(`${stem}: ${bytes.length} bytes, ${followUps.length} follow-up commands`);
}
