// The cluster write path against etcd's, in one run on this machine (issue 22, target 1): three
// `ipamd --role server` (ipamd's own Raft, durable SQLite) and a three-member etcd (Debian's
// etcd-server, default durability: one fsync per WAL batch), all on loopback with data on the
// same disk. Both are driven by the same client: BENCH_CLIENT_PROCS forked processes
// (bench/cluster-load-client.ts: node:http2 over TCP, protobuf-es codecs, no grpc-js) with the
// same number of concurrent calls and the same request size (the PUT's value is sized so that
// its request is as long as ipamd's). Rounds alternate between the two so both meet the same
// load. Rows: etcd PUT (the baseline), ipamd AllocateDirect (one address) and LeaseBlock, at 1
// and 64 clients, all sent to the leader, and at 64 clients spread over the three servers
// (followers forward); each with its ratio against etcd in the same rounds, the clients' and
// the servers' CPU (cores busy) and os.loadavg(). Writes bench-results/cluster-vs-etcd.json.
//
// BENCH_PROFILE=DIR: the ipamd servers run with --cpu-prof into DIR (written when the bench
// stops them with SIGTERM at the end); summarise with bench/profile-summary.ts.
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { type BenchRow, printTable, quantile, writeBenchResults } from "@ipam/bench-kit";
import {
  AllocateDirectRequestSchema,
  type ClusterClient,
  createClusterClient,
  Family,
} from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import { PutRequestSchema } from "../src/gen/etcdserverpb/rpc_pb.js";
import { type EtcdCluster, killAllEtcd, startEtcdCluster } from "../test/helpers/etcd.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  type SpawnOptions,
  spawnIpamd,
  tempDir,
  waitFor,
} from "../test/helpers/processes.js";
import type {
  ClusterLoadOp,
  ClusterLoadRequest,
  ClusterLoadResult,
} from "./cluster-load-client.js";
import type { Driven } from "./drive.js";
import { runRows } from "./drive.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROCS = Number(process.env.BENCH_CLIENT_PROCS ?? 4);
const ELECTION_MS = Number(process.env.BENCH_ELECTION_MS ?? 1000);
const PROFILE_DIR = process.env.BENCH_PROFILE;
/**
 * BENCH_BASELINE_MAIN=path/to/dist/main.js: a second trio of servers runs that build (e.g. main's)
 * in the same rounds, so a change is compared with what it replaces in the same run.
 */
const BASELINE_MAIN = process.env.BENCH_BASELINE_MAIN;
/** BENCH_ONLY=allocate-direct|lease-block: one ipamd operation only. */
const ONLY = process.env.BENCH_ONLY;
/** BENCH_CLIENTS=64: only these client counts (comma-separated; default 1,64). */
const CLIENTS = (process.env.BENCH_CLIENTS ?? "1,64").split(",").map(Number);
/** BENCH_SPREAD=0: only "to the leader" rows; 1: only "spread over 3 servers" rows. */
const SPREAD = process.env.BENCH_SPREAD;
const CONCURRENCY = 64;
const TOR = "tor-a1-1";

/** The example topology with tor-a1-1's direct-mode IPv6 management subnet widened to a /104. */
function benchTopology(dir: string): string {
  const config = toCanonicalConfig(exampleTopology()) as unknown as {
    zones: { pods: { tors: { id: string; subnets: { id: string; cidr: string }[] }[] }[] }[];
  };
  for (const zone of config.zones)
    for (const pod of zone.pods)
      for (const tor of pod.tors)
        for (const subnet of tor.subnets)
          if (subnet.id === "tor-a1-1-management-v6") subnet.cidr = "fd99:0:0:2::/104";
  const path = join(dir, "topology.json");
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** CPU time of process `pid` (all threads), ms, from /proc; 0 when it is gone. */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

const children: ChildProcess[] = [];

/** A forked load client, one request at a time. */
class LoadProcess {
  readonly #child: ChildProcess;
  readonly ready: Promise<void>;
  #pending: ((r: ClusterLoadResult) => void) | undefined;
  #failPending: ((error: Error) => void) | undefined;

  constructor() {
    this.#child = fork(join(ROOT, "bench/cluster-load-client.ts"), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(this.#child);
    this.ready = new Promise((resolveReady, reject) => {
      this.#child.once("exit", (code) => reject(new Error(`load client exited with ${code}`)));
      this.#child.on("message", (m: "ready" | ClusterLoadResult) => {
        if (m === "ready") resolveReady();
        else this.#pending?.(m);
      });
    });
    // A load client that dies mid-run fails the bench (which then stops its servers by PID)
    // instead of hanging it.
    this.ready.catch(() => {});
    this.#child.once("exit", (code) => {
      this.#failPending?.(new Error(`load client exited with ${code}`));
    });
  }

  run(request: ClusterLoadRequest): Promise<ClusterLoadResult> {
    return new Promise((resolveRun, rejectRun) => {
      this.#pending = (r) => {
        this.#pending = undefined;
        this.#failPending = undefined;
        resolveRun(r);
      };
      this.#failPending = rejectRun;
      this.#child.send(request);
    });
  }

  close(): void {
    if (this.#child.connected) this.#child.disconnect();
  }
}

