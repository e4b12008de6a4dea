// The two cluster stores side by side, in one run on this machine: three `ipamd --role server`
// forming ipamd's own Raft group, and three `ipamd --role server --cluster-store etcd` on a real
// three-member etcd cluster (Debian's etcd-server), all on loopback with durable storage.
// Measured through the Cluster API: LeaseBlock and direct-mode AllocateDirect per second at 1
// and 64 concurrent clients (rounds alternate between the stores so both meet the same load),
// and the time from SIGKILL of the leader (the Raft leader; the etcd leader) to the first
// accepted write, >= 10 kills each. The independent ceiling of the etcd store runs in the same
// rounds: raw create-only etcd transactions (a new key + the head key, the write ipamd makes per
// log entry) from this process straight to the same etcd cluster. Every row carries
// os.loadavg(); the etcd store's rows carry their ratio against raw etcd (`ratio`) and against
// the Raft store (`raftRatio`). Writes
// bench-results/cluster-store.json.
import { randomBytes } from "node:crypto";
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
import { EtcdClient } from "../src/etcd/etcd-client.js";
import { bytes } from "../src/etcd/etcd-keys.js";
import { Compare_CompareResult, Compare_CompareTarget } from "../src/gen/etcdserverpb/rpc_pb.js";
import { type EtcdCluster, killAllEtcd, startEtcdCluster } from "../test/helpers/etcd.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  spawnIpamd,
  tempDir,
  waitFor,
} from "../test/helpers/processes.js";
import { combineRounds, type Driven, drive, runRows } from "./drive.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const KILLS = Math.max(10, Number(process.env.BENCH_KILLS ?? 10));
const ELECTION_MS = 1000;
const TOR = "tor-a1-1";

interface Server {
  readonly id: string;
  readonly address: string;
  proc: IpamdProcess;
}

interface Store {
  readonly name: "raft" | "etcd";
  readonly servers: Server[];
  /** Waits until the store serves writes again after a restart. */
  healthy(): Promise<void>;
  /** Kills the store's leader by PID; returns a restart function. */
  killLeader(): Promise<() => void>;
  /** Any-server client for the failover writes. */
  readonly any: ClusterClient;
  /** etcd's client endpoints (etcd store only). */
  readonly etcdEndpoints?: readonly string[];
}

/** Runs each side in turns, `rounds` times (a b c a b c ...): one combined run per side. */
async function alternateAll(rounds: number, sides: (() => Promise<Driven>)[]): Promise<Driven[]> {
  const runs: Driven[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [k, side] of sides.entries()) runs[k]?.push(await side());
  }
  return runs.map(combineRounds);
}

/** A row (with os.loadavg() from summarize); the etcd store's carry their ratio to Raft's. */
type Row = BenchRow & { readonly raftRatio?: number | undefined; readonly max?: number };

