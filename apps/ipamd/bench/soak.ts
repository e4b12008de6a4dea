// Soak: a real ipamd (role all, durable store) under a steady open-loop load for minutes, beside
// an idle ipamd started the same way at the same time (the same-run baseline: what a daemon
// drifts by doing nothing). Every SOAK_SAMPLE_S seconds both are sampled through /metrics (RSS,
// heap, file descriptors) and the data folder (store bytes), and the loaded one's p99 latency
// over the interval is recorded. Reports the slope of each series (least squares, after a
// warm-up) and writes bench-results/soak.json (rows) and bench-results/soak-series.json (the
// samples, for charts).
//
//   pnpm --filter @ipam/ipamd bench:soak                 # 3 minutes, 80 ops/s
//   SOAK_MINUTES=15 SOAK_RATE=80 pnpm --filter @ipam/ipamd bench:soak
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRow, printTable, quantile, round, writeBenchResults } from "@ipam/bench-kit";
import { createIpamClient, FamilySelection, type IpamClient, ReadyState } from "@ipam/grpc-server";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MINUTES = Number(process.env.SOAK_MINUTES ?? 3);
const RATE = Number(process.env.SOAK_RATE ?? 80);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S ?? 10);
/** Live records kept by the load: each Allocate beyond it releases the oldest. */
const LIVE = Number(process.env.SOAK_LIVE ?? 500);
const MAX_IN_FLIGHT = 64;
const WARMUP_S = Math.min(60, (MINUTES * 60) / 4);

const children: ChildProcess[] = [];

interface Daemon {
  readonly name: string;
  readonly dir: string;
  readonly socket: string;
  readonly metricsPort: number;
}

interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly rssMb: number;
  readonly heapMb: number;
  readonly fds: number;
  readonly storeMb: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function startDaemon(name: string): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `ipamd-soak-${name}-`));
  const socket = join(dir, "ipamd.sock");
  const metricsPort = await freePort();
  children.push(
    spawn(
      process.execPath,
      [join(ROOT, "dist/main.js"), "--data-dir", dir, "--unix-socket", socket]
        .concat(["--grpc-addr", "127.0.0.1:0", "--metrics-addr", `127.0.0.1:${metricsPort}`])
        .concat(["--log-level", "warn", "--node-id", `soak-${name}`]),
      { stdio: ["ignore", "ignore", "inherit"] },
    ),
  );
  const client = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 2000 });
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await client.status({})).state === ReadyState.READY) break;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  client.close();
  return { name, dir, socket, metricsPort };
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

function storeBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.startsWith("ipamd.db"))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function sample(d: Daemon, t: number): Promise<Sample> {
  const text = await (await fetch(`http://127.0.0.1:${d.metricsPort}/metrics`)).text();
  const mb = (bytes: number) => round(bytes / (1024 * 1024));
  return {
    t,
    rssMb: mb(metric(text, "process_resident_memory_bytes")),
    heapMb: mb(metric(text, "nodejs_heap_size_used_bytes")),
    fds: metric(text, "process_open_fds"),
    storeMb: mb(storeBytes(d.dir)),
  };
}

