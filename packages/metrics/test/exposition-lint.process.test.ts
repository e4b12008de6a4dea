import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import fc from "fast-check";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createIpamMetrics, IPAM_METRIC_NAMES } from "../src/index.js";
import { familyNames, parseExposition } from "./exposition.js";
import { populateEverything } from "./populate.js";

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const hasPromtool = promtool.error === undefined && promtool.status === 0;
if (!hasPromtool) {
  console.warn(
    "\n!!! promtool is not installed: the `promtool check metrics` tests are SKIPPED.\n" +
      "!!! Install it (Debian: apt-get install -y prometheus); CI installs it.\n",
  );
}

function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: exposition, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

async function populatedExposition(): Promise<string> {
  const registry = new Registry();
  const metrics = createIpamMetrics(registry, { buildInfo: { version: "0.0.0-test" } });
  await populateEverything(metrics);
  return registry.metrics();
}

describe("promtool check metrics", () => {
  it.skipIf(!hasPromtool)(
    "finds no problem in our registry with every metric populated",
    async () => {
      const exposition = await populatedExposition();
      expect(familyNames(exposition)).toEqual([...IPAM_METRIC_NAMES]);
      const { status, output } = promtoolCheck(exposition);
      expect(output).toBe("");
      expect(status).toBe(0);
    },
  );

  it.skipIf(!hasPromtool)("finds no problem in the empty registry either", async () => {
    const registry = new Registry();
    createIpamMetrics(registry);
    const { status, output } = promtoolCheck(await registry.metrics());
    expect([status, output]).toEqual([0, ""]);
  });

  it.skipIf(!hasPromtool)("would catch a badly named metric (the check is live)", () => {
    const bad = "# HELP x_total a gauge\n# TYPE x_total gauge\nx_total 1\n";
    const { status, output } = promtoolCheck(bad);
    expect(status).not.toBe(0);
    expect(output).toContain("_total");
  });
});

const ALLOWED_LABELS = new Set([
  "subnet",
  "purpose",
  "family",
  "tor",
  // Topology ids, bounded by configuration like `tor` (the forecast's places).
  "zone",
  "pod",
  "result",
  "method",
  "code",
  "role",
  "event",
  "op",
  "source",
  "reason",
  "kind",
  "le",
  "version",
  "revision",
  "nodejs_version",
]);

describe("cardinality", () => {
  it("uses only the low-cardinality label names and never an IP address as a value", async () => {
    const samples = parseExposition(await populatedExposition());
    expect(samples.length).toBeGreaterThan(100);
    for (const sample of samples) {
      for (const [name, value] of Object.entries(sample.labels)) {
        expect(ALLOWED_LABELS.has(name), `${sample.name} label ${name}`).toBe(true);
        expect(isIP(value), `${sample.name}{${name}="${value}"}`).toBe(0);
      }
    }
  });

  it("never turns a free-form result into a label value (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), fc.constant("failed for pod web-0 (10.0.0.9)")),
        async (result) => {
          const registry = new Registry();
          const metrics = createIpamMetrics(registry);
          metrics.observeAllocation(result, { purpose: "default", family: 4 }, 0.001);
          metrics.observeProposal(result, 0.001);
          metrics.observeGc({ result, purpose: "default", candidates: 0, reclaimed: 0 });
          const values = parseExposition(await registry.metrics()).flatMap((s) =>
            Object.values(s.labels),
          );
          for (const v of values) expect(isIP(v)).toBe(0);
          const results = new Set(
            parseExposition(await registry.metrics()).flatMap((s) =>
              s.labels.result === undefined ? [] : [s.labels.result],
            ),
          );
          for (const r of results) expect(r === "ok" || /^[A-Z][A-Z0-9_]*$/.test(r)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("docs/metrics.md", () => {
  it("documents every metric", () => {
    const doc = readFileSync(new URL("../../../docs/metrics.md", import.meta.url), "utf8");
    const missing = IPAM_METRIC_NAMES.filter((name) => !doc.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