interface Round extends Driven {
  readonly clientCpuCores: number;
  readonly serverCpuCores: number;
  /** ipamd: mean time from proposal to applied on the leader, ms. */
  readonly proposeMs?: number;
  /** ipamd: calls answered per Raft log entry. */
  readonly callsPerEntry?: number;
}

interface Side {
  readonly op: ClusterLoadOp;
  readonly addresses: readonly string[];
  readonly pids: () => readonly (number | undefined)[];
  /** ipamd: the leader's metrics, for what the Raft log did in the round. */
  readonly leaderMetrics?: string;
}

/** The leader's Raft counters (bench diagnostics). */
interface RaftCounters {
  /** Sum and count of proposal → applied-on-the-leader durations, s. */
  readonly proposeSeconds: number;
  readonly proposals: number;
  /** Log entries applied. */
  readonly entries: number;
}

async function raftCounters(url: string): Promise<RaftCounters> {
  const text = await (await fetch(url)).text();
  const sum = (prefix: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(prefix))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  return {
    proposeSeconds: sum('ipamd_raft_proposal_duration_seconds_sum{result="ok"}'),
    proposals: sum('ipamd_raft_proposal_duration_seconds_count{result="ok"}'),
    entries: sum("ipamd_raft_applied_entries_total"),
  };
}

let tagSeq = 0;

/** One round: `concurrency` calls in flight, split over the load processes. */
async function runRound(
  procs: readonly LoadProcess[],
  side: Side,
  concurrency: number,
  valueBytes: number,
): Promise<Round> {
  const used = procs.slice(0, Math.min(procs.length, concurrency));
  const per = concurrency / used.length;
  const pids = side.pids();
  const serverBefore = pids.reduce<number>((sum, pid) => sum + processCpuMs(pid), 0);
  const tag = `${randomBytes(3).toString("hex")}-${tagSeq++}`;
  const raftBefore =
    side.leaderMetrics === undefined ? undefined : await raftCounters(side.leaderMetrics);
  const started = performance.now();
  const results = await Promise.all(
    used.map((p, i) =>
      p.run({
        op: side.op,
        addresses: side.addresses,
        concurrency: per,
        firstWorker: i * per,
        runMs: RUN_MS,
        tag: `${tag}p${i}`,
        valueBytes,
      }),
    ),
  );
  const wallMs = performance.now() - started;
  const serverMs = pids.reduce<number>((sum, pid) => sum + processCpuMs(pid), 0) - serverBefore;
  const raftAfter =
    side.leaderMetrics === undefined ? undefined : await raftCounters(side.leaderMetrics);
  const calls = results.reduce((sum, r) => sum + r.calls, 0);
  const errors = results.reduce((sum, r) => sum + r.errors, 0);
  if (errors > 0) {
    const first = results.find((r) => r.firstError !== undefined)?.firstError;
    console.log(`  ${side.op}: ${errors} failed calls (retried), first: ${first}`);
  }
  const raft =
    raftBefore === undefined || raftAfter === undefined
      ? {}
      : {
          proposeMs:
            (1000 * (raftAfter.proposeSeconds - raftBefore.proposeSeconds)) /
            Math.max(1, raftAfter.proposals - raftBefore.proposals),
          callsPerEntry: calls / Math.max(1, raftAfter.entries - raftBefore.entries),
        };
  return {
    ...raft,
    rate: results.reduce((sum, r) => sum + r.calls / (r.elapsedMs / 1000), 0),
    latencies: results.flatMap((r) => r.latencies),
    clientCpuCores: results.reduce((sum, r) => sum + r.cpuMs, 0) / wallMs,
    serverCpuCores: serverMs / wallMs,
  };
}

type Row = BenchRow & {
  readonly clientCpuCores?: number;
  readonly serverCpuCores?: number;
  /** ipamd: mean proposal → applied on the leader (ms) and calls per log entry (medians). */
  readonly proposeMs?: number;
  readonly callsPerEntry?: number;
};