const clients: ClusterClient[] = [];
let rawClient: EtcdClient | undefined;
function client(addresses: readonly string[], deadlineMs = 30_000): ClusterClient {
  const c = createClusterClient({ addresses, deadlineMs });
  clients.push(c);
  return c;
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

const serverArgs = (id: string, address: string, dir: string, extra: readonly string[]) => [
  "--role",
  "server",
  "--node-id",
  id,
  "--data-dir",
  join(dir, id),
  "--grpc-addr",
  address,
  "--metrics-addr",
  "off",
  "--log-level",
  "warn",
  "--log-format",
  "json",
  ...extra,
];

async function startRaft(dir: string, topology: string): Promise<Store> {
  const servers: Server[] = [];
  for (const id of ["r1", "r2", "r3"]) {
    const address = `127.0.0.1:${await freePort()}`;
    const first = servers[0]?.address;
    const extra = [
      "--election-ms",
      String(ELECTION_MS),
      ...(first === undefined ? ["--bootstrap", "--topology", topology] : ["--join", first]),
    ];
    servers.push({ id, address, proc: spawnIpamd(id, serverArgs(id, address, dir, extra)) });
  }
  const each = servers.map((s) => client([s.address], 5000));
  const leader = async () =>
    waitFor(
      "a Raft leader and three voters",
      async () => {
        const all = await Promise.all(each.map((c) => c.getStatus({}, { deadlineMs: 2000 })));
        const id = all[0]?.leaderId ?? "";
        const ok = id !== "" && all.every((st) => st.leaderId === id && st.members.length === 3);
        return ok ? (servers.find((s) => s.id === id) as Server) : undefined;
      },
      { timeoutMs: 120_000 },
    );
  await leader();
  return {
    name: "raft",
    servers,
    any: client(
      servers.map((s) => s.address),
      2000,
    ),
    healthy: async () => {
      await leader();
    },
    killLeader: async () => {
      const victim = await leader();
      victim.proc.kill("SIGKILL");
      await victim.proc.exited();
      return () => {
        victim.proc = spawnIpamd(`${victim.id}'`, victim.proc.args);
      };
    },
  };
}

async function startEtcdStore(dir: string, topology: string): Promise<Store> {
  const etcd: EtcdCluster = await startEtcdCluster(3, {
    extraArgs: ["--election-timeout", String(ELECTION_MS)],
  });
  const prefix = `/ipamd-bench/${randomBytes(4).toString("hex")}`;
  const servers: Server[] = [];
  for (const id of ["e1", "e2", "e3"]) {
    const address = `127.0.0.1:${await freePort()}`;
    const extra = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
      "--topology",
      topology,
    ];
    servers.push({ id, address, proc: spawnIpamd(id, serverArgs(id, address, dir, extra)) });
  }
  const each = servers.map((s) => client([s.address], 5000));
  await waitFor(
    "the etcd-backed servers to serve the bench topology",
    async () => {
      const t = await Promise.all(each.map((c) => c.getTopology({}, { deadlineMs: 2000 })));
      return t.every((x) => x.topologyJson.includes("fd99:0:0:2::/104")) ? true : undefined;
    },
    { timeoutMs: 120_000 },
  );
  return {
    name: "etcd",
    servers,
    any: client(
      servers.map((s) => s.address),
      2000,
    ),
    etcdEndpoints: etcd.members.map((m) => m.endpoint),
    healthy: () => etcd.healthy(),
    killLeader: async () => {
      const victim = await etcd.leader();
      await victim.kill("SIGKILL");
      return () => victim.restart();
    },
  };
}

