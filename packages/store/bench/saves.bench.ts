import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BenchRow, summarize, withBaseline } from "@ipam/bench-kit";
import { type AllocationRecord, openStore } from "../src/index.js";

function record(i: number): AllocationRecord {
  return {
    network: "default",
    containerId: `bench-${i.toString(16).padStart(12, "0")}`,
    ifname: "eth0",
    addresses: [
      `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
      `fd00::1:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`,
    ],
    subnets: ["10.0.0.0/8", "fd00::/64"],
    node: "node-bench",
    purpose: "default",
    podNamespace: "default",
    podName: `pod-${i}`,
    createdAt: 1_700_000_000_000 + i,
  };
}

interface RunResult {
  savesPerSecond: number;
  latenciesMs: number[];
}

/**
 * `writers` concurrent loops each awaiting `saveAllocation` until `total` saves are done,
 * on a fresh file. `perSave` forces one transaction per save (maxBatchSize 1): the baseline.
 */
async function runOnce(writers: number, total: number, perSave: boolean): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "ipam-store-bench-"));
  const store = openStore({ path: join(dir, "bench.db"), ...(perSave ? { maxBatchSize: 1 } : {}) });
  try {
    let next = 0;
    const latencies: number[] = [];
    const loop = async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await store.saveAllocation(record(i));
        latencies.push(performance.now() - t0);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: writers }, loop));
    const seconds = (performance.now() - started) / 1000;
    if (store.countAllocations() !== total) throw new Error("bench: saves went missing");
    return { savesPerSecond: total / seconds, latenciesMs: latencies };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throughput over the runs (p99 = the slowest run) and latency over every save. */
function rows(
  name: string,
  unit: string,
  rates: number[],
  latencies: number[],
): [BenchRow, BenchRow] {
  return [
    summarize(`${name} throughput`, unit, rates, { better: "higher" }),
    summarize(`${name} latency`, "ms/save", latencies),
  ];
}

/**
 * Durable saves at 1 and 64 writers: group commit against one transaction per save. The
 * two run alternately, run by run, so load drifting on a shared machine hits both alike.
 */
export async function benchSaves(): Promise<BenchRow[]> {
  const out: BenchRow[] = [];
  for (const writers of [1, 64]) {
    const label = `store/saveAllocation durable, ${writers} writer${writers === 1 ? "" : "s"}`;
    const groupTotal = writers === 1 ? 1000 : 12_800;
    const baseTotal = writers === 1 ? 1000 : 2000;
    await runOnce(writers, 500, true); // warm-up
    await runOnce(writers, 500, false);
    const g = { rates: [] as number[], lat: [] as number[] };
    const b = { rates: [] as number[], lat: [] as number[] };
    for (let r = 0; r < 5; r++) {
      const base = await runOnce(writers, baseTotal, true);
      b.rates.push(base.savesPerSecond);
      b.lat.push(...base.latenciesMs);
      const group = await runOnce(writers, groupTotal, false);
      g.rates.push(group.savesPerSecond);
      g.lat.push(...group.latenciesMs);
    }
    const [bt, bl] = rows(`${label}, one transaction per save`, "saves/s", b.rates, b.lat);
    const [gt, gl] = rows(`${label}, group commit`, "saves/s", g.rates, g.lat);
    out.push(withBaseline(gt, bt, "higher"), withBaseline(gl, bl), bt, bl);
  }
  return out;
}
