// The node API benchmark: Allocate+Release pairs over the unix socket against a real ipamd
// (role all, durable store) and two do-nothing services answering the same bytes:
//   - raw echo (bench/raw-echo-server.ts): bare @grpc/grpc-js, none of the project's code,
//     answering ipamd's own encoded answers: the independent ceiling every ratio is taken to;
//   - layer echo (bench/echo-server.ts): the project's server layer (@ipam/grpc-server) with
//     canned answers, to show what that layer costs.
// The load comes from client processes (bench/load-client.ts; several for 64 clients, so that
// the load generator is not the limit), and each row reports the clients' and the server's
// CPU and the machine load. Targets run in turns (raw, layer, ipamd) for BENCH_ROUNDS rounds.
// With BENCH_PROFILE_DIR, the daemon runs under `--cpu-prof` and the profile is summarised.
// With BENCH_COMPARE_DAEMON=<another build's dist/main.js>, that daemon runs in the same rounds
// as "ipamd (compare)" (a before/after comparison within one run).
// Writes bench-results/ipamd.json.
import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { type BenchRow, printTable, round, writeBenchResults } from "@ipam/bench-kit";
import { AllocateResponseSchema, FamilySelection, ReleaseResponseSchema } from "@ipam/grpc-server";
import { createLeanIpamClient, type LeanIpamClient } from "@ipam/grpc-server/lean";
import { freePort } from "../test/helpers/processes.js";
import { combineRounds, type Driven, runRows } from "./drive.js";
import type { LoadRequest, LoadResult } from "./load-client.js";
import {
  type CpuProfile,
  formatSummary,
  summarizeProfile,
  type Window,
} from "./profile-summary.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Client processes sharing the 64 clients (1 client runs in one process). */
const CLIENT_PROCS = Number(process.env.BENCH_CLIENT_PROCS ?? 2);
const CLIENT_KINDS = (process.env.BENCH_CLIENTS ?? "lean").split(",");
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
/**
 * Another build of the daemon (its `dist/main.js`) driven in the same rounds as one more
 * target, "ipamd (compare)": a before/after comparison in one run.
 */
const COMPARE_DAEMON = process.env.BENCH_COMPARE_DAEMON;
/**
 * Another build of @ipam/grpc-server (its `dist/index.js`) serving the layer echo in the same
 * rounds as one more target, "layer echo (compare)": the layer's before/after in one run.
 */
const COMPARE_LAYER = process.env.BENCH_COMPARE_LAYER;

/** A server the load clients drive: the first one is the ceiling every ratio is taken to. */
interface Target {
  readonly name: string;
  readonly socket: string;
  readonly pid: number;
  /** A daemon's metrics endpoint (its group commit counters). */
  readonly metricsUrl?: string;
  /** Whether the daemon profile is summarised over this target's 64-client rounds. */
  readonly profiled?: boolean;
}
const children: ChildProcess[] = [];
/** When ipamd ran under the 64-client load: the daemon profile is summarised over these. */
const profileWindows: Window[] = [];

/** A row with the machine's state while it ran (BENCHMARKS.md, issue 22). */
type NodeApiRow = BenchRow & {
  /** `os.loadavg()` when the row's last round ended. */
  readonly loadavg: readonly [number, number, number];
  /** CPU of every client process together, cores (median round). */
  readonly clientCpuCores?: number;
  /** CPU of the server process (all its threads), cores (median round). */
  readonly serverCpuCores?: number;
  /**
   * The server's CPU time per pair, µs, over all rounds (its CPU time over the pairs it served):
   * what each call costs the server, less sensitive than a rate to how often it got a CPU.
   */
  readonly serverCpuUsPerPair?: number;
  /** ipamd's group commits over the rounds, from its own metrics. */
  readonly groupCommit?: GroupCommitStats;
};

/** Group commit transactions of the daemon (its `ipamd_store_*` metrics). */
interface GroupCommitStats {
  readonly transactions: number;
  readonly writesPerTransaction: number;
  /** Mean time in the transaction, its fsync included, ms. */
  readonly meanMs: number;
}

