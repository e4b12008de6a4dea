// Scale: one `ipamd --role server` (a group of one, durable SQLite) filled through its Cluster
// API with 5,000 nodes (250 TORs × 20), 4 leased blocks per node (20,000 leases) and 30 direct-mode
// addresses per node (150,000): the server's resident memory, the size of its Raft snapshot, and
// restart-to-ready time against a same-run baseline (bench/read-store.mjs), in both heap modes. Then
// one `--role agent` on that cluster (its own TOR) holding AGENT_PODS dual-stack pod allocations
// (BENCH_AGENT_PODS=0 skips it): its resident memory and restart-to-ready time. Knobs:
// BENCH_COMPARE_DAEMON=<another build's dist/main.js> fills that build's server too and alternates
// the restarts between both builds (rows tagged [after]/[before], this build's RSS and write rate
// with the other's as baseline); BENCH_HEAP_SNAPSHOTS=<dir> writes V8 heap snapshots of the
// server when full and after its last restart (`--heap fast`); BENCH_CPU_PROFILES=<dir> a CPU
// profile of each restarted server. Writes
// bench-results/ipamd-scale.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  type BenchRow,
  printTable,
  summarize,
  withBaseline,
  writeBenchResults,
} from "@ipam/bench-kit";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  Family,
  FamilySelection,
  type IpamClient,
  ReadyState,
} from "@ipam/grpc-server";
import { openStore } from "@ipam/store";
import {
  freePort,
  IPAMD_MAIN,
  type IpamdProcess,
  killAll,
  spawnIpamd,
  tempDir,
  waitFor,
} from "../test/helpers/processes.js";

const ZONES = 5;
const PODS_PER_ZONE = 5;
const TORS_PER_POD = 10;
const NODES_PER_TOR = 20;
const BLOCKS_PER_NODE = 4; // 2 IPv4 /26 + 2 IPv6 /120
const DIRECT_PER_NODE = 30;
const DIRECT_BATCH = 50;
const AGENT_PODS = Number(process.env.BENCH_AGENT_PODS ?? 5000);
const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 3);
const SNAPSHOT_ENTRIES = 2000;
/** Another build's `dist/main.js`: its server is filled and restarted beside this build's. */
const COMPARE_DAEMON = process.env.BENCH_COMPARE_DAEMON;
/** A directory: heap snapshots of the server when full and after the last restart. */
const HEAP_SNAPSHOTS = process.env.BENCH_HEAP_SNAPSHOTS;
/**
 * A directory: a V8 CPU profile (`--cpu-prof`) of every restarted server, from spawn to its
 * SIGTERM (restart, the write burst, stop); summarise with `bench/profile-summary.ts`.
 */
const CPU_PROFILES = process.env.BENCH_CPU_PROFILES;
/** Cluster write pairs after each restart (the heap modes' cost on the write path). */
// Each burst uses another TOR's management /22 (600 of its addresses are taken by the fill and
// released ones cool down), so at most ~400.
const WRITE_BURST = Number(process.env.BENCH_WRITE_BURST ?? 300);

const AGENT_TOR = "tor-agent";
const torId = (t: number) => `tor-${t}`;
const nodeId = (t: number, n: number) => `node-${t}-${n}`;

/** An IPv4 address `offset` addresses above 10.0.0.0. */
function v4(offset: number): string {
  const a = 10 * 2 ** 24 + offset;
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join(".");
}

/**
 * 250 TORs, each with an IPv4 /20 and an IPv6 /64 in blocks and a direct-mode IPv4 /22, and one
 * more TOR for the benchmark agent.
 */