async function main(): Promise<void> {
  const dir = tempDir("ipamd-store-bench");
  const topology = benchTopology(dir);
  const raft = await startRaft(dir, topology);
  const etcd = await startEtcdStore(dir, topology);
  // Raft's clients go to the leader (its best case: no forwarding); etcd's workers are spread
  // over the three servers (every one of them writes to etcd itself).
  const etcdClients = etcd.servers.map((s) => client([s.address]));
  const raftLeader = async () => {
    const st = await raft.any.getLeader({});
    return client([st.leaderAddress]);
  };
  for (const store of [raft, etcd]) {
    for (let w = 0; w < 64; w++)
      await store.any.registerNode({ nodeId: `bench-${w}`, torId: TOR }, { deadlineMs: 30_000 });
  }
  // Raw etcd: the create-only transaction ipamd writes per log entry, with a value the size of
  // one LeaseBlock entry, from this process on one connection.
  const raw = new EtcdClient({ endpoints: etcd.etcdEndpoints ?? [] });
  rawClient = raw;
  const rawPrefix = `/bench-raw/${randomBytes(4).toString("hex")}`;
  const rawValue = randomBytes(160);
  const rawPut = async () => {
    const key = bytes(`${rawPrefix}/log/${randomBytes(12).toString("hex")}`);
    await raw.txn({
      compare: [
        {
          key,
          target: Compare_CompareTarget.CREATE,
          result: Compare_CompareResult.EQUAL,
          targetUnion: { case: "createRevision", value: 0n },
        },
      ],
      success: [
        { request: { case: "requestPut", value: { key, value: rawValue } } },
        { request: { case: "requestPut", value: { key: bytes(`${rawPrefix}/head`), value: key } } },
      ],
    });
  };
  const rows: Row[] = [];
  let seq = 0;
  const ops = {
    LeaseBlock: async (c: ClusterClient, w: number) => {
      await c.leaseBlock({
        nodeId: `bench-${w}`,
        purpose: "default",
        family: Family.IPV6,
        requestId: `b-${seq++}`,
      });
    },
    "AllocateDirect (direct mode, 1 address)": async (c: ClusterClient, w: number) => {
      const r = await c.allocateDirect({
        items: [
          {
            network: "bench",
            containerId: `d-${seq++}`,
            nodeId: `bench-${w}`,
            purpose: "management",
            family: Family.IPV6,
          },
        ],
      });
      if (r.results[0]?.result.case !== "address")
        throw new Error(`AllocateDirect: ${JSON.stringify(r.results[0]?.result.value)}`);
    },
  } as const;
  for (const [op, run] of Object.entries(ops)) {
    for (const concurrency of [1, 64]) {
      const raftClients = [await raftLeader()];
      const runOn = (cs: ClusterClient[]) => (): Promise<Driven> =>
        drive(concurrency, RUN_MS, (w) => run(cs[w % cs.length] as ClusterClient, w));
      const [r, e, x] = (await alternateAll(ROUNDS, [
        runOn(raftClients),
        runOn(etcdClients),
        () => drive(concurrency, RUN_MS, rawPut),
      ])) as [Driven, Driven, Driven];
      const label = `${concurrency} client${concurrency === 1 ? "" : "s"}`;
      const base = runRows(`cluster-store raft: ${op}, ${label}`, "writes/s", r);
      const ceiling = runRows(
        `cluster-store raw etcd: create-only txn (key + head) for ${op}, ${label}`,
        "writes/s",
        x,
      );
      const mine = runRows(`cluster-store etcd: ${op}, ${label}`, "writes/s", e, {
        baseline: ceiling,
      });
      const vsRaft = runRows(mine.rate.name, "writes/s", e, { baseline: base });
      rows.push(
        base.rate,
        base.latency,
        ceiling.rate,
        ceiling.latency,
        { ...mine.rate, raftRatio: vsRaft.rate.ratio } satisfies Row,
        { ...mine.latency, raftRatio: vsRaft.latency.ratio } satisfies Row,
      );
      console.log(
        `${op}, ${label}: raft ${Math.round(r.rate)}/s, etcd store ${Math.round(e.rate)}/s, raw etcd ${Math.round(x.rate)}/s (load ${loadavg()[0]?.toFixed(1)})`,
      );
    }
  }

  // Leader kills: SIGKILL, then write (RegisterNode through any server, short deadlines) until
  // one is accepted; restart the killed process and wait until the store is whole again.
  const kills: Record<"raft" | "etcd", number[]> = { raft: [], etcd: [] };
  for (let n = 0; n < KILLS; n++) {
    for (const store of [raft, etcd]) {
      const restart = await store.killLeader();
      const at = performance.now();
      for (;;) {
        try {
          await store.any.registerNode({ nodeId: `kill-${n}`, torId: TOR }, { deadlineMs: 1000 });
          break;
        } catch {
          if (performance.now() - at > 60_000)
            throw new Error(`${store.name}: no write within 60 s of the kill`);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      kills[store.name].push(performance.now() - at);
      restart();
      await store.healthy();
    }
    console.log(
      `kill ${n + 1}/${KILLS}: raft ${Math.round(kills.raft.at(-1) ?? 0)} ms, etcd ${Math.round(kills.etcd.at(-1) ?? 0)} ms`,
    );
  }
  const raftKill = summarize(
    `cluster-store raft: Raft leader SIGKILL → first accepted write (election ${ELECTION_MS} ms)`,
    "ms",
    kills.raft,
  );
  const etcdKill = withBaseline(
    summarize(
      `cluster-store etcd: etcd leader SIGKILL → first accepted write (election ${ELECTION_MS} ms)`,
      "ms",
      kills.etcd,
    ),
    raftKill,
  );
  const max = (xs: number[]) => Math.round(Math.max(...xs));
  rows.push(
    { ...raftKill, max: max(kills.raft) } satisfies Row,
    { ...etcdKill, max: max(kills.etcd) } satisfies Row,
  );
  const path = writeBenchResults(ROOT, "cluster-store", rows);
  printTable(rows);
  console.log(`written to ${path}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of clients) c.close();
    rawClient?.close();
    await killAll();
    await killAllEtcd();
  });
