import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
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
  /** Event-loop delay while saving (perf_hooks, 1 ms resolution): p99 and max, ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/**
 * How a run commits: `per-save` forces one transaction per save (maxBatchSize 1, the
 * baseline of group commit); `worker` and `main` are group commit on the commit thread and
 * on the event loop's thread.
 */
type Mode = "per-save" | "worker" | "main";

/**
 * `writers` concurrent loops each awaiting `saveAllocation` until `total` saves are done,
 * on a fresh file, while the event loop's delay is sampled.
 */
async function runOnce(writers: number, total: number, mode: Mode): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "ipam-store-bench-"));
  const store = openStore({
    path: join(dir, "bench.db"),
    commitThread: mode === "main" ? "main" : "worker",
    ...(mode === "per-save" ? { maxBatchSize: 1 } : {}),
  });
  const delay = monitorEventLoopDelay({ resolution: 1 });
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
    // The first save starts the commit thread: not part of the timed run.
    await store.saveAllocation(record(total));
    delay.enable();
    const started = performance.now();
    await Promise.all(Array.from({ length: writers }, loop));
    const seconds = (performance.now() - started) / 1000;
    delay.disable();
    if (store.countAllocations() !== total + 1) throw new Error("bench: saves went missing");
    return {
      savesPerSecond: total / seconds,
      latenciesMs: latencies,
      // The histogram counts the timer's own 1 ms period in every sample.
      loopDelayP99Ms: Math.max(0, delay.percentile(99) / 1e6 - 1),
      loopDelayMaxMs: Math.max(0, delay.max / 1e6 - 1),
    };
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

interface Runs {
  rates: number[];
  lat: number[];
  loopP99: number[];
  loopMax: number[];
}

/**
 * Durable saves at 1 and 64 writers: group commit on the commit thread and on the main thread
 * against one transaction per save, and the event loop's delay with each. The three run in
 * turns, run by run, so load drifting on a shared machine hits them alike.
 */
export async function benchSaves(): Promise<BenchRow[]> {
  const out: BenchRow[] = [];
  for (const writers of [1, 64]) {
    const label = `store/saveAllocation durable, ${writers} writer${writers === 1 ? "" : "s"}`;
    const totals: Record<Mode, number> = {
      "per-save": writers === 1 ? 1000 : 2000,
      worker: writers === 1 ? 1000 : 12_800,
      main: writers === 1 ? 1000 : 12_800,
    };
    const modes: Mode[] = ["per-save", "worker", "main"];
    const runs = new Map<Mode, Runs>(
      modes.map((m) => [m, { rates: [], lat: [], loopP99: [], loopMax: [] }]),
    );
    for (const m of modes) await runOnce(writers, 500, m); // warm-up
    for (let r = 0; r < 5; r++) {
      for (const m of modes) {
        const run = await runOnce(writers, totals[m], m);
        const into = runs.get(m)!;
        into.rates.push(run.savesPerSecond);
        into.lat.push(...run.latenciesMs);
        into.loopP99.push(run.loopDelayP99Ms);
        into.loopMax.push(run.loopDelayMaxMs);
      }
    }
    const names: Record<Mode, string> = {
      "per-save": `${label}, one transaction per save`,
      worker: `${label}, group commit`,
      main: `${label}, group commit on the main thread`,
    };
    const per = runs.get("per-save")!;
    const [bt, bl] = rows(names["per-save"], "saves/s", per.rates, per.lat);
    const loop = (m: Mode) =>
      summarize(`${names[m]}, event-loop delay p99`, "ms", runs.get(m)!.loopP99);
    const loopMax = (m: Mode) =>
      summarize(`${names[m]}, event-loop delay max`, "ms", runs.get(m)!.loopMax);
    const mainLoop = loop("main");
    const mainLoopMax = loopMax("main");
    for (const m of ["worker", "main"] as const) {
      const r = runs.get(m)!;
      const [t, l] = rows(names[m], "saves/s", r.rates, r.lat);
      out.push(withBaseline(t, bt, "higher"), withBaseline(l, bl));
      out.push(
        m === "worker" ? withBaseline(loop(m), mainLoop) : mainLoop,
        m === "worker" ? withBaseline(loopMax(m), mainLoopMax) : mainLoopMax,
      );
    }
    out.push(bt, bl);
  }
  return out;
}
