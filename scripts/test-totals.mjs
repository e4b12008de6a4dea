#!/usr/bin/env node
// Sums the vitest JSON reports of every workspace package and prints the
// closing line CI reads: "N passed, N failed". A package whose tests did not
// run at all (no report) counts as one failure, so a broken build is visible.
// Usage: test-totals.mjs [exit status of the test command]; a non-zero status with
// no failed test (lint or typecheck failed) also counts as one failure.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const group of ["packages", "apps", "tests"]) {
  if (!existsSync(group)) continue;
  for (const name of readdirSync(group).sort()) {
    const dir = join(group, name);
    const pkg = join(dir, "package.json");
    if (!existsSync(pkg)) continue;
    const hasTests = JSON.parse(readFileSync(pkg, "utf8")).scripts?.test;
    if (!hasTests) continue;
    const report = join(dir, "test-results", "vitest.json");
    if (!existsSync(report)) {
      console.error(`${dir}: no test report (build, typecheck or test run failed)`);
      failed += 1;
      continue;
    }
    const r = JSON.parse(readFileSync(report, "utf8"));
    passed += r.numPassedTests ?? 0;
    failed += r.numFailedTests ?? 0;
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    if (r.numTotalTestSuites > 0 && r.success === false && (r.numFailedTests ?? 0) === 0) {
      // A suite that failed to load (syntax error, missing import) has no failed test.
      console.error(`${dir}: a test file failed to load`);
      failed += 1;
    }
  }
}
const status = Number(process.argv[2] ?? 0);
if (status !== 0 && failed === 0) {
  console.error(
    `the test command exited ${status} with every test passing: lint or typecheck failed`,
  );
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
