// `pnpm --filter @ipam/subnet-pool bench:growth`: what supernet growth costs the allocation path
// when nothing is carved. allocate-direct + release-direct pairs on 50 TORs' direct-mode
// subnets, with a direct-mode supernet feeding every TOR (each allocation sums the TOR's usage
// and compares it with the threshold) against the same cluster without supernets (the growth
// check ends at the empty supernet list), in the same run, alternating. Writes
// bench-results/subnet-pool-growth.json and prints a table.
import { printTable, summarize, withBaseline, writeBenchResults } from "@ipam/bench-kit";
import type { TopologyConfig } from "@ipam/topology";
import { ClusterState } from "../src/index.js";
import { timeBatches } from "./harness.js";

const PODS = 5;
const TORS_PER_POD = 10;

function config(supernets: boolean): TopologyConfig {
  return {
    zones: [
      {
        id: "z",
        pods: Array.from({ length: PODS }, (_, p) => ({
          id: `p${p}`,
          ...(supernets
            ? {
                supernets: [
                  {
                    cidr: `10.${100 + p}.0.0/16`,
                    prefix: 24,
                    blockPrefix: 32,
                    purpose: "mgmt",
                    threshold: 0.8,
                  },
                ],
              }
            : {}),
          tors: Array.from({ length: TORS_PER_POD }, (_, t) => ({
            id: `t${p}-${t}`,
            subnets: [
              // No cool-down: each released address is free again at once (nothing fills up).
              {
                cidr: `10.${100 + p}.${t}.0/24`,
                purpose: "mgmt",
                blockPrefix: 32,
                cooldownSeconds: 0,
              },
            ],
            nodes: [{ id: `n${p}-${t}` }],
          })),
        })),
      },
    ],
  };
}

function build(supernets: boolean): { state: ClusterState; nodes: string[] } {
  const state = new ClusterState();
  const r = state.apply({
    type: "apply-topology",
    at: 1,
    config: config(supernets),
    source: "file",
  });
  if (!r.ok) throw new Error(r.error.message);
  return { state, nodes: state.nodes().map((n) => n.id) };
}

/** Per-op ns of allocate-direct + release-direct pairs, one batch series. */
function pairs(s: { state: ClusterState; nodes: string[] }, budgetMs: number): number[] {
  let k = 0;
  let at = 10;
  return timeBatches((n) => {
    for (let i = 0; i < n; i++) {
      const node = s.nodes[k % s.nodes.length] as string;
      const key = { network: "net", containerId: `c${k++}`, ifname: "eth0" };
      const r = s.state.apply({
        type: "allocate-direct",
        at: at++,
        node,
        purpose: "mgmt",
        family: 4,
        key,
      });
      if (!r.ok) throw new Error(r.error.message);
      s.state.apply({ type: "release-direct", at: at++, key });
    }
  }, budgetMs).perOp;
}

function main(): void {
  const withSupernets = build(true);
  const without = build(false);
  const a: number[] = [];
  const b: number[] = [];
  pairs(withSupernets, 200); // warm-up
  pairs(without, 200);
  // Alternating, each first in half of the rounds (the JIT and the heap favour neither).
  for (let round = 0; round < 6; round++) {
    if (round % 2 === 0) {
      b.push(...pairs(without, 400));
      a.push(...pairs(withSupernets, 400));
    } else {
      a.push(...pairs(withSupernets, 400));
      b.push(...pairs(without, 400));
    }
  }
  const carved = withSupernets.state.subnets().filter((v) => v.origin === "carved").length;
  if (carved !== 0) throw new Error(`${carved} subnets carved: the benchmark must not carve`);
  const base = summarize(
    "allocate-direct+release-direct pair, no supernets",
    "us/op",
    b.map((x) => x / 1000),
  );
  const ours = summarize(
    "allocate-direct+release-direct pair, a direct-mode supernet feeding every TOR",
    "us/op",
    a.map((x) => x / 1000),
  );
  const rows = [withBaseline(ours, base), base];
  writeBenchResults(new URL("..", import.meta.url), "subnet-pool-growth", rows);
  printTable(rows);
}

try {
  main();
} catch (error) {
  console.error("benchmark could not run:", error);
  process.exitCode = 1;
}
