// Three `ipamd --role server` processes on loopback (durable SQLite, one data dir each) and the
// client in this process: Cluster writes per second at 64 concurrent calls (AllocateDirect of a
// direct-mode subnet, sent to the leader and to a follower that forwards; LeaseBlock), and the
// time from SIGKILL of the leader to the first successful write, with and without a follower
// restart just before the kill. Writes bench-results/ipamd-cluster.json.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BenchRow,
  printTable,
  summarize,
  withBaseline,
  writeBenchResults,
} from "@ipam/bench-kit";
import { type ClusterClient, createClusterClient, Family } from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "../test/helpers/processes.js";
import { type Driven, drive as driveFor, type RunRows, runRows } from "./drive.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 4000);
const ELECTION_MS = Number(process.env.BENCH_ELECTION_MS ?? 1000);
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 10);
const RESTART_DOWN_MS = Number(process.env.BENCH_RESTART_DOWN_MS ?? 15000);
const RESTART_SETTLE_MS = Number(process.env.BENCH_RESTART_SETTLE_MS ?? 1000);
/** The servers' --log-level (BENCH_LOG_LEVEL); with BENCH_DUMP_OVER_MS, slow failovers print it. */
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? "warn";
/** A failover slower than this (ms) prints the survivors' last log lines to stderr. */
const DUMP_OVER_MS = Number(process.env.BENCH_DUMP_OVER_MS ?? Number.POSITIVE_INFINITY);
/** BENCH_FAILOVER_ONLY=1: only the failover rows. */
const FAILOVER_ONLY = process.env.BENCH_FAILOVER_ONLY === "1";
const CONCURRENCY = 64;
const BATCH = 16;
const TOR = "tor-a1-1";

interface Server {
  id: string;
  address: string;
  proc: IpamdProcess;
  client: ClusterClient;
}

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

