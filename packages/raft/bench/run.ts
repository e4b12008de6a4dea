// Raft driver benchmark: 3 RaftNodes in one process over MemoryTransport, committing
// proposals with 1 sequential proposer and with 64 concurrent proposers, on MemoryStorage and on
// SqliteStorage (one SQLite file per node, WAL, synchronous=FULL: fsync per durable write).
// Writes bench-results/raft.json (rows: BENCHMARKS.md) and prints a table.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { type BenchRow, summarize, withBaseline, writeBenchResults } from "@ipam/bench-kit";
import { openStore, type Store } from "@ipam/store";
import { decodeMessages, encodeMessages } from "../src/codec/message-codec.js";
import { createSeededRandom } from "../src/core/random.js";
import { createRaftNode, type RaftNode } from "../src/node/raft-node.js";
import { MemoryStorage } from "../src/storage/memory-storage.js";
import { createSqliteStorage } from "../src/storage/sqlite-storage.js";
import { MemoryNetwork } from "../src/transport/memory-transport.js";
import type { Message, Storage } from "../src/types.js";
import { Counter, PAYLOAD, proposeFor } from "./load.js";

type StorageKind = "memory" | "sqlite" | "sqlite-tmpfs";

const RUN_MS = Number(process.env.RAFT_BENCH_RUN_MS ?? 1500);
const RUNS = Number(process.env.RAFT_BENCH_RUNS ?? 3);

interface Cluster {
  nodes: RaftNode<number>[];
  close(): Promise<void>;
}

