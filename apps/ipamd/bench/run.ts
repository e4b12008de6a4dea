// Allocate+Release through the unix socket against a real ipamd (role all, durable store),
// beside a do-nothing gRPC service on the same kind of socket, with the same client, from this
// process (the servers are separate processes). Writes bench-results/ipamd.json.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRow, printTable, writeBenchResults } from "@ipam/bench-kit";
import { createIpamClient, FamilySelection, type IpamClient } from "@ipam/grpc-server";
import { drive, runRows } from "./drive.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 4000);
const children: ChildProcess[] = [];

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

  const rows: BenchRow[] = [];
  for (const concurrency of [1, 64]) {
    const base = await drive(concurrency, RUN_MS, async (w, i) => {
      await echo.allocate({ network: "bench", containerId: `e${w}-${i}`, ifname: "eth0" });
      await echo.release({ network: "bench", containerId: `e${w}-${i}`, ifname: "eth0" });
    });
    const real = await drive(concurrency, RUN_MS, async (w, i) => {
      const key = { network: "bench", containerId: `c${concurrency}-${w}-${i}`, ifname: "eth0" };
      // IPv6 (a /64 in /120 blocks): released addresses cool down, so sustained IPv4 churn
      // would exhaust the example's /21 within seconds.
      await daemon.allocate({ ...key, families: FamilySelection.IPV6 });
      await daemon.release(key);
    });
    const echoRows = runRows(`echo allocate+release, ${concurrency} client(s)`, "pairs/s", base);
    const ipamdRows = runRows(`ipamd allocate+release, ${concurrency} client(s)`, "pairs/s", real, {
      baseline: echoRows,
    });
    rows.push(echoRows.rate, echoRows.latency, ipamdRows.rate, ipamdRows.latency);
  }
  daemon.close();
  echo.close();
  const path = writeBenchResults(ROOT, "ipamd", rows);
  printTable(rows);
  console.log(`written to ${path}`);
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