/** The counters behind {@link GroupCommitStats}, read from `/metrics`. */
interface StoreCounters {
  readonly count: number;
  readonly seconds: number;
  readonly writes: number;
}

async function storeCounters(metricsUrl: string): Promise<StoreCounters> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(name.length + 1));
  };
  return {
    count: value('ipamd_store_transaction_duration_seconds_count{op="group_commit"}'),
    seconds: value('ipamd_store_transaction_duration_seconds_sum{op="group_commit"}'),
    writes: value("ipamd_store_batch_operations_sum"),
  };
}

/** CPU time of process `pid` (all threads), ms, from /proc. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the command), in ticks.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function retry<T>(what: string, call: () => Promise<T>): Promise<T> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() > until) throw new Error(`${what}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A forked load client, one request at a time. */
class LoadProcess {
  readonly #child: ChildProcess;
  readonly ready: Promise<void>;
  #pending: ((r: LoadResult) => void) | undefined;

  constructor(kind: string, sockets: Record<string, string>) {
    this.#child = fork(join(ROOT, "bench/load-client.ts"), [kind, JSON.stringify(sockets)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(this.#child);
    this.ready = new Promise((resolveReady, reject) => {
      this.#child.once("exit", (code) => reject(new Error(`load client exited with ${code}`)));
      this.#child.on("message", (m: "ready" | LoadResult) => {
        if (m === "ready") resolveReady();
        else this.#pending?.(m);
      });
    });
  }

  run(request: LoadRequest): Promise<LoadResult> {
    return new Promise((resolveRun) => {
      this.#pending = resolveRun;
      this.#child.send(request);
    });
  }

  close(): void {
    this.#child.disconnect();
  }
}

interface Round extends Driven {
  readonly clientCpuCores: number;
  readonly serverCpuCores: number;
  /** The server's CPU time in the round, ms, and the pairs it served. */
  readonly serverCpuMs: number;
  readonly pairs: number;
  /** The daemon's store counters before and after the round (ipamd rounds only). */
  readonly store?: readonly [StoreCounters, StoreCounters];
}

/** One round against `target`: every process drives its share of the clients at once. */
async function runRound(
  procs: readonly LoadProcess[],
  target: Target,
  concurrency: number,
  tag: string,
): Promise<Round> {
  const per = concurrency / procs.length;
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const metricsUrl = target.metricsUrl;
  const storeBefore = metricsUrl === undefined ? undefined : await storeCounters(metricsUrl);
  const serverBefore = processCpuMs(target.pid);
  const started = performance.now();
  const results = await Promise.all(
    procs.map((p, i) =>
      p.run({ target: target.name, concurrency: per, runMs: RUN_MS, tag: `${tag}p${i}` }),
    ),
  );
  const wallMs = performance.now() - started;
  const serverMs = processCpuMs(target.pid) - serverBefore;
  const storeAfter = metricsUrl === undefined ? undefined : await storeCounters(metricsUrl);
  if (target.profiled === true && concurrency === 64) {
    profileWindows.push([fromUs, Number(process.hrtime.bigint() / 1000n)]);
  }
  return {
    rate: results.reduce((sum, r) => sum + r.pairs / (r.elapsedMs / 1000), 0),
    latencies: results.flatMap((r) => r.latencies),
    clientCpuCores: results.reduce((sum, r) => sum + r.cpuMs, 0) / wallMs,
    serverCpuCores: serverMs / wallMs,
    serverCpuMs: serverMs,
    pairs: results.reduce((sum, r) => sum + r.pairs, 0),
    ...(storeBefore === undefined || storeAfter === undefined
      ? {}
      : { store: [storeBefore, storeAfter] as const }),
  };
}