const median = (xs: readonly number[]) =>
  Math.round(
    quantile(
      [...xs].sort((a, b) => a - b),
      0.5,
    ) * 100,
  ) / 100;

function combine(
  rounds: readonly Round[],
): Driven & { client: number; server: number; proposeMs?: number; callsPerEntry?: number } {
  const propose = rounds.flatMap((r) => (r.proposeMs === undefined ? [] : [r.proposeMs]));
  const perEntry = rounds.flatMap((r) => (r.callsPerEntry === undefined ? [] : [r.callsPerEntry]));
  return {
    ...(propose.length === 0 ? {} : { proposeMs: median(propose) }),
    ...(perEntry.length === 0 ? {} : { callsPerEntry: median(perEntry) }),
    rate: median(rounds.map((r) => r.rate)),
    rates: rounds.map((r) => r.rate),
    latencies: rounds.flatMap((r) => r.latencies),
    client: median(rounds.map((r) => r.clientCpuCores)),
    server: median(rounds.map((r) => r.serverCpuCores)),
  };
}

interface Server {
  readonly id: string;
  readonly address: string;
  /** Its Prometheus endpoint. */
  readonly metricsUrl: string;
  readonly proc: IpamdProcess;
  readonly client: ClusterClient;
}

interface Group {
  readonly servers: readonly Server[];
  readonly leader: Server;
}

/** Three servers (ids `${prefix}1..3`) with 64 registered nodes; resolves once they have a leader. */
async function startGroup(
  prefix: string,
  dir: string,
  topology: string,
  options: SpawnOptions,
): Promise<Group> {
  const servers: Server[] = [];
  for (const id of [1, 2, 3].map((n) => `${prefix}${n}`)) {
    const address = `127.0.0.1:${await freePort()}`;
    const metrics = `127.0.0.1:${await freePort()}`;
    const first = servers[0]?.address;
    const args = ["--role", "server", "--node-id", id, "--data-dir", join(dir, id)]
      .concat(["--grpc-addr", address, "--metrics-addr", metrics, "--log-level", "warn"])
      .concat(["--election-ms", String(ELECTION_MS)])
      .concat(first === undefined ? ["--bootstrap", "--topology", topology] : ["--join", first]);
    servers.push({
      id,
      address,
      metricsUrl: `http://${metrics}/metrics`,
      proc: spawnIpamd(id, args, options),
      client: createClusterClient({ addresses: [address] }),
    });
  }
  const leaderId = await waitFor(
    "3 voters and a leader",
    async () => {
      const all = await Promise.all(servers.map((s) => s.client.getStatus({})));
      const leader = all[0]?.leaderId ?? "";
      const voters = all.every((st) => st.members.filter((m) => m.role === 1).length === 3);
      return leader !== "" && voters && all.every((st) => st.leaderId === leader)
        ? leader
        : undefined;
    },
    { timeoutMs: 120_000 },
  );
  const leader = servers.find((s) => s.id === leaderId);
  if (leader === undefined) throw new Error(`leader ${leaderId} is not one of the servers`);
  for (let w = 0; w < CONCURRENCY; w++) {
    await leader.client.registerNode({ nodeId: `bench-${w}`, torId: TOR });
  }
  return { servers, leader };
}