/** Least-squares slope of y over x (x in seconds), per minute. */
function slopePerMinute(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

/** The open-loop load: RATE ops/s of Allocate (IPv6), Release of the oldest, and reads. */
function startLoad(client: IpamClient) {
  const live: string[] = [];
  let latencies: number[] = [];
  let inFlight = 0;
  let next = 0;
  let errors = 0;
  let skipped = 0;
  let done = 0;
  const op = async (i: number): Promise<void> => {
    const kind = i % 10;
    if (kind === 9) {
      await client.status({});
    } else if (kind === 8) {
      await client.listAllocations({ network: "soak", pageSize: 100 });
    } else if (kind % 2 === 0 || live.length < LIVE) {
      const id = `s${next++}`;
      await client.allocate({
        network: "soak",
        containerId: id,
        ifname: "eth0",
        // IPv6: released IPv4 addresses cool down, and the example's IPv4 subnets are small.
        families: FamilySelection.IPV6,
      });
      live.push(id);
    } else {
      const id = live.shift();
      if (id !== undefined)
        await client.release({ network: "soak", containerId: id, ifname: "eth0" });
    }
  };
  // Open loop: every tick starts the operations due by now (RATE per second since the start),
  // so a slow tick is caught up rather than lowering the rate; beyond MAX_IN_FLIGHT, due
  // operations are skipped and counted.
  let i = 0;
  const began = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - began) * RATE) / 1000);
    while (i < due) {
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped += due - i;
        i = due;
        break;
      }
      inFlight++;
      const started = performance.now();
      op(i++)
        .then(
          () => {
            latencies.push(performance.now() - started);
            done++;
          },
          () => {
            errors++;
          },
        )
        .finally(() => {
          inFlight--;
        });
    }
  }, 5);
  return {
    /** The latencies since the last call (ms), and resets them. */
    takeLatencies(): number[] {
      const out = latencies;
      latencies = [];
      return out;
    },
    stop(): { done: number; errors: number; skipped: number } {
      clearInterval(timer);
      return { done, errors, skipped };
    },
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const [loaded, idle] = await Promise.all([startDaemon("loaded"), startDaemon("idle")]);
  const client = createIpamClient({ addresses: [`unix:${loaded.socket}`], deadlineMs: 10_000 });
  const series: { loaded: Sample[]; idle: Sample[]; p99Ms: Array<[number, number]> } = {
    loaded: [],
    idle: [],
    p99Ms: [],
  };
  const allLatencies: number[] = [];
  const start = performance.now();
  const load = startLoad(client);
  const endAt = start + MINUTES * 60_000;
  console.log(
    `soak: ${MINUTES} min at ${RATE} ops/s, ${LIVE} live records, sampling every ${SAMPLE_S} s`,
  );
  while (performance.now() < endAt) {
    await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
    const t = Math.round((performance.now() - start) / 100) / 10;
    const [a, b] = await Promise.all([sample(loaded, t), sample(idle, t)]);
    const window = load.takeLatencies().sort((x, y) => x - y);
    allLatencies.push(...window);
    const p99 = window.length === 0 ? Number.NaN : round(quantile(window, 0.99));
    series.loaded.push(a);
    series.idle.push(b);
    series.p99Ms.push([t, p99]);
    console.log(
      `t=${t}s rss ${a.rssMb} MB (idle ${b.rssMb}) heap ${a.heapMb} MB fds ${a.fds} store ${a.storeMb} MB p99 ${p99} ms (${window.length} ops)`,
    );
  }
  const totals = load.stop();
  client.close();
  const loadAfter = loadavg();

  const steady = <T extends { t: number }>(xs: readonly T[]) => xs.filter((x) => x.t >= WARMUP_S);
  const slope = (xs: readonly Sample[], key: keyof Omit<Sample, "t">) =>
    round(slopePerMinute(steady(xs).map((s) => [s.t, s[key]] as const)));
  const p99Slope = round(
    slopePerMinute(series.p99Ms.filter(([t, v]) => t >= WARMUP_S && Number.isFinite(v))),
  );
  const sorted = allLatencies.sort((x, y) => x - y);
  const minutes = MINUTES;
  const rows: BenchRow[] = [];
  const slopeRow = (name: string, unit: string, value: number, baseline?: string): BenchRow => ({
    name,
    unit,
    value,
    p50: value,
    p99: value,
    samples: steady(series.loaded).length,
    ...(baseline === undefined ? {} : { baseline }),
  });
  for (const [key, unit] of [
    ["rssMb", "MB/min"],
    ["heapMb", "MB/min"],
    ["fds", "fds/min"],
    ["storeMb", "MB/min"],
  ] as const) {
    const idleName = `soak ${minutes} min: idle ipamd ${key} slope`;
    rows.push(slopeRow(idleName, unit, slope(series.idle, key)));
    rows.push(
      slopeRow(
        `soak ${minutes} min at ${RATE} ops/s: ${key} slope`,
        unit,
        slope(series.loaded, key),
        idleName,
      ),
    );
  }
  rows.push(
    slopeRow(`soak ${minutes} min at ${RATE} ops/s: p99 latency slope`, "ms/min", p99Slope),
  );
  rows.push({
    name: `soak ${minutes} min at ${RATE} ops/s: latency`,
    unit: "ms",
    value: round(quantile(sorted, 0.5)),
    p50: round(quantile(sorted, 0.5)),
    p99: round(quantile(sorted, 0.99)),
    samples: sorted.length,
  });
  const path = writeBenchResults(ROOT, "soak", rows);
  const seriesPath = join(ROOT, "bench-results", "soak-series.json");
  writeFileSync(
    seriesPath,
    `${JSON.stringify({ minutes, rate: RATE, live: LIVE, warmupS: WARMUP_S, loadavgBefore: loadBefore, loadavgAfter: loadAfter, totals, ...series }, null, 2)}\n`,
  );
  printTable(rows);
  console.log(
    `ops ${totals.done}, errors ${totals.errors}, skipped (over ${MAX_IN_FLIGHT} in flight) ${totals.skipped}; loadavg before ${loadBefore.map((l) => l.toFixed(1)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(1)).join(" ")}`,
  );
  console.log(`written to ${path} and ${seriesPath}`);
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