function scaleTopology(): object {
  let t = 0;
  const zones = [];
  for (let z = 0; z < ZONES; z++) {
    const pods = [];
    for (let p = 0; p < PODS_PER_ZONE; p++) {
      const tors = [];
      for (let k = 0; k < TORS_PER_POD; k++, t++) {
        tors.push({
          id: torId(t),
          subnets: [
            {
              id: `${torId(t)}-v4`,
              cidr: `${v4(64 * 2 ** 16 + t * 4096)}/20`,
              purpose: "default",
              blockPrefix: 26,
            },
            {
              id: `${torId(t)}-v6`,
              cidr: `fd99:0:0:${t.toString(16)}::/64`,
              purpose: "default",
              blockPrefix: 120,
            },
            {
              id: `${torId(t)}-mgmt`,
              cidr: `${v4(128 * 2 ** 16 + t * 1024)}/22`,
              purpose: "management",
              blockPrefix: 32,
            },
          ],
        });
      }
      if (z === 0 && p === 0) {
        // The benchmark agent's rack: room for AGENT_PODS dual-stack pods.
        tors.push({
          id: AGENT_TOR,
          subnets: [
            {
              id: "agent-v4",
              cidr: `${v4(192 * 2 ** 16)}/16`,
              purpose: "default",
              blockPrefix: 26,
            },
            { id: "agent-v6", cidr: "fd99:0:0:1000::/64", purpose: "default", blockPrefix: 120 },
          ],
        });
      }
      pods.push({ id: `pod-${z}-${p}`, tors });
    }
    zones.push({ id: `zone-${z}`, pods });
  }
  return { version: 1, zones };
}

/**
 * Where a server's memory goes, MiB, from its own `/metrics` (prom-client's default process and
 * Node.js metrics): V8 heap used (and per space), heap reserved, memory outside the heap
 * (`external`: Buffers, SQLite is not in it), and the resident set.
 */
