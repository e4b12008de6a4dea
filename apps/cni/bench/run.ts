// Process-start benchmark: `node -e 0`, ipamd-cni ADD and DEL against a running ipamd (role all,
// durable store, its own process), the same plugin built as a single executable (no Node on the
// host: dist/ipamd-cni-<platform>-<arch>), and the reference host-local plugin ADD and DEL, in one
// run.
// CNI_BENCH_SERVER=stand-in uses the in-memory test server in this process instead of ipamd.
// Writes bench-results/cni.json.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BenchRow,
  printTable,
  summarize,
  withBaseline,
  writeBenchResults,
} from "@ipam/bench-kit";
import { createIpamServer } from "@ipam/grpc-server";
import { createTestIpamHandlers } from "../test/test-ipam-handlers.js";

const RUNS = Number(process.env.CNI_BENCH_RUNS ?? 100);
const MAIN = fileURLToPath(new URL("../dist/main.cjs", import.meta.url));
const CODE_CACHE = fileURLToPath(new URL("../dist/plugin.cjs.v8-cache", import.meta.url));
const SEA = fileURLToPath(
  new URL(`../dist/ipamd-cni-${process.platform}-${process.arch}`, import.meta.url),
);
const HOST_LOCAL = "/usr/lib/cni/host-local";
const IPAMD = fileURLToPath(new URL("../../ipamd/dist/main.js", import.meta.url));

/** Starts ipamd on `socketPath`; resolves once a STATUS through the plugin exits 0. */
async function startIpamd(dir: string, socketPath: string): Promise<ChildProcess> {
  if (!existsSync(IPAMD))
    throw new Error(`${IPAMD} is missing: run pnpm --filter @ipam/ipamd build`);
  const child = spawn(
    process.execPath,
    [
      IPAMD,
      ...["--data-dir", join(dir, "ipamd"), "--unix-socket", socketPath, "--node-id", "cni-bench"],
      ...["--grpc-addr", "127.0.0.1:0", "--metrics-addr", "off", "--log-level", "warn"],
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const status = JSON.stringify({ cniVersion: "1.1.0", name: "bench", ipam: { socketPath } });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ipamd exited with ${child.exitCode}`);
    if (existsSync(socketPath)) {
      const ok = await runOnce(process.execPath, [MAIN], { CNI_COMMAND: "STATUS" }, status).then(
        () => true,
        () => false,
      );
      if (ok) return child;
    }
    if (Date.now() > deadline) throw new Error("ipamd did not become ready in 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function runOnce(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} exited ${code}: ${out}`));
      else resolve(ms);
    });
    child.stdin.end(stdin);
  });
}

/** A row of process times in ms, compared with `baseline` (same run) when given. */
function row(name: string, samples: number[], baseline?: BenchRow): BenchRow {
  const r = summarize(name, "ms", samples);
  return baseline === undefined ? r : withBaseline(r, baseline);
}

