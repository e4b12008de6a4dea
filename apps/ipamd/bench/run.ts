// Allocate+Release through the unix socket against a real ipamd (role all, durable store),
// beside a do-nothing gRPC service on the same kind of socket, with the same client, from this
// process (the servers are separate processes). Writes bench-results/ipamd.json.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createIpamClient, FamilySelection, type IpamClient } from "@ipam/grpc-server";

interface Row {
  name: string;
  unit: string;
  value: number;
  p50: number;
  p99: number;
  samples: number;
  baseline?: number;
  ratio?: number;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 4000);
const children: ChildProcess[] = [];

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function waitFor(
  client: IpamClient,
  call: (c: IpamClient) => Promise<unknown>,
): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      await call(client);
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Runs `op` in `concurrency` loops for RUN_MS; returns ops/s and per-op latencies (ms). */
async function drive(
  concurrency: number,
  op: (worker: number, i: number) => Promise<void>,
): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + RUN_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        await op(w, i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / seconds, latencies };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ipamd-bench-"));
  const daemonSocket = join(dir, "ipamd.sock");
  const echoSocket = join(dir, "echo.sock");
  children.push(
    spawn(
      process.execPath,
      [join(ROOT, "dist/main.js"), "--data-dir", dir, "--unix-socket", daemonSocket]
        .concat(["--grpc-addr", "127.0.0.1:0", "--metrics-addr", "off", "--log-level", "warn"])
        .concat(["--node-id", "bench-node"]),
      { stdio: ["ignore", "ignore", "inherit"] },
    ),
  );
  children.push(
    spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/echo-server.ts"), echoSocket], {
      stdio: ["ignore", "ignore", "inherit"],
    }),
  );
  const daemon = createIpamClient({ addresses: [`unix:${daemonSocket}`] });
  const echo = createIpamClient({ addresses: [`unix:${echoSocket}`] });
  await waitFor(daemon, (c) => c.status({}));
  await waitFor(echo, (c) => c.allocate({}));

  const rows: Row[] = [];
  for (const concurrency of [1, 64]) {
    const base = await drive(concurrency, async (w, i) => {
      await echo.allocate({ network: "bench", containerId: `e${w}-${i}`, ifname: "eth0" });
      await echo.release({ network: "bench", containerId: `e${w}-${i}`, ifname: "eth0" });
    });
    const real = await drive(concurrency, async (w, i) => {
      const key = { network: "bench", containerId: `c${concurrency}-${w}-${i}`, ifname: "eth0" };
      // IPv6 (a /64 in /120 blocks): released addresses cool down, so sustained IPv4 churn
      // would exhaust the example's /21 within seconds.
      await daemon.allocate({ ...key, families: FamilySelection.IPV6 });
      await daemon.release(key);
    });
    rows.push({
      name: `echo allocate+release, ${concurrency} client(s)`,
      unit: "pairs/s",
      value: Math.round(base.rate),
      p50: quantile(base.latencies, 0.5),
      p99: quantile(base.latencies, 0.99),
      samples: base.latencies.length,
    });
    rows.push({
      name: `ipamd allocate+release, ${concurrency} client(s)`,
      unit: "pairs/s",
      value: Math.round(real.rate),
      p50: quantile(real.latencies, 0.5),
      p99: quantile(real.latencies, 0.99),
      samples: real.latencies.length,
      baseline: Math.round(base.rate),
      ratio: base.rate / real.rate,
    });
  }
  daemon.close();
  echo.close();
  mkdirSync(join(ROOT, "bench-results"), { recursive: true });
  writeFileSync(join(ROOT, "bench-results/ipamd.json"), `${JSON.stringify(rows, null, 2)}\n`);
  console.table(
    rows.map((r) => ({
      name: r.name,
      [r.unit]: r.value,
      "p50 ms": r.p50.toFixed(3),
      "p99 ms": r.p99.toFixed(3),
      samples: r.samples,
      "of echo": r.ratio === undefined ? "" : `${(100 / r.ratio).toFixed(0)} %`,
    })),
  );
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