async function main(): Promise<void> {
  const dir = tempDir("ipamd-cluster-bench");
  const topology = benchTopology(dir);
  const servers: Server[] = [];
  const start = async (id: string, extra: string[]) => {
    const address = `127.0.0.1:${await freePort()}`;
    const args = ["--role", "server", "--node-id", id, "--data-dir", join(dir, id)]
      .concat(["--grpc-addr", address, "--metrics-addr", "off", "--log-level", LOG_LEVEL])
      .concat(["--election-ms", String(ELECTION_MS), ...extra]);
    const s = {
      id,
      address,
      proc: spawnIpamd(id, args),
      client: createClusterClient({ addresses: [address] }),
    };
    servers.push(s);
    return s;
  };
  const s1 = await start("s1", ["--bootstrap", "--topology", topology]);
  await start("s2", ["--join", s1.address]);
  await start("s3", ["--join", s1.address]);
  const group = async () =>
    waitFor(
      "3 voters and a leader",
      async () => {
        const all = await Promise.all(servers.map((s) => s.client.getStatus({})));
        const leader = all[0]?.leaderId ?? "";
        const voters = all.every((st) => st.members.filter((m) => m.role === 1).length === 3);
        return leader !== "" && voters && all.every((st) => st.leaderId === leader)
          ? leader
          : undefined;
      },
      { timeoutMs: 60_000 },
    );
  let leaderId = await group();
  const leaderOf = () => servers.find((s) => s.id === leaderId) as Server;
  const followerOf = () => servers.find((s) => s.id !== leaderId) as Server;
  const rows: BenchRow[] = [];
  if (!FAILOVER_ONLY) {
    for (let w = 0; w < CONCURRENCY; w++) {
      await leaderOf().client.registerNode({ nodeId: `bench-${w}`, torId: TOR });
    }

    let ceiling: RunRows | undefined;
    const drive = (op: (worker: number, i: number) => Promise<void>) =>
      driveFor(CONCURRENCY, RUN_MS, op);
    // Writes are compared with the RPC ceiling (GetStatus, no Raft) measured first in the run.
    const record = (name: string, r: Driven, unit = "writes/s", scale = 1) => {
      const run = runRows(name, unit, r, {
        scale,
        ...(ceiling === undefined || scale !== 1 ? {} : { baseline: ceiling }),
      });
      rows.push(run.rate, run.latency);
      return run;
    };
    {
      // The RPC path alone (a local read, no Raft): the ceiling of this client and machine.
      const c = createClusterClient({ addresses: [leaderOf().address] });
      ceiling = record(
        `3 servers: GetStatus (no Raft, RPC ceiling) on the leader, ${CONCURRENCY} concurrent`,
        await drive(async () => {
          await c.getStatus({});
        }),
        "calls/s",
      );
      c.close();
    }
    for (const [label, target] of [
      ["leader", leaderOf()],
      ["follower (forwarded)", followerOf()],
    ] as const) {
      const c = createClusterClient({ addresses: [target.address] });
      const r = await drive(async (w, i) => {
        const res = await c.allocateDirect({
          items: [
            {
              network: "bench",
              containerId: `${label[0]}-${w}-${i}`,
              nodeId: `bench-${w}`,
              purpose: "management",
              family: Family.IPV6,
            },
          ],
        });
        if (res.results[0]?.result.case !== "address") {
          throw new Error(`AllocateDirect failed: ${JSON.stringify(res.results[0]?.result.value)}`);
        }
      });
      record(`3 servers: AllocateDirect (1 item) via the ${label}, ${CONCURRENCY} concurrent`, r);
      c.close();
    }
    {
      const c = createClusterClient({ addresses: [leaderOf().address] });
      const r = await drive(async (w, i) => {
        const res = await c.allocateDirect({
          items: Array.from({ length: BATCH }, (_, k) => ({
            network: "bench",
            containerId: `b-${w}-${i}-${k}`,
            nodeId: `bench-${w}`,
            purpose: "management",
            family: Family.IPV6,
          })),
        });
        if (!res.results.every((x) => x.result.case === "address")) {
          throw new Error("AllocateDirect batch: an item failed");
        }
      });
      record(
        `3 servers: AllocateDirect (${BATCH} items per call) via the leader, ${CONCURRENCY} concurrent`,
        r,
        "addresses/s",
        BATCH,
      );
      c.close();
    }
    {
      const c = createClusterClient({ addresses: [leaderOf().address] });
      const r = await drive(async (w, i) => {
        await c.registerNode({ nodeId: `bench-${w}`, torId: TOR, labels: { i: String(i) } });
      });
      record(`3 servers: RegisterNode via the leader, ${CONCURRENCY} concurrent`, r);
      c.close();
    }
  }

  // Failover: SIGKILL the leader, then write through the survivors until one write succeeds.
  // Two kinds of kill take turns. "After a rejoin": the group agreed on a leader and three
  // voters again after the previous kill (whose victim restarted). "Follower restarted": just
  // before the kill a follower was SIGKILLed, kept down RESTART_DOWN_MS, restarted, and the
  // leader is killed RESTART_SETTLE_MS after it answers again: the survivors' links to it had
  // to come back in time for the election (with grpc-js's default reconnect backoff, 1 s
  // growing to 120 s, they stayed down for seconds and the election waited). The first kind is
  // the same-run baseline of the second.
  const failover = async (n: number, kind: string): Promise<number> => {
    const victim = leaderOf();
    const survivors = servers.filter((s) => s !== victim);
    const c = createClusterClient({
      addresses: survivors.map((s) => s.address),
      deadlineMs: 200,
      maxAttempts: 2,
      backoff: { initialMs: 5, maxMs: 20 },
    });
    loads.push(loadavg()[0] ?? 0);
    victim.proc.kill("SIGKILL");
    const killedAt = performance.now();
    await victim.proc.exited();
    for (;;) {
      try {
        await c.registerNode({ nodeId: `failover-${kind}-${n}`, torId: TOR });
        break;
      } catch {
        if (performance.now() - killedAt > 60_000) throw new Error("no write within 60 s");
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const ms = performance.now() - killedAt;
    c.close();
    if (ms > DUMP_OVER_MS) {
      console.error(`slow failover (${Math.round(ms)} ms) after killing ${victim.id}:`);
      console.error(
        logsOf(
          survivors.map((s) => s.proc),
          60,
        ),
      );
    }
    victim.proc = spawnIpamd(`${victim.id}'`, victim.proc.args);
    leaderId = await group();
    return ms;
  };
  const restartFollower = async (): Promise<void> => {
    const follower = followerOf();
    follower.proc.kill("SIGKILL");
    await follower.proc.exited();
    await new Promise((r) => setTimeout(r, RESTART_DOWN_MS));
    follower.proc = spawnIpamd(`${follower.id}'`, follower.proc.args);
    // Back: it serves again (its Raft links may not be yet: that is the point).
    await waitFor(
      `${follower.id} to answer after its restart`,
      () => follower.client.getStatus({}, { deadlineMs: 2000 }),
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await new Promise((r) => setTimeout(r, RESTART_SETTLE_MS));
  };
  const loads: number[] = [];
  const healthy: number[] = [];
  const restarted: number[] = [];
  for (let n = 0; n < FAILOVERS; n++) {
    healthy.push(await failover(n, "rejoined"));
    await restartFollower();
    restarted.push(await failover(n, "restarted"));
    console.log(
      `failover ${n + 1}/${FAILOVERS}: after a rejoin ${Math.round(healthy[n] ?? 0)} ms, a follower restarted just before ${Math.round(restarted[n] ?? 0)} ms`,
    );
  }
  // With 10 or more kills the nearest-rank p99 is the slowest kill.
  const healthyRow = summarize(
    `3 servers: leader SIGKILL → first successful write (election ${ELECTION_MS} ms)`,
    "ms",
    healthy,
  );
  rows.push(
    healthyRow,
    withBaseline(
      summarize(
        `3 servers: leader SIGKILL → first successful write, a follower restarted ${RESTART_SETTLE_MS} ms before (down ${RESTART_DOWN_MS} ms; election ${ELECTION_MS} ms)`,
        "ms",
        restarted,
      ),
      healthyRow,
    ),
    summarize("machine load during the failovers (os.loadavg, 1 min)", "load", loads),
  );

  for (const s of servers) s.client.close();
  const path = writeBenchResults(ROOT, "ipamd-cluster", rows);
  printTable(rows);
  console.log(`written to ${path}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => killAll());
