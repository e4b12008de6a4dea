// Allocate+Release through the unix socket against a real ipamd (role all, durable store),
// beside a do-nothing gRPC service on the same kind of socket (canned answers of the same size),
// with the same client, from this process (the servers are separate processes). Twice: with
// the grpc-js client and with the lean client (the CNI plugin's). Writes bench-results/ipamd.json.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRow, printTable, writeBenchResults } from "@ipam/bench-kit";
import { createIpamClient, FamilySelection } from "@ipam/grpc-server";
import { createLeanIpamClient } from "@ipam/grpc-server/lean";
import { alternate, drive, runRows } from "./drive.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const children: ChildProcess[] = [];

/** What the benchmark needs of a node API client; both clients have it. */
interface Client {
  allocate(request: {
    network: string;
    containerId: string;
    ifname: string;
    families?: FamilySelection;
  }): Promise<unknown>;
  release(request: { network: string; containerId: string; ifname: string }): Promise<unknown>;
  status(request: Record<string, never>): Promise<unknown>;
  close(): void;
}

async function waitFor(client: Client, call: (c: Client) => Promise<unknown>): Promise<void> {
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
  const clients: Record<string, (socket: string) => Client> = {
    "grpc-js client": (socket) => createIpamClient({ addresses: [`unix:${socket}`] }),
    "lean client": (socket) => createLeanIpamClient({ socketPath: socket }),
  };
  const rows: BenchRow[] = [];
  for (const [clientName, connect] of Object.entries(clients)) {
    const daemon = connect(daemonSocket);
    const echo = connect(echoSocket);
    await waitFor(daemon, (c) => c.status({}));
    await waitFor(echo, (c) => c.allocate({ network: "bench", containerId: "w", ifname: "eth0" }));
    for (const concurrency of [1, 64]) {
      // Echo and ipamd in turns (ROUNDS × RUN_MS each), rates compared by their medians.
      const [base, real] = await alternate(
        ROUNDS,
        () =>
          drive(concurrency, RUN_MS, async (w, i) => {
            const key = { network: "bench", containerId: `e${w}-${i}`, ifname: "eth0" };
            await echo.allocate({ ...key, families: FamilySelection.IPV6 });
            await echo.release(key);
          }),
        () =>
          drive(concurrency, RUN_MS, async (w, i) => {
            const id = `${clientName[0]}${concurrency}-${w}-${i}`;
            const key = { network: "bench", containerId: id, ifname: "eth0" };
            // IPv6 (a /64 in /120 blocks): released addresses cool down, so sustained IPv4
            // churn would exhaust the example's /21 within seconds.
            await daemon.allocate({ ...key, families: FamilySelection.IPV6 });
            await daemon.release(key);
          }),
      );
      const label = `${concurrency} client(s), ${clientName}`;
      const echoRows = runRows(`echo allocate+release, ${label}`, "pairs/s", base);
      const ipamdRows = runRows(`ipamd allocate+release, ${label}`, "pairs/s", real, {
        baseline: echoRows,
      });
      rows.push(echoRows.rate, echoRows.latency, ipamdRows.rate, ipamdRows.latency);
    }
    daemon.close();
    echo.close();
  }
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