async function memoryBreakdown(metricsAddr: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${metricsAddr}/metrics`)).text();
  const out = new Map<string, number>();
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  for (const line of text.split("\n")) {
    const m =
      /^(nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_external_memory_bytes|process_resident_memory_bytes|nodejs_heap_space_size_used_bytes\{space="(\w+)"\}) (\S+)$/.exec(
        line,
      );
    if (m === null) continue;
    const name = m[2] === undefined ? m[1] : `heap space ${m[2]}`;
    out.set(name ?? "", mib(Number(m[3])));
  }
  return out;
}

/**
 * The restart baseline: spawn `bench/read-store.mjs` (a fresh Node process that reads the stopped
 * server's snapshot and log with better-sqlite3 alone) and time it to its exit, ms.
 */
function readStoreAlone(dbPath: string): number {
  const storeEntry = createRequire(import.meta.url).resolve("@ipam/store");
  const script = new URL("./read-store.mjs", import.meta.url).pathname;
  const t0 = performance.now();
  const bytes = Number(
    execFileSync(process.execPath, [script, storeEntry, dbPath], { encoding: "utf8" }),
  );
  const ms = performance.now() - t0;
  if (!(bytes > 0)) throw new Error(`read-store.mjs read nothing from ${dbPath}`);
  return ms;
}

/** Resident set size of a process, MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Runs `op(i)` for i in [0, count) with `concurrency` calls in flight; returns ops/s. */
async function fill(
  count: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) await op(i);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function serverReady(client: ClusterClient, applied: bigint): Promise<void> {
  await waitFor(
    "the server to lead and apply its log",
    async () => {
      const st = await client.getStatus({}, { deadlineMs: 500 }).catch(() => undefined);
      return st !== undefined && st.leaderId !== "" && st.appliedIndex >= applied
        ? true
        : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 10 },
  );
}

async function agentReady(client: IpamClient): Promise<void> {
  await waitFor(
    "the agent to be ready",
    async () => {
      const s = await client.status({}, { deadlineMs: 500 }).catch(() => undefined);
      return s?.state === ReadyState.READY ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 10 },
  );
}

/** One build of the daemon under test: its entry point, data dir and addresses. */
interface Daemon {
  /** `""` without BENCH_COMPARE_DAEMON, else `after` (this build) or `before` (the other). */
  readonly label: string;
  readonly main: string;
  readonly args: string[];
  readonly address: string;
  readonly metricsAddr: string;
  readonly db: string;
  readonly cluster: ClusterClient;
  /** Applied index once filled. */
  applied: bigint;
}

/** ` [label]` for row names (nothing without a comparison). */
const tag = (d: Daemon) => (d.label === "" ? "" : ` [${d.label}]`);

/**
 * With BENCH_HEAP_SNAPSHOTS=<dir>: the server's V8 heap snapshot (SIGUSR2, Node's
 * `--heapsnapshot-signal`), written into <dir>, after its RSS was read. Waits until the file is
 * complete.
 */
async function heapSnapshot(server: IpamdProcess, name: string): Promise<void> {
  if (HEAP_SNAPSHOTS === undefined) return;
  const before = new Set(readdirSync(HEAP_SNAPSHOTS));
  server.kill("SIGUSR2");
  const file = await waitFor(
    "the heap snapshot",
    () => readdirSync(HEAP_SNAPSHOTS).find((f) => !before.has(f) && f.endsWith(".heapsnapshot")),
    { timeoutMs: 600_000, intervalMs: 200 },
  );
  // Node writes the file in place: done once its size stops changing and it ends the JSON.
  let size = -1;
  await waitFor(
    "the heap snapshot to be written",
    () => {
      const now = statSync(join(HEAP_SNAPSHOTS, file)).size;
      const done = now === size && now > 0;
      size = now;
      return done ? true : undefined;
    },
    { timeoutMs: 600_000, intervalMs: 1000 },
  );
  renameSync(join(HEAP_SNAPSHOTS, file), join(HEAP_SNAPSHOTS, `${name}.heapsnapshot`));
  console.error(`heap snapshot: ${join(HEAP_SNAPSHOTS, `${name}.heapsnapshot`)}`);
}

/** Starts a build's server; `restart` adds the CPU profile flags when BENCH_CPU_PROFILES is set. */
function spawnServer(d: Daemon, extra: readonly string[] = [], restart = false): IpamdProcess {
  const nodeArgs = [
    ...(HEAP_SNAPSHOTS === undefined
      ? []
      : ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${HEAP_SNAPSHOTS}`]),
    ...(CPU_PROFILES === undefined || !restart
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${CPU_PROFILES}`]),
  ];
  return spawnIpamd(`s1${tag(d)}`, [...d.args, ...extra], { main: d.main, nodeArgs });
}

async function main(): Promise<void> {
  const dir = tempDir("ipamd-scale-bench");
  const rows: BenchRow[] = [];
  const context = (name: string, unit: string, value: number, samples = 1): BenchRow => {
    const row = summarize(name, unit, [value], { count: samples });
    rows.push(row);
    console.error(`${name}: ${row.value} ${unit}`);
    return row;
  };
  const daemons: Daemon[] = [];
  try {
    if (HEAP_SNAPSHOTS !== undefined) mkdirSync(HEAP_SNAPSHOTS, { recursive: true });
    if (CPU_PROFILES !== undefined) mkdirSync(CPU_PROFILES, { recursive: true });
    const topology = join(dir, "topology.json");
    writeFileSync(topology, JSON.stringify(scaleTopology()));
    const builds: [string, string][] =
      COMPARE_DAEMON === undefined
        ? [["", IPAMD_MAIN]]
        : [
            ["after", IPAMD_MAIN],
            ["before", COMPARE_DAEMON],
          ];
    for (const [label, main] of builds) {
      const address = `127.0.0.1:${await freePort()}`;
      const metricsAddr = `127.0.0.1:${await freePort()}`;
      const data = join(dir, label === "" ? "s1" : `s1-${label}`);
      daemons.push({
        label,
        main,
        address,
        metricsAddr,
        db: join(data, "ipamd.db"),
        cluster: createClusterClient({ addresses: [address] }),
        applied: 0n,
        args: [
          ...["--role", "server", "--node-id", "s1", "--data-dir", data],
          ...["--grpc-addr", address, "--metrics-addr", metricsAddr, "--log-level", "warn"],
          ...["--raft-snapshot-entries", String(SNAPSHOT_ENTRIES), "--bootstrap"],
          ...["--topology", topology],
        ],
      });
    }
    const tors = ZONES * PODS_PER_ZONE * TORS_PER_POD;
    const nodes = tors * NODES_PER_TOR;
    const leases = nodes * BLOCKS_PER_NODE;
    const direct = nodes * DIRECT_PER_NODE;
    const node = (i: number) => nodeId(Math.floor(i / NODES_PER_TOR), i % NODES_PER_TOR);
    const fullRss = new Map<string, BenchRow>();

    // Fill each build's server in turn (the other one is stopped), with the default heap mode.
    for (const d of daemons) {
      const { cluster, metricsAddr } = d;
      const server = spawnServer(d);
      await serverReady(cluster, 1n);
      await waitFor("the topology", async () => {
        const t = await cluster.getTopology({});
        return t.topologyJson.includes(torId(249)) ? true : undefined;
      });
      context(`scale: server RSS after the topology, 0 nodes${tag(d)}`, "MiB", rssMiB(server.pid));
      const registered = await fill(nodes, 64, (i) =>
        cluster.registerNode({ nodeId: node(i), torId: torId(Math.floor(i / NODES_PER_TOR)) }),
      );
      context(`scale: fill, RegisterNode (64 concurrent)${tag(d)}`, "writes/s", registered, nodes);
      const leased = await fill(leases, 64, (i) =>
        cluster.leaseBlock({
          nodeId: node(i % nodes),
          purpose: "default",
          family: Math.floor(i / nodes) % 2 === 0 ? Family.IPV4 : Family.IPV6,
          requestId: `scale-${i}`,
        }),
      );
      context(`scale: fill, LeaseBlock (64 concurrent)${tag(d)}`, "writes/s", leased, leases);
      const calls = direct / DIRECT_BATCH;
      const allocated = await fill(calls, 16, async (c) => {
        const r = await cluster.allocateDirect({
          items: Array.from({ length: DIRECT_BATCH }, (_, k) => {
            const i = c * DIRECT_BATCH + k;
            const owner = node(Math.floor(i / DIRECT_PER_NODE));
            return {
              network: "scale",
              containerId: `c${i}`,
              ifname: "eth0",
              nodeId: owner,
              purpose: "management",
              family: Family.IPV4,
            };
          }),
        });
        for (const x of r.results) {
          if (x.result.case === "error")
            throw new Error(`AllocateDirect: ${x.result.value.message}`);
        }
      });
      context(
        `scale: fill, AllocateDirect (${DIRECT_BATCH} per call, 16 concurrent)${tag(d)}`,
        "addresses/s",
        allocated * DIRECT_BATCH,
        direct,
      );
      d.applied = (await cluster.getStatus({})).appliedIndex;
      fullRss.set(
        d.label,
        context(
          `scale: server RSS, ${nodes} nodes, ${leases} leases, ${direct} direct addresses${tag(d)}`,
          "MiB",
          rssMiB(server.pid),
        ),
      );
      for (const [part, value] of await memoryBreakdown(metricsAddr)) {
        context(`scale: server memory, full: ${part}${tag(d)}`, "MiB", value);
      }
      await heapSnapshot(server, `full${d.label === "" ? "" : `-${d.label}`}`);
      server.kill("SIGTERM");
      await server.exited();
    }

    // Restart-to-ready: start a stopped server again with the same flags (a server with Raft
    // state ignores --bootstrap), time from spawn to leading with every entry applied. Before
    // each restart, in the same window, the baseline reads the same file alone. The restarts
    // alternate between the heap modes (`--heap fast`, the default, and `--heap compact`) and,
    // with BENCH_COMPARE_DAEMON, between the two builds (each on its own data dir); after each
    // one a burst of cluster writes (AllocateDirect + ReleaseDirect of one address, 16
    // concurrent, on the next TOR each time) measures the write rate, then SIGTERM.
    const modes = ["fast", "compact"] as const;
    const runs = new Map<string, { restart: number[]; rss: number[]; writes: number[] }>();
    const runOf = (d: Daemon, mode: string) => {
      const key = `${d.label}/${mode}`;
      let run = runs.get(key);
      if (run === undefined) {
        run = { restart: [], rss: [], writes: [] };
        runs.set(key, run);
      }
      return run;
    };
    const baselines: number[] = [];
    let burst = 0;
    let server: IpamdProcess | undefined;
    for (let r = 0; r < RESTARTS; r++) {
      for (const mode of modes) {
        // Alternate which build goes first, so neither always follows the other.
        const order = r % 2 === 0 ? daemons : [...daemons].reverse();
        for (const d of order) {
          const run = runOf(d, mode);
          baselines.push(readStoreAlone(d.db));
          const t0 = performance.now();
          server = spawnServer(d, ["--heap", mode], true);
          await serverReady(d.cluster, d.applied);
          run.restart.push(performance.now() - t0);
          run.rss.push(rssMiB(server.pid));
          if (r === RESTARTS - 1) {
            for (const [part, value] of await memoryBreakdown(d.metricsAddr)) {
              context(
                `scale: server memory, restarted, --heap ${mode}: ${part}${tag(d)}`,
                "MiB",
                value,
              );
            }
            if (mode === "fast")
              await heapSnapshot(server, `restarted${d.label === "" ? "" : `-${d.label}`}`);
          }
          const round = burst++;
          const pairs = await fill(WRITE_BURST, 16, async (i) => {
            const key = { network: "burst", containerId: `b${round}-${i}`, ifname: "eth0" };
            const item = {
              ...key,
              nodeId: nodeId(round % tors, 0),
              purpose: "management",
              family: Family.IPV4,
            };
            const r1 = await d.cluster.allocateDirect({ items: [item] });
            const res = r1.results[0]?.result;
            if (res?.case !== "address")
              throw new Error(
                `AllocateDirect: ${res?.case === "error" ? res.value.message : "no result"}`,
              );
            await d.cluster.releaseDirect({ keys: [key] });
          });
          run.writes.push(pairs);
          d.applied = (await d.cluster.getStatus({})).appliedIndex;
          server.kill("SIGTERM");
          await server.exited();
        }
      }
    }
    const baselineRow = summarize(
      "scale: baseline, a fresh process reads the server's snapshot and log (better-sqlite3 alone)",
      "ms",
      baselines,
    );
    rows.push(baselineRow);
    for (const mode of modes) {
      const rowsOf = new Map<string, { restart: BenchRow; rss: BenchRow; writes: BenchRow }>();
      for (const d of daemons) {
        const run = runOf(d, mode);
        const restart = withBaseline(
          summarize(
            `scale: server restart to ready, --heap ${mode} (spawn → leader, log applied)${tag(d)}`,
            "ms",
            run.restart,
          ),
          baselineRow,
        );
        const rss = summarize(
          `scale: server RSS after a restart, --heap ${mode}${tag(d)}`,
          "MiB",
          run.rss,
        );
        const writes = summarize(
          `scale: cluster writes after a restart, --heap ${mode} (AllocateDirect+ReleaseDirect, 16 concurrent)${tag(d)}`,
          "pairs/s",
          run.writes,
          { better: "higher" },
        );
        rowsOf.set(d.label, { restart, rss, writes });
        console.error(`${restart.name}: ${restart.value} ms (x${restart.ratio} of baseline)`);
      }
      const before = COMPARE_DAEMON === undefined ? undefined : rowsOf.get("before");
      for (const [label, set] of rowsOf) {
        // With a comparison, this build's RSS and write rate carry the other build's as baseline.
        const other = label === "after" ? before : undefined;
        rows.push(
          set.restart,
          other === undefined ? set.rss : withBaseline(set.rss, other.rss),
          other === undefined ? set.writes : withBaseline(set.writes, other.writes, "higher"),
        );
      }
    }
    const afterFull = fullRss.get("after");
    const beforeFull = fullRss.get("before");
    if (afterFull !== undefined && beforeFull !== undefined) {
      rows.push({
        ...withBaseline(afterFull, beforeFull),
        name: `${afterFull.name} vs before`,
      });
    }

    const primary = daemons[0] as Daemon;
    server = spawnServer(primary);
    await serverReady(primary.cluster, primary.applied);
    if (AGENT_PODS > 0) await agentPhase(primary, context, rows);

    server.kill("SIGTERM");
    await server.exited();
    for (const d of daemons) d.cluster.close();
    // The snapshot the server last wrote (every SNAPSHOT_ENTRIES applied entries).
    const store = openStore({ path: primary.db });
    try {
      const snapshot = store.raftLog().loadSnapshot();
      if (snapshot === undefined) throw new Error("the server wrote no snapshot");
      context(
        `scale: Raft snapshot size (at index ${snapshot.meta.index} of ${primary.applied})`,
        "MB",
        snapshot.data.length / 1e6,
      );
    } finally {
      store.close();
    }
  } finally {
    await killAll();
  }
  const path = writeBenchResults(new URL("..", import.meta.url), "ipamd-scale", rows);
  printTable(rows);
  console.log(`written to ${path}`);
}

/** One `--role agent` on the primary server (its own TOR) holding AGENT_PODS dual-stack pods. */
async function agentPhase(
  primary: Daemon,
  context: (name: string, unit: string, value: number, samples?: number) => BenchRow,
  rows: BenchRow[],
): Promise<void> {
  const agentDir = join(tempDir("ipamd-scale-agent"), "agent");
  const socket = join(agentDir, "ipamd.sock");
  const agentArgs = [
    ...["--role", "agent", "--servers", primary.address, "--node-id", "scale-agent"],
    ...["--tor", AGENT_TOR, "--data-dir", agentDir, "--unix-socket", socket],
    ...["--metrics-addr", "off", "--log-level", "warn"],
  ];
  let agent = spawnIpamd("agent", agentArgs);
  const ipam = createIpamClient({ addresses: [`unix:${socket}`] });
  await agentReady(ipam);
  context("scale: agent RSS, no pods", "MiB", rssMiB(agent.pid));
  const pods = await fill(AGENT_PODS, 16, (i) =>
    ipam.allocate({
      network: "pods",
      containerId: `pod${i}`,
      ifname: "eth0",
      purpose: "default",
      families: FamilySelection.DUAL_STACK,
    }),
  );
  context("scale: agent fill, Allocate dual-stack (16 concurrent)", "pods/s", pods, AGENT_PODS);
  context(`scale: agent RSS, ${AGENT_PODS} dual-stack pods`, "MiB", rssMiB(agent.pid));
  const agentRestarts: number[] = [];
  for (let r = 0; r < RESTARTS; r++) {
    agent.kill("SIGTERM");
    await agent.exited();
    const t0 = performance.now();
    agent = spawnIpamd("agent", agentArgs);
    await agentReady(ipam);
    agentRestarts.push(performance.now() - t0);
  }
  const list = await ipam.listAllocations({ network: "pods" });
  if (list.allocations.length < Math.min(AGENT_PODS, 500)) {
    throw new Error(`the agent lost allocations across restarts (${list.allocations.length})`);
  }
  const agentRow = summarize(
    `scale: agent restart to ready (${AGENT_PODS} pods)`,
    "ms",
    agentRestarts,
  );
  rows.push(agentRow);
  console.error(`${agentRow.name}: ${agentRow.value} ms`);
  ipam.close();
  agent.kill("SIGTERM");
  await agent.exited();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
