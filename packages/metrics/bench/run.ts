// Benchmarks of @ipam/metrics: the cost a metric adds to the allocation hot path, and the cost
// of one scrape. Writes bench-results/metrics.json (BENCHMARKS.md format) and prints a table.
import { get } from "node:http";
import {
  type BenchRow,
  printTable,
  summarize,
  withBaseline,
  writeBenchResults,
} from "@ipam/bench-kit";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  createIpamMetrics,
  DEFAULT_BUCKETS,
  type PoolSnapshot,
  startMetricsServer,
} from "../src/index.js";

/** Each sample is one call of `op`, in milliseconds. */
async function measureAsync(name: string, samples: number, op: () => Promise<unknown>) {
  for (let i = 0; i < 5; i++) await op();
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = process.hrtime.bigint();
    await op();
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return summarize(name, "ms/op", out);
}

/**
 * Baseline and candidate sampled alternately, batch by batch, so drift on a shared machine
 * hits both equally. Returns [baseline, candidate with ratio].
 */
function measureSyncPair(
  batch: number,
  samples: number,
  base: readonly [string, (i: number) => void],
  cand: readonly [string, (i: number) => void],
): [BenchRow, BenchRow] {
  const runs = [base, cand].map(([, op]) => {
    for (let i = 0; i < batch * 5; i++) op(i);
    return [] as number[];
  });
  for (let s = 0; s < samples; s++) {
    [base, cand].forEach(([, op], k) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) op(i);
      runs[k]?.push(Number(process.hrtime.bigint() - start) / batch);
    });
  }
  const b = summarize(base[0], "ns/op", runs[0] ?? []);
  return [b, withBaseline(summarize(cand[0], "ns/op", runs[1] ?? []), b)];
}

async function measureAsyncPair(
  samples: number,
  base: readonly [string, () => Promise<unknown>],
  cand: readonly [string, () => Promise<unknown>],
): Promise<[BenchRow, BenchRow]> {
  const runs: number[][] = [[], []];
  for (const [, op] of [base, cand]) for (let i = 0; i < 5; i++) await op();
  for (let s = 0; s < samples; s++) {
    for (const [k, [, op]] of [base, cand].entries()) {
      const start = process.hrtime.bigint();
      await op();
      runs[k]?.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  const b = summarize(base[0], "ms/op", runs[0] ?? []);
  return [b, withBaseline(summarize(cand[0], "ms/op", runs[1] ?? []), b)];
}

const SUBNETS = 500;
const purposes = ["default", "storage", "management"];
const pool: PoolSnapshot[] = Array.from({ length: SUBNETS }, (_, i) => ({
  subnet: `tor${i}-${purposes[i % 3]}-v${i % 2 === 0 ? 4 : 6}`,
  purpose: purposes[i % 3] as string,
  family: i % 2 === 0 ? 4 : 6,
  tor: `tor${i}`,
  capacityAddresses: 256,
  reservedAddresses: 3,
  allocatedAddresses: i % 200,
  coolingDownAddresses: i % 3,
  capacityBlocks: 4,
  leasedBlocks: i % 4,
}));

async function main(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];

  // 1. Allocation hot path: our helper vs the same two raw prom-client calls.
  {
    const raw = new Registry();
    const counter = new Counter({
      name: "raw_allocations_total",
      help: "raw",
      labelNames: ["subnet", "purpose", "family", "result"],
      registers: [raw],
    });
    const histogram = new Histogram({
      name: "raw_allocation_duration_seconds",
      help: "raw",
      labelNames: ["purpose", "family", "result"],
      buckets: [...DEFAULT_BUCKETS.allocation],
      registers: [raw],
    });
    const metrics = createIpamMetrics(new Registry());
    rows.push(
      ...measureSyncPair(
        10_000,
        200,
        [
          "prom-client raw inc+observe (baseline)",
          (i) => {
            counter.inc({ subnet: `s${i & 7}`, purpose: "default", family: "ipv4", result: "ok" });
            histogram.observe({ purpose: "default", family: "ipv4", result: "ok" }, 0.002);
          },
        ],
        [
          "metrics/observeAllocation",
          (i) => {
            const labels = { subnet: `s${i & 7}`, purpose: "default", family: 4 } as const;
            metrics.observeAllocation("ok", labels, 0.002);
          },
        ],
      ),
    );
  }

  // 2. One scrape (text exposition) of 500 subnets: sources vs gauges set directly.
  {
    const direct = new Registry();
    const names = [
      "capacity_addresses",
      "reserved_addresses",
      "allocated_addresses",
      "cooling_down_addresses",
      "capacity_blocks",
      "leased_blocks",
    ] as const;
    const gauges = names.map(
      (n) =>
        new Gauge({
          name: `raw_subnet_${n}`,
          help: "raw",
          labelNames: ["subnet", "purpose", "family", "tor"],
          registers: [direct],
        }),
    );
    const fill = () => {
      for (const g of gauges) g.reset();
      for (const row of pool) {
        const labels = {
          subnet: row.subnet,
          purpose: row.purpose,
          family: row.family === 4 ? "ipv4" : "ipv6",
          tor: row.tor ?? "",
        };
        gauges[0]?.set(labels, Number(row.capacityAddresses));
        gauges[1]?.set(labels, Number(row.reservedAddresses));
        gauges[2]?.set(labels, Number(row.allocatedAddresses));
        gauges[3]?.set(labels, Number(row.coolingDownAddresses));
        gauges[4]?.set(labels, Number(row.capacityBlocks));
        gauges[5]?.set(labels, Number(row.leasedBlocks));
      }
    };
    const registry = new Registry();
    const metrics = createIpamMetrics(registry);
    metrics.setPoolSource(() => pool);
    rows.push(
      ...(await measureAsyncPair(
        200,
        [
          `scrape ${SUBNETS} subnets, gauges set by hand (baseline)`,
          () => {
            fill();
            return direct.metrics();
          },
        ],
        [`metrics/scrape ${SUBNETS} subnets via setPoolSource`, () => registry.metrics()],
      )),
    );

    // 3. The same scrape through the HTTP server over loopback (no gzip).
    const server = await startMetricsServer({
      registry,
      host: "127.0.0.1",
      port: 0,
      readiness: () => ({ ready: true }),
    });
    const fetchOnce = () =>
      new Promise<void>((resolve, reject) => {
        get({ host: "127.0.0.1", port: server.port, path: "/metrics" }, (res) => {
          res.resume();
          res.on("end", resolve);
          res.on("error", reject);
        }).on("error", reject);
      });
    rows.push(await measureAsync(`metrics-server/GET /metrics ${SUBNETS} subnets`, 200, fetchOnce));
    await server.close();
  }
  return rows;
}

try {
  const rows = await main();
  writeBenchResults(new URL("..", import.meta.url), "metrics", rows);
  printTable(rows);
} catch (error) {
  console.error("benchmark could not run:", error);
  process.exit(1);
}
