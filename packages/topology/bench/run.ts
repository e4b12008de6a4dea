// Benchmarks of @ipam/topology. Run: pnpm --filter @ipam/topology bench
// Writes bench-results/topology.json (rows: name, unit, value = median, p50, p99, samples,
// baseline + ratio where the baseline ran in this process) and prints a table.
import { type BenchRow, printTable, writeBenchResults } from "@ipam/bench-kit";
import { stringify } from "yaml";
import { buildFromConfig, checkShape } from "../src/create-topology.js";
import {
  createTopology,
  diff,
  parseTopology,
  registerNode,
  registerNodes,
  subnetsForNode,
  type Topology,
  toCanonicalJson,
} from "../src/index.js";
import { findOverlaps } from "../src/overlap.js";
import type { SubnetInterval } from "../src/topology.js";
import { benchConfig } from "./fixture.js";
import { measure, measurePair } from "./harness.js";

/** The quadratic baseline: compare every pair (what the sort-based sweep replaces). */
function naiveOverlaps(intervals: readonly SubnetInterval[]) {
  const out: Array<{ first: SubnetInterval; second: SubnetInterval }> = [];
  for (let i = 0; i < intervals.length; i++) {
    const a = intervals[i] as SubnetInterval;
    for (let j = i + 1; j < intervals.length; j++) {
      const b = intervals[j] as SubnetInterval;
      if (a.start <= b.end && b.start <= a.end) out.push({ first: a, second: b });
    }
  }
  return out;
}

function intervals(count: number): SubnetInterval[] {
  // Disjoint /24s in shuffled order (deterministic stride permutation): the valid-config case.
  const out: SubnetInterval[] = [];
  for (let i = 0; i < count; i++) {
    const k = (i * 7919) % count;
    const start = BigInt(0x0a000000 + k * 256);
    out.push({ start, end: start + 255n, id: `s${k}` });
  }
  return out;
}

function main(): void {
  const rows: BenchRow[] = [];
  const config = benchConfig();
  const json = JSON.stringify(config);
  const built = createTopology(config);
  const counts = `${built.nodes.size / 1000}k nodes, ${built.tors.size} TORs, ${built.subnets.size} subnets`;

  const buildWith = (finder: typeof findOverlaps) => () => {
    const shape = checkShape(JSON.parse(json));
    if (!("config" in shape)) throw new Error("bench config rejected");
    const result = buildFromConfig(shape.config, finder);
    if (!("topology" in result)) throw new Error("bench config rejected");
    return result.topology;
  };
  rows.push(
    ...measurePair(
      { name: `topology/build+validate (${counts})`, fn: buildWith(findOverlaps) },
      { name: `naive-O(n²)-overlap/build+validate (${counts})`, fn: buildWith(naiveOverlaps) },
      "ms",
      { samples: 15 },
    ),
  );

  const yamlText = stringify(config);
  rows.push(
    measure(
      `topology/parseTopology YAML text (${counts})`,
      "ms",
      () => parseTopology(yamlText, "yaml"),
      {
        samples: 10,
      },
    ),
  );

  for (const n of [1_000, 10_000]) {
    const list = intervals(n);
    rows.push(
      ...measurePair(
        { name: `topology/overlap check ${n} subnets`, fn: () => findOverlaps(list) },
        { name: `naive-O(n²)/overlap check ${n} subnets`, fn: () => naiveOverlaps(list) },
        "ms",
        { samples: n > 5000 ? 5 : 15, warmup: 1 },
      ),
    );
  }

  const nodes = [...built.nodes.keys()];
  rows.push(
    measure(
      "topology/subnetsForNode (default, IPv4, spill)",
      "ns/op",
      () => {
        let total = 0;
        for (const id of nodes) {
          total += subnetsForNode(built, id, { purpose: "default", family: 4 }).length;
        }
        return total;
      },
      { samples: 20, opsPerSample: nodes.length },
    ),
  );
  rows.push(
    measure(
      `topology/registerNode into a ${built.nodes.size}-node topology`,
      "µs/op",
      () => {
        let t: Topology = built;
        for (let i = 0; i < 200; i++) t = registerNode(t, { id: `extra-${i}`, tor: "tor-0-0-0" });
        return t;
      },
      { samples: 15, opsPerSample: 200 },
    ),
  );
  const batch = nodes.map((id) => built.nodes.get(id) as { id: string; tor: string });
  const bare = createTopology({
    zones: (config.zones ?? []).map((z) => ({
      ...z,
      pods: (z.pods ?? []).map((p) => ({
        ...p,
        tors: (p.tors ?? []).map(({ nodes: _nodes, ...tor }) => tor),
      })),
    })),
  });
  rows.push(
    measure(
      `topology/registerNodes batch of ${batch.length}`,
      "µs/op",
      () => registerNodes(bare, batch),
      { samples: 15, opsPerSample: batch.length },
    ),
  );
  rows.push(
    measure("topology/toCanonicalJson", "ms", () => toCanonicalJson(built), { samples: 15 }),
  );
  const changed = registerNode(built, { id: "late", tor: "tor-4-4-9" });
  const rebuilt = createTopology(config);
  rows.push(
    measure(
      "topology/diff (independently built, 1 node added)",
      "ms",
      () => diff(rebuilt, changed),
      {
        samples: 15,
      },
    ),
  );

  const out = writeBenchResults(new URL("..", import.meta.url), "topology", rows);
  printTable(rows);
  console.log(`\nwrote ${out}`);
}

try {
  main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