/** Group commits over every round that measured them. */
function groupCommitStats(rounds: readonly Round[]): GroupCommitStats | undefined {
  let count = 0;
  let seconds = 0;
  let writes = 0;
  for (const r of rounds) {
    if (r.store === undefined) continue;
    count += r.store[1].count - r.store[0].count;
    seconds += r.store[1].seconds - r.store[0].seconds;
    writes += r.store[1].writes - r.store[0].writes;
  }
  if (count === 0) return undefined;
  return {
    transactions: count,
    writesPerTransaction: round(writes / count),
    meanMs: round((seconds * 1000) / count),
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
}

/** ipamd's real encoded answers to one IPv6 Allocate and its Release, for the raw echo. */
async function ipamdAnswers(
  client: LeanIpamClient,
): Promise<{ allocate: string; release: string }> {
  const key = { network: "bench", containerId: "probe", ifname: "eth0" };
  const allocated = await client.allocate({ ...key, families: FamilySelection.IPV6 });
  const released = await client.release(key);
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
  return {
    allocate: b64(toBinary(AllocateResponseSchema, create(AllocateResponseSchema, allocated))),
    release: b64(toBinary(ReleaseResponseSchema, create(ReleaseResponseSchema, released))),
  };
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolveLine, reject) => {
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes(`${line}\n`)) resolveLine();
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code} before "${line}"`)));
  });
}

/** Starts `ipamd` (role all) from `mainJs` on `socket`, answering once its node API does. */
async function startDaemon(
  mainJs: string,
  dataDir: string,
  socket: string,
  profileDir?: string,
): Promise<{ child: ChildProcess; metricsUrl: string }> {
  mkdirSync(dataDir, { recursive: true });
  const metricsAddr = `127.0.0.1:${await freePort()}`;
  const child = spawn(
    process.execPath,
    [
      ...(profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir]),
      ...[mainJs, "--data-dir", dataDir, "--unix-socket", socket],
      ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", metricsAddr, "--log-level", "warn"],
      ...["--node-id", "bench-node"],
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  children.push(child);
  const probe = createLeanIpamClient({ socketPath: socket });
  await retry(`${mainJs} status`, () => probe.status({}));
  probe.close();
  return { child, metricsUrl: `http://${metricsAddr}/metrics` };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ipamd-bench-"));
  const profileDir = PROFILE_DIR === undefined ? undefined : resolve(PROFILE_DIR);
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const socket = (name: string) => join(dir, `${name.replace(/\W+/g, "-")}.sock`);
  const daemon = await startDaemon(
    join(ROOT, "dist/main.js"),
    join(dir, "ipamd"),
    socket("ipamd"),
    profileDir,
  );
  const probe = createLeanIpamClient({ socketPath: socket("ipamd") });
  const answers = await retry("ipamd allocate", () => ipamdAnswers(probe));
  probe.close();
  const raw = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/raw-echo-server.ts"), socket("raw echo")].concat([
      answers.allocate,
      answers.release,
    ]),
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const layer = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/echo-server.ts"), socket("layer echo")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(raw, layer);
  const otherLayer =
    COMPARE_LAYER === undefined
      ? undefined
      : spawn(
          process.execPath,
          [
            "--import",
            "tsx",
            join(ROOT, "bench/echo-server.ts"),
            socket("layer echo compare"),
          ].concat([resolve(COMPARE_LAYER)]),
          { stdio: ["ignore", "pipe", "inherit"] },
        );
  if (otherLayer !== undefined) children.push(otherLayer);
  await Promise.all([
    waitForLine(raw, "ready"),
    waitForLine(layer, "ready"),
    ...(otherLayer === undefined ? [] : [waitForLine(otherLayer, "ready")]),
  ]);
  const targets: Target[] = [
    { name: "raw echo", socket: socket("raw echo"), pid: raw.pid! },
    { name: "layer echo", socket: socket("layer echo"), pid: layer.pid! },
    ...(otherLayer === undefined
      ? []
      : [
          {
            name: "layer echo (compare)",
            socket: socket("layer echo compare"),
            pid: otherLayer.pid!,
          },
        ]),
    {
      name: "ipamd",
      socket: socket("ipamd"),
      pid: daemon.child.pid!,
      metricsUrl: daemon.metricsUrl,
      profiled: true,
    },
  ];
  if (COMPARE_DAEMON !== undefined) {
    const other = await startDaemon(
      resolve(COMPARE_DAEMON),
      join(dir, "compare"),
      socket("ipamd compare"),
    );
    targets.push({
      name: "ipamd (compare)",
      socket: socket("ipamd compare"),
      pid: other.child.pid!,
      metricsUrl: other.metricsUrl,
    });
  }
  const sockets = Object.fromEntries(targets.map((t) => [t.name, t.socket]));

  const rows: NodeApiRow[] = [];
  for (const kind of CLIENT_KINDS) {
    const procs = Array.from({ length: CLIENT_PROCS }, () => new LoadProcess(kind, sockets));
    await Promise.all(procs.map((p) => p.ready));
    for (const concurrency of [1, 64]) {
      const using = concurrency === 1 ? procs.slice(0, 1) : procs;
      if (concurrency % using.length !== 0) throw new Error("64 must divide among the processes");
      const rounds = new Map<Target, Round[]>(targets.map((t) => [t, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const [i, target] of targets.entries()) {
          const tag = `${kind[0]}${concurrency}r${r}t${i}`;
          rounds.get(target)!.push(await runRound(using, target, concurrency, tag));
        }
      }
      const procsLabel = `${using.length} client process${using.length === 1 ? "" : "es"}`;
      const label = `${concurrency} client(s), ${kind} client, ${procsLabel}`;
      let ceiling: ReturnType<typeof runRows> | undefined;
      for (const target of targets) {
        const list = rounds.get(target)!;
        const run = runRows(
          `${target.name} allocate+release, ${label}`,
          "pairs/s",
          combineRounds(list),
          ceiling === undefined ? {} : { baseline: ceiling },
        );
        ceiling ??= run;
        const stats = groupCommitStats(list);
        const machine = {
          loadavg: loadavg().map((x) => round(x)) as [number, number, number],
          clientCpuCores: round(median(list.map((x) => x.clientCpuCores))),
          serverCpuCores: round(median(list.map((x) => x.serverCpuCores))),
          serverCpuUsPerPair: round(
            (list.reduce((sum, x) => sum + x.serverCpuMs, 0) * 1000) /
              list.reduce((sum, x) => sum + x.pairs, 0),
          ),
          ...(stats === undefined ? {} : { groupCommit: stats }),
        };
        rows.push({ ...run.rate, ...machine }, { ...run.latency, loadavg: machine.loadavg });
      }
    }
    for (const p of procs) p.close();
  }
  const path = writeBenchResults(ROOT, "ipamd", rows);
  printTable(rows);
  console.log(
    "\nrow (rate rows)                                   client CPU  server CPU  server µs/pair  loadavg",
  );
  for (const r of rows) {
    if (r.clientCpuCores === undefined) continue;
    console.log(
      `${r.name.padEnd(48).slice(0, 48)}  ${r.clientCpuCores.toFixed(2).padStart(10)}  ${(r.serverCpuCores ?? 0).toFixed(2).padStart(10)}  ${String(r.serverCpuUsPerPair ?? "").padStart(14)}  ${r.loadavg.join(" ")}`,
    );
    if (r.groupCommit !== undefined) {
      const g = r.groupCommit;
      console.log(
        `  group commit: ${g.transactions} transactions, ${g.writesPerTransaction} writes each, ${g.meanMs} ms each`,
      );
    }
  }
  console.log(`written to ${path}`);

  if (profileDir !== undefined) {
    daemon.child.kill("SIGTERM");
    await new Promise((r) => daemon.child.once("exit", r));
    // Kept beside the profiles: `tsx bench/profile-summary.ts --windows FILE` re-summarises.
    writeFileSync(join(profileDir, "windows.json"), JSON.stringify(profileWindows));
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"))) {
      const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile;
      const title = `${file}, ipamd rounds at 64 clients`;
      for (const line of formatSummary(title, summarizeProfile(profile, profileWindows))) {
        console.log(line);
      }
    }
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children)
      if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, "SIGTERM");
  });
