// The cluster stores the behavioural suite runs against (test/cluster-behaviour.process.test.ts):
// each provider starts real processes on loopback and hands the suite a fixture that does not
// say which store it is, except through `store` for the few answers that differ by design.
// Add a provider here and every behaviour of the suite runs against it too.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  type IpamClient,
  ReadyState,
} from "@ipam/grpc-server";
import { killAllEtcd, startEtcdCluster } from "./etcd.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./processes.js";

/** An agent started by a fixture. */
export interface FixtureAgent {
  readonly id: string;
  readonly ipam: IpamClient;
  readonly proc: IpamdProcess;
}

/** A running cluster: two L1 servers on one store, the example topology applied. */
export interface ClusterFixture {
  /** Which store holds the state (for the answers that differ by design: GetStatus, membership). */
  readonly store: "raft" | "etcd";
  /** A Cluster API client that knows every server. */
  readonly client: ClusterClient;
  /** One client per server, in order. */
  readonly perServer: readonly ClusterClient[];
  /** Every process of the fixture (for failure messages). */
  readonly processes: IpamdProcess[];
  /** Starts `ipamd --role agent` for `nodeId` under `tor` against every server; waits until ready. */
  agent(nodeId: string, tor: string): Promise<FixtureAgent>;
  /** Kills everything it started (by PID) and closes its clients. */
  stop(): Promise<void>;
}

export interface ClusterProvider {
  readonly name: "raft" | "etcd";
  start(): Promise<ClusterFixture>;
}

const common = (id: string, address: string, root: string) => [
  "--role",
  "server",
  "--node-id",
  id,
  "--data-dir",
  join(root, id),
  "--grpc-addr",
  address,
  "--metrics-addr",
  "off",
  "--log-level",
  "info",
  "--log-format",
  "json",
];

async function fixture(
  store: "raft" | "etcd",
  root: string,
  addresses: readonly string[],
  processes: IpamdProcess[],
  cleanup: () => Promise<void>,
): Promise<ClusterFixture> {
  const clients: Array<{ close(): void }> = [];
  const client = createClusterClient({ addresses, deadlineMs: 30_000 });
  const perServer = addresses.map((a) =>
    createClusterClient({ addresses: [a], deadlineMs: 30_000 }),
  );
  clients.push(client, ...perServer);
  // Ready: every server names the same leader/controller and reads the example topology.
  await waitFor(
    `${store} servers to agree on a leader and hold the example topology`,
    async () => {
      const st = await Promise.all(perServer.map((c) => c.getStatus({}, { deadlineMs: 5000 })));
      const leader = st[0]?.leaderId ?? "";
      if (leader === "" || !st.every((s) => s.leaderId === leader)) return undefined;
      const t = await Promise.all(perServer.map((c) => c.getTopology({}, { deadlineMs: 5000 })));
      return t.every((x) => x.topologyJson.includes("tor-a1-1")) ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(processes)}`);
  });
  return {
    store,
    client,
    perServer,
    processes,
    agent: async (nodeId, tor) => {
      const dir = join(root, nodeId);
      const sock = join(dir, "ipamd.sock");
      const proc = spawnIpamd(nodeId, [
        "--role",
        "agent",
        "--servers",
        addresses.join(","),
        "--node-id",
        nodeId,
        "--tor",
        tor,
        "--data-dir",
        dir,
        "--unix-socket",
        sock,
        "--metrics-addr",
        "off",
        "--log-format",
        "json",
      ]);
      processes.push(proc);
      const ipam = createIpamClient({ addresses: [`unix:${sock}`], deadlineMs: 30_000 });
      clients.push(ipam);
      await waitFor(
        `agent ${nodeId} to be ready`,
        async () => {
          const s = await ipam.status({}, { deadlineMs: 5000 });
          return s.state === ReadyState.READY && s.reason === "" ? s : undefined;
        },
        { timeoutMs: 120_000 },
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logsOf(processes)}`);
      });
      return { id: nodeId, ipam, proc };
    },
    stop: async () => {
      for (const c of clients) c.close();
      await cleanup();
    },
  };
}

/** Two `ipamd --role server` processes forming a Raft group (one --bootstrap, one --join). */
export const raftProvider: ClusterProvider = {
  name: "raft",
  start: async () => {
    const root = tempDir("ipamd-suite-raft");
    const a1 = `127.0.0.1:${await freePort()}`;
    const a2 = `127.0.0.1:${await freePort()}`;
    const election = ["--election-ms", "1000"];
    const processes = [
      spawnIpamd("raft-s1", [...common("s1", a1, root), ...election, "--bootstrap"]),
      spawnIpamd("raft-s2", [...common("s2", a2, root), ...election, "--join", a1]),
    ];
    return fixture("raft", root, [a1, a2], processes, killAll);
  },
};

/** One real etcd member and two `ipamd --role server --cluster-store etcd` processes on a fresh prefix. */
export const etcdProvider: ClusterProvider = {
  name: "etcd",
  start: async () => {
    const root = tempDir("ipamd-suite-etcd");
    const etcd = await startEtcdCluster(1);
    const prefix = `/ipamd-test/${randomBytes(4).toString("hex")}`;
    const a1 = `127.0.0.1:${await freePort()}`;
    const a2 = `127.0.0.1:${await freePort()}`;
    const store = [
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
    ];
    const processes = [
      spawnIpamd("etcd-s1", [...common("s1", a1, root), ...store]),
      spawnIpamd("etcd-s2", [...common("s2", a2, root), ...store]),
    ];
    return fixture("etcd", root, [a1, a2], processes, async () => {
      await killAll();
      await killAllEtcd();
    });
  },
};

/** Every provider the behavioural suite runs against. */
export const CLUSTER_PROVIDERS: readonly ClusterProvider[] = [raftProvider, etcdProvider];
