import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BenchRow, summarize, withBaseline } from "@ipam/bench-kit";
import { openStore } from "../src/index.js";

const PAYLOAD = new Uint8Array(128).fill(7);

/** Appends `batches` durable batches of `batchSize` 128-byte entries; returns per-batch ms. */
function runOnce(
  batchSize: number,
  batches: number,
): { entriesPerSecond: number; batchMs: number[] } {
  const dir = mkdtempSync(join(tmpdir(), "ipam-store-bench-"));
  const store = openStore({ path: join(dir, "raft.db") });
  try {
    const log = store.raftLog();
    const times: number[] = [];
    let index = 1;
    const started = performance.now();
    for (let b = 0; b < batches; b++) {
      const entries = Array.from({ length: batchSize }, (_, k) => ({
        index: index + k,
        term: 1,
        data: PAYLOAD,
      }));
      const t0 = performance.now();
      log.append(entries);
      times.push(performance.now() - t0);
      index += batchSize;
    }
    const seconds = (performance.now() - started) / 1000;
    if (log.lastIndex() !== index - 1) throw new Error("bench: entries went missing");
    return { entriesPerSecond: (batchSize * batches) / seconds, batchMs: times };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throughput over the runs (p99 = the slowest run) and latency over every append. */
function rows(name: string, rates: number[], times: number[]): [BenchRow, BenchRow] {
  return [
    summarize(`${name} throughput`, "entries/s", rates, { better: "higher" }),
    summarize(`${name} latency`, "ms/append", times),
  ];
}

/**
 * Raft log append of 64-entry batches against single-entry appends, alternating run by run
 * (see saves.bench.ts). Latency is per append call.
 */
export function benchRaftAppend(): BenchRow[] {
  runOnce(1, 50);
  runOnce(64, 50);
  const single = { rates: [] as number[], times: [] as number[] };
  const batched = { rates: [] as number[], times: [] as number[] };
  for (let r = 0; r < 5; r++) {
    const s = runOnce(1, 600);
    single.rates.push(s.entriesPerSecond);
    single.times.push(...s.batchMs);
    const b = runOnce(64, 500);
    batched.rates.push(b.entriesPerSecond);
    batched.times.push(...b.batchMs);
  }
  const [st, sl] = rows("store/raft append, 1-entry batches", single.rates, single.times);
  const [bt, bl] = rows("store/raft append, 64-entry batches", batched.rates, batched.times);
  return [withBaseline(bt, st, "higher"), bl, st, sl];
}