async function main(): Promise<void> {
  for (const file of [MAIN, SEA]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run pnpm --filter @ipam/cni build`);
  }
  const dir = mkdtempSync(join(tmpdir(), "ipamd-cni-bench-"));
  const socketPath = join(dir, "ipamd.sock");
  const standIn = process.env.CNI_BENCH_SERVER === "stand-in";
  const server = standIn
    ? await createIpamServer({
        unixSocket: { path: socketPath },
        handlers: createTestIpamHandlers(250),
        reflection: false,
      })
    : undefined;
  const daemon = standIn ? undefined : await startIpamd(dir, socketPath);
  console.error(`backend: ${standIn ? "in-memory stand-in" : "ipamd (role all)"}`);
  const rows: BenchRow[] = [];
  try {
    const nodeSamples: number[] = [];
    const netSamples: number[] = [];
    const versionSamples: number[] = [];
    const add: number[] = [];
    const del: number[] = [];
    const addNoCache: number[] = [];
    const seaAdd: number[] = [];
    const seaDel: number[] = [];
    const hlAdd: number[] = [];
    const hlDel: number[] = [];
    const ours = JSON.stringify({
      cniVersion: "1.0.0",
      name: "bench",
      ipam: { type: "ipamd-cni", socketPath },
    });
    const dataDir = join(dir, "host-local");
    mkdirSync(dataDir);
    const theirs = JSON.stringify({
      cniVersion: "1.0.0",
      name: "bench",
      ipam: { type: "host-local", dataDir, ranges: [[{ subnet: "10.99.1.0/24" }]] },
    });
    const hasHostLocal = existsSync(HOST_LOCAL);
    // The executable keeps a V8 code cache beside itself, written by the first successful ADD
    // (as on a node after its first pod): start without one and let a warm-up ADD write it.
    rmSync(CODE_CACHE, { force: true });
    const warm = { CNI_CONTAINERID: "warm", CNI_NETNS: "/proc/1/ns/net", CNI_IFNAME: "eth0" };
    await runOnce(process.execPath, [MAIN], { ...warm, CNI_COMMAND: "ADD" }, ours);
    await runOnce(process.execPath, [MAIN], { ...warm, CNI_COMMAND: "DEL" }, ours);
    if (!existsSync(CODE_CACHE)) throw new Error(`the warm-up ADD wrote no ${CODE_CACHE}`);
    for (let i = 0; i < RUNS; i++) {
      // Interleaved so that machine noise hits every series alike.
      nodeSamples.push(await runOnce(process.execPath, ["-e", "0"], {}, ""));
      // Breakdown: what node:net (the lean client's transport) alone costs, and the plugin
      // loaded but making no call.
      netSamples.push(await runOnce(process.execPath, ["-e", 'require("node:net")'], {}, ""));
      versionSamples.push(
        await runOnce(
          process.execPath,
          [MAIN],
          { CNI_COMMAND: "VERSION" },
          '{"cniVersion":"1.1.0"}',
        ),
      );
      const env = {
        CNI_CONTAINERID: `bench${i}`,
        CNI_NETNS: "/proc/1/ns/net",
        CNI_IFNAME: "eth0",
        CNI_PATH: "/usr/lib/cni",
      };
      add.push(await runOnce(process.execPath, [MAIN], { ...env, CNI_COMMAND: "ADD" }, ours));
      del.push(await runOnce(process.execPath, [MAIN], { ...env, CNI_COMMAND: "DEL" }, ours));
      // Breakdown: the same ADD compiling the plugin from source (no code cache).
      const cold = { ...env, CNI_CONTAINERID: `cold${i}`, IPAMD_CNI_CODE_CACHE: "off" };
      addNoCache.push(
        await runOnce(process.execPath, [MAIN], { ...cold, CNI_COMMAND: "ADD" }, ours),
      );
      await runOnce(process.execPath, [MAIN], { ...cold, CNI_COMMAND: "DEL" }, ours);
      // The single executable, as installed on a host without Node.
      const single = { ...env, CNI_CONTAINERID: `sea${i}` };
      seaAdd.push(await runOnce(SEA, [], { ...single, CNI_COMMAND: "ADD" }, ours));
      seaDel.push(await runOnce(SEA, [], { ...single, CNI_COMMAND: "DEL" }, ours));
      if (hasHostLocal) {
        hlAdd.push(await runOnce(HOST_LOCAL, [], { ...env, CNI_COMMAND: "ADD" }, theirs));
        hlDel.push(await runOnce(HOST_LOCAL, [], { ...env, CNI_COMMAND: "DEL" }, theirs));
      }
    }
    const nodeRow = row("node -e 0", nodeSamples);
    rows.push(nodeRow);
    rows.push(row("node -e 'require(\"node:net\")' (breakdown)", netSamples, nodeRow));
    rows.push(row("ipamd-cni VERSION, no call (breakdown)", versionSamples, nodeRow));
    rows.push(row("ipamd-cni ADD", add, nodeRow));
    rows.push(row("ipamd-cni ADD, code cache off (breakdown)", addNoCache, nodeRow));
    rows.push(row("ipamd-cni DEL", del, nodeRow));
    rows.push(row("ipamd-cni single executable ADD", seaAdd, nodeRow));
    rows.push(row("ipamd-cni single executable DEL", seaDel, nodeRow));
    const addDel = add.map((a, i) => a + (del[i] ?? 0));
    const seaAddDel = seaAdd.map((a, i) => a + (seaDel[i] ?? 0));
    if (hasHostLocal) {
      const hl = row(
        "host-local ADD+DEL",
        hlAdd.map((a, i) => a + (hlDel[i] ?? 0)),
      );
      const hlAddRow = row("host-local ADD", hlAdd);
      rows.push(hlAddRow);
      rows.push(hl);
      rows.push(row("ipamd-cni ADD+DEL", addDel, hl));
      rows.push(row("ipamd-cni single executable ADD vs host-local", seaAdd, hlAddRow));
      rows.push(row("ipamd-cni single executable ADD+DEL", seaAddDel, hl));
    } else {
      console.error(`${HOST_LOCAL} not found: host-local rows skipped`);
      rows.push(row("ipamd-cni ADD+DEL", addDel));
      rows.push(row("ipamd-cni single executable ADD+DEL", seaAddDel));
    }
  } finally {
    await server?.shutdown(1000);
    if (daemon !== undefined && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon.once("exit", r));
      daemon.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  writeBenchResults(new URL("..", import.meta.url), "cni", rows);
  printTable(rows);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