async function startCluster(kind: StorageKind): Promise<Cluster> {
  const ids = ["a", "b", "c"];
  const network = new MemoryNetwork();
  const stores: Store[] = [];
  let dir: string | undefined;
  if (kind !== "memory") {
    dir = mkdtempSync(join(kind === "sqlite-tmpfs" ? "/dev/shm" : tmpdir(), "raft-bench-"));
  }
  const nodes = ids.map((id, i) => {
    let storage: Storage;
    if (dir === undefined) {
      storage = new MemoryStorage();
    } else {
      const store = openStore({ path: join(dir, `${id}.db`) });
      stores.push(store);
      storage = createSqliteStorage(store.raftLog());
    }
    return createRaftNode<number>({
      id,
      storage,
      stateMachine: new Counter(),
      transport: network.transport(id),
      bootstrap: { voters: ids, learners: [] },
      random: createSeededRandom(i + 1),
      tickMs: 50,
      electionTicks: 10,
      snapshotThreshold: 50_000,
      maxPendingProposals: 100_000,
    });
  });
  const deadline = performance.now() + 10_000;
  while (!nodes.some((n) => n.status().role === "leader")) {
    if (performance.now() > deadline) throw new Error("no leader elected within 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    nodes,
    async close() {
      await Promise.all(nodes.map((n) => n.stop()));
      for (const s of stores) s.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One timed run: `proposers` loops proposing back to back for RUN_MS. */
async function runOnce(
  kind: StorageKind,
  proposers: number,
): Promise<{ rate: number; latencies: number[] }> {
  const cluster = await startCluster(kind);
  try {
    const leader = cluster.nodes.find((n) => n.status().role === "leader")!;
    const { done, seconds, latencies } = await proposeFor(
      (data) => leader.propose(data),
      proposers,
      RUN_MS,
    );
    return { rate: done / seconds, latencies };
  } finally {
    await cluster.close();
  }
}

function ask<T>(worker: Worker, command: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      worker.off("message", onMessage);
      reject(err);
    };
    const onMessage = (reply: T & { error?: string }) => {
      worker.off("error", onError);
      if (reply.error === undefined) resolve(reply);
      else reject(new Error(reply.error));
    };
    worker.once("message", onMessage);
    worker.once("error", onError);
    worker.postMessage(command);
  });
}

/** One timed run with each node in its own worker thread (peers linked by MessagePorts). */
async function runThreadsOnce(
  kind: StorageKind,
  proposers: number,
): Promise<{ rate: number; latencies: number[] }> {
  const ids = ["a", "b", "c"];
  const dir =
    kind === "memory"
      ? undefined
      : mkdtempSync(join(kind === "sqlite-tmpfs" ? "/dev/shm" : tmpdir(), "raft-bench-"));
  const ports: Record<string, Record<string, MessagePort>> = { a: {}, b: {}, c: {} };
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const ch = new MessageChannel();
      ports[ids[i]!]![ids[j]!] = ch.port1;
      ports[ids[j]!]![ids[i]!] = ch.port2;
    }
  }
  // Workers do not inherit tsx's loader: register it, then load the TypeScript worker module.
  const boot = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(
      new URL("./worker-node.ts", import.meta.url).href,
    )}); })`;
  const workers = ids.map(
    (id, i) =>
      new Worker(boot, {
        eval: true,
        workerData: { id, voters: ids, seed: i + 1, dir, ports: ports[id] },
        transferList: Object.values(ports[id]!),
      }),
  );
  try {
    const deadline = performance.now() + 15_000;
    let leader: Worker | undefined;
    while (leader === undefined) {
      if (performance.now() > deadline) throw new Error("no leader elected within 15 s");
      await new Promise((r) => setTimeout(r, 20));
      for (const w of workers) {
        if ((await ask<{ role: string }>(w, { op: "role" })).role === "leader") leader = w;
      }
    }
    const result = await ask<{ done: number; seconds: number; latencies: number[] }>(leader, {
      op: "run",
      proposers,
      ms: RUN_MS,
    });
    return { rate: result.done / result.seconds, latencies: result.latencies };
  } finally {
    await Promise.all(workers.map((w) => ask(w, { op: "stop" }).catch(() => undefined)));
    await Promise.all(workers.map((w) => w.terminate()));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

async function scenario(
  kind: StorageKind,
  proposers: number,
  threads = false,
): Promise<BenchRow[]> {
  const rates: number[] = [];
  const all: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const { rate, latencies } = threads
      ? await runThreadsOnce(kind, proposers)
      : await runOnce(kind, proposers);
    rates.push(rate);
    for (const l of latencies) all.push(l);
  }
  const label = `raft/3 nodes ${threads ? "1 thread each " : ""}${kind}/${proposers === 1 ? "1 sequential proposer" : `${proposers} concurrent proposers`}`;
  return [
    // For throughput rows p99 is the slowest run (the 1st percentile of throughput).
    summarize(`${label}/commits per second`, "commits/s", rates, { better: "higher" }),
    summarize(`${label}/commit latency`, "ms", all),
  ];
}

/**
 * Context row: one durable single-entry RaftLogStore.append (one SQLite transaction, one WAL
 * fsync) on the same disk. A sequential commit on 3 nodes in one process costs three of these in
 * series (leader + both followers persist the entry on the one event-loop thread).
 */
function fsyncBaseline(kind: "sqlite" | "sqlite-tmpfs"): BenchRow {
  const dir = mkdtempSync(join(kind === "sqlite-tmpfs" ? "/dev/shm" : tmpdir(), "raft-bench-"));
  const store = openStore({ path: join(dir, "probe.db") });
  try {
    const log = store.raftLog();
    const samples: number[] = [];
    const end = performance.now() + RUN_MS;
    for (let i = 1; performance.now() < end || i <= 20; i++) {
      const t0 = performance.now();
      log.append([{ index: i, term: 1, data: PAYLOAD }]);
      samples.push(performance.now() - t0);
    }
    return summarize(`raft/${kind} durable append of 1 entry (1 fsync)`, "ms", samples);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A typical replication batch: one append of 64 entries of 64 bytes plus two small messages. */
function sampleBatch(): Message[] {
  const entries = Array.from({ length: 64 }, (_, i) => ({
    index: 1001 + i,
    term: 7,
    type: "normal" as const,
    data: new Uint8Array(64).fill(i),
  }));
  return [
    {
      type: "append",
      from: "a",
      to: "b",
      term: 7,
      prevIndex: 1000,
      prevTerm: 7,
      entries,
      commit: 990,
    },
    { type: "heartbeat", from: "a", to: "b", term: 7, commit: 990, context: new Uint8Array(8) },
    {
      type: "read-index-response",
      from: "a",
      to: "b",
      term: 7,
      index: 990,
      context: new Uint8Array(8),
      reject: false,
    },
  ];
}

/** JSON with base64 payloads: the obvious alternative wire format, as the baseline. */
function jsonRoundTrip(batch: Message[]): Message[] {
  const text = JSON.stringify(batch, (_k, v: unknown) =>
    v instanceof Uint8Array ? { b64: Buffer.from(v).toString("base64") } : v,
  );
  return JSON.parse(text, (_k, v: unknown) =>
    v !== null && typeof v === "object" && "b64" in v
      ? new Uint8Array(Buffer.from((v as { b64: string }).b64, "base64"))
      : v,
  ) as Message[];
}

/** Codec round trip vs the JSON baseline, interleaved in the same process (µs per batch). */
function codecRows(): BenchRow[] {
  const batch = sampleBatch();
  const oursTimes: number[] = [];
  const base: number[] = [];
  const reps = 200;
  for (let round = 0; round < 40; round++) {
    let t0 = performance.now();
    for (let i = 0; i < reps; i++) decodeMessages(encodeMessages(batch));
    oursTimes.push(((performance.now() - t0) * 1000) / reps);
    t0 = performance.now();
    for (let i = 0; i < reps; i++) jsonRoundTrip(batch);
    base.push(((performance.now() - t0) * 1000) / reps);
  }
  const bytes = encodeMessages(batch).length;
  const baseRow = summarize(
    "raft/json+base64 encode+decode of a 64-entry append batch",
    "µs/op",
    base,
  );
  const ours = summarize(
    `raft/codec encode+decode of a 64-entry append batch (${bytes} bytes)`,
    "µs/op",
    oursTimes,
  );
  return [withBaseline(ours, baseRow), baseRow];
}

/** Progress: each row as soon as it is measured (the whole run takes a minute or more). */
function printRow(row: BenchRow): void {
  console.log(
    `${row.name.padEnd(72)} ${String(row.value).padStart(10)} ${row.unit.padEnd(9)} p50 ${String(row.p50).padStart(9)}  p99 ${String(row.p99).padStart(9)}  n=${row.samples}${row.ratio === undefined ? "" : `  ratio ${row.ratio}`}`,
  );
}

async function main(): Promise<void> {
  const kinds: StorageKind[] = ["memory", "sqlite"];
  try {
    mkdirSync("/dev/shm/.raft-bench-probe", { recursive: true });
    rmSync("/dev/shm/.raft-bench-probe", { recursive: true });
    kinds.push("sqlite-tmpfs");
  } catch {
    // No tmpfs: skip the reference rows.
  }
  const rows: BenchRow[] = [];
  for (const row of codecRows()) {
    rows.push(row);
    printRow(row);
  }
  for (const kind of kinds) {
    if (kind !== "memory") {
      const row = fsyncBaseline(kind);
      rows.push(row);
      printRow(row);
    }
    for (const proposers of [1, 64]) {
      const r = await scenario(kind, proposers);
      rows.push(...r);
      for (const row of r) printRow(row);
    }
  }
  // Each node in its own worker thread (still one process): followers' fsyncs run in parallel,
  // as on a real cluster where every server has its own disk and event loop.
  if (process.env.RAFT_BENCH_THREADS !== "0") {
    for (const proposers of [1, 64]) {
      const r = await scenario("sqlite", proposers, true);
      rows.push(...r);
      for (const row of r) printRow(row);
    }
  }
  const out = writeBenchResults(new URL("..", import.meta.url), "raft", rows);
  console.log(`\nwrote ${out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