async function main(): Promise<void> {
  const dir = tempDir("ipamd-vs-etcd");
  const topology = benchTopology(dir);
  const nodeArgs = PROFILE_DIR === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`];
  const ours = await startGroup("s", dir, topology, { nodeArgs });
  const base =
    BASELINE_MAIN === undefined
      ? undefined
      : await startGroup("b", dir, topology, { main: BASELINE_MAIN });
  const etcd: EtcdCluster = await startEtcdCluster(3);
  const etcdLeader = await etcd.leader();

  // The PUT's value makes its request as long as ipamd's one-address AllocateDirect request.
  const sampleKey = `/bench/${"x".repeat(6)}-${tagSeq}-0p0-0-0`;
  const adBytes = toBinary(
    AllocateDirectRequestSchema,
    create(AllocateDirectRequestSchema, {
      items: [
        {
          network: "bench",
          containerId: sampleKey,
          nodeId: "bench-10",
          purpose: "management",
          family: Family.IPV6,
        },
      ],
    }),
  ).byteLength;
  const putOverhead = toBinary(
    PutRequestSchema,
    create(PutRequestSchema, { key: Buffer.from(sampleKey), value: new Uint8Array(1) }),
  ).byteLength;
  const valueBytes = Math.max(1, adBytes - putOverhead + 1);

  const procs = Array.from({ length: PROCS }, () => new LoadProcess());
  await Promise.all(procs.map((p) => p.ready));

  const etcdPids = () => etcd.members.map((m) => m.proc.pid);
  const etcdAll = etcd.members.map((m) => m.endpoint);
  /** The sides driven in each round: etcd first (the baseline), then ours, then main's build. */
  const groups = [
    { name: "ipamd", group: ours },
    ...(base === undefined ? [] : [{ name: "ipamd baseline build", group: base }]),
  ];
  const ops: [ClusterLoadOp, string][] = (
    [
      ["allocate-direct", "AllocateDirect (1 address)"],
      ["lease-block", "LeaseBlock"],
      ["get-status", "GetStatus (no Raft: the RPC stack alone)"],
    ] as [ClusterLoadOp, string][]
  ).filter(([op]) => ONLY === undefined || op === ONLY);

  const rows: Row[] = [];
  for (const [op, opName] of ops) {
    for (const concurrency of CLIENTS) {
      for (const spread of [false, true]) {
        if (concurrency === 1 && spread) continue;
        if (SPREAD !== undefined && spread !== (SPREAD === "1")) continue;
        const where = spread ? "spread over 3 servers" : "to the leader";
        const addressesOf = (g: Group) =>
          spread ? g.servers.map((s) => s.address) : [g.leader.address];
        const etcdRounds: Round[] = [];
        const rounds: Round[][] = groups.map(() => []);
        for (let round = 0; round < ROUNDS; round++) {
          etcdRounds.push(
            await runRound(
              procs,
              {
                op: "etcd-put",
                addresses: spread ? etcdAll : [etcdLeader.endpoint],
                pids: etcdPids,
              },
              concurrency,
              valueBytes,
            ),
          );
          for (const [k, { group }] of groups.entries()) {
            rounds[k]?.push(
              await runRound(
                procs,
                {
                  op,
                  addresses: addressesOf(group),
                  pids: () => group.servers.map((s) => s.proc.pid),
                  leaderMetrics: group.leader.metricsUrl,
                },
                concurrency,
                valueBytes,
              ),
            );
          }
        }
        const label = `${concurrency} client${concurrency === 1 ? "" : "s"} ${where}`;
        const e = combine(etcdRounds);
        const etcdRows = runRows(
          `cluster-vs-etcd etcd: PUT (${valueBytes} B value) for ${opName}, ${label}`,
          "writes/s",
          e,
        );
        rows.push(
          { ...etcdRows.rate, clientCpuCores: e.client, serverCpuCores: e.server },
          etcdRows.latency,
        );
        const line = [`${opName}, ${label} (load ${loadavg()[0]?.toFixed(1)}):`];
        line.push(`etcd ${Math.round(e.rate)}/s (clients ${e.client} cores, servers ${e.server})`);
        for (const [k, { name }] of groups.entries()) {
          const m = combine(rounds[k] ?? []);
          const r = runRows(`cluster-vs-etcd ${name}: ${opName}, ${label}`, "writes/s", m, {
            baseline: etcdRows,
          });
          const diag = {
            ...(m.proposeMs === undefined ? {} : { proposeMs: m.proposeMs }),
            ...(m.callsPerEntry === undefined ? {} : { callsPerEntry: m.callsPerEntry }),
          };
          rows.push(
            { ...r.rate, clientCpuCores: m.client, serverCpuCores: m.server, ...diag },
            r.latency,
          );
          line.push(
            `${name} ${Math.round(m.rate)}/s = ${r.rate.ratio}x etcd (clients ${m.client}, servers ${m.server}; ` +
              `p50 ${r.latency.p50} ms, leader propose→apply ${m.proposeMs} ms, ${m.callsPerEntry} calls/entry)`,
          );
        }
        console.log(line.join("; "));
      }
    }
  }
  for (const p of procs) p.close();
  const everyServer = groups.flatMap((g) => g.group.servers);
  for (const s of everyServer) s.client.close();
  if (PROFILE_DIR !== undefined) {
    // --cpu-prof writes at a clean exit only.
    for (const s of ours.servers) s.proc.kill("SIGTERM");
    await Promise.all(ours.servers.map((s) => s.proc.exited()));
    console.log(
      `profiles in ${PROFILE_DIR} (leader: ${ours.leader.id}, pid ${ours.leader.proc.pid})`,
    );
  }
  const path = writeBenchResults(ROOT, "cluster-vs-etcd", rows);
  printTable(rows);
  console.log(`written to ${path}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of children) if (c.connected) c.disconnect();
    await killAll();
    await killAllEtcd();
  });
