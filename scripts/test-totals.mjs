#!/usr/bin/env node
// Sums the vitest JSON reports of every workspace package and prints the
// closing line CI reads: "N passed, N failed". Each package writes one report per
// kind of test it has (docs/contributing.md, "Tests"): `test-results/fast.json`
// when it has a `test:fast` script, `test-results/process.json` when it has a
// `test:process` script (a package with only `test` writes `test-results/vitest.json`).
// A report that is missing (the tests did not run at all) counts as one failure,
// so a broken build is visible.
// Usage: test-totals.mjs [exit status of the test command]; a non-zero status with
// no failed test (lint or typecheck failed) also counts as one failure.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The reports a package's scripts promise, by script name. */
function expectedReports(scripts) {
  const reports = [];
  if (scripts["test:fast"]) reports.push("fast.json");
  if (scripts["test:process"]) reports.push("process.json");
  if (reports.length === 0 && scripts.test) reports.push("vitest.json");
  return reports;
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const group of ["packages", "apps", "tests"]) {
  if (!existsSync(group)) continue;
  for (const name of readdirSync(group).sort()) {
    const dir = join(group, name);
    const pkg = join(dir, "package.json");
    if (!existsSync(pkg)) continue;
    const scripts = JSON.parse(readFileSync(pkg, "utf8")).scripts ?? {};
    for (const file of expectedReports(scripts)) {
      const report = join(dir, "test-results", file);
      if (!existsSync(report)) {
        console.error(`${report}: missing (build, typecheck or test run failed)`);
        failed += 1;
        continue;
      }
      const r = JSON.parse(readFileSync(report, "utf8"));
      passed += r.numPassedTests ?? 0;
      failed += r.numFailedTests ?? 0;
      skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      if (r.numTotalTestSuites > 0 && r.success === false && (r.numFailedTests ?? 0) === 0) {
        // A suite that failed to load (syntax error, missing import) has no failed test.
        console.error(`${report}: a test file failed to load`);
        failed += 1;
      }
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
