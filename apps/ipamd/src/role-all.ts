import { basename, resolve } from "node:path";
import {
  createClusterService,
  createIpamService,
  type GrpcServer,
  startGrpcServer,
  type TlsOptions,
} from "@ipam/grpc-server";
import type { MetricsServer } from "@ipam/metrics";
import type { Store } from "@ipam/store";
import { type Topology, toCanonicalConfig } from "@ipam/topology";
import type { Logger } from "pino";
import { Agent } from "./agent/agent.js";
import { ipamHandlers } from "./agent/ipam-handlers.js";
import { clusterDataHandlers } from "./cluster/cluster-data-handlers.js";
import { singleServerStatusHandlers, takeSnapshotHandler } from "./cluster/cluster-membership.js";
import type { EtcdCluster } from "./cluster/etcd-cluster.js";
import { etcdStatusHandlers } from "./cluster/etcd-status-handlers.js";
import { LocalCluster } from "./cluster/local-cluster.js";
import type { IpamdConfig } from "./config.js";
import {
  authorized,
  exportAgent,
  exportClusterPool,
  exportRaft,
  grpcCallObserver,
  listenerAuthorization,
  listenerTls,
  onStopSignals,
  openDaemonStore,
  raftMetricHooks,
  startMetricsEndpoint,
  warnIfCleartext,
} from "./daemon-kit.js";
import { grpcRefusalObserver } from "./grpc-hooks.js";
import { exportForecast } from "./history/forecast-metric.js";
import { HistoryArchive, pruneIntervalMs } from "./history/history-archive.js";
import { historyHandlers } from "./history/history-handlers.js";
import { JournalShipper } from "./history/journal-shipper.js";
import { IpamdError } from "./ipamd-error.js";
import { HISTORY_SHIP_MS } from "./role-agent.js";
import { etcdClusterOf } from "./role-server-etcd.js";
import { StartScope } from "./start-scope.js";
import { loadTopology, type TopologyReload, watchTopology } from "./topology-file.js";

/** `s` as one POSIX shell word: unchanged when it needs no quoting, else single-quoted. */
function shellWord(s: string): string {
  return /^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * How to run this executable again, as a shell command that works from any folder: `ipamd`
 * when it was started through an `ipamd` link on the PATH, else `node /absolute/path/main.js`.
 */
function selfCommand(): string {
  const script = process.argv[1] ?? "";
  if (basename(script) === "ipamd") return "ipamd";
  return `node ${shellWord(resolve(script))}`;
}

/**
 * `ipamd` (role all, the default): L1 and L2 in one process. A single-voter Raft group on the
 * local store (LocalCluster), the topology file proposed and registered, the Agent, the Ipam API
 * on the unix socket, the Cluster and Ipam APIs on TCP, metrics; until SIGTERM/SIGINT.
 * Resolves with the exit code.
 */
export async function runAll(config: IpamdConfig, log: Logger): Promise<number> {
  // Read before anything opens: a bad file or flag ends the start with nothing to close.
  const topology = loadTopology(config.topology);
  const tls = listenerTls(config);
  warnIfCleartext(config, log);
  const scope = new StartScope(log);
  let running: RunningAll;
  try {
    running = await startAll(config, log, topology, tls.server, scope);
  } catch (err) {
    await scope.close();
    throw err;
  }
  const { agent, cluster, servers, metricsServer, store, topologyReload, shipper, archive } =
    running;
  return await onStopSignals(log, async () => {
    agent.stop();
    await shipper.stop();
    archive.stop();
    await Promise.all([topologyReload.stop(), ...servers.map((s) => s.shutdown(5000))]);
    await cluster.stop();
    await metricsServer?.close();
    store.close();
    log.info("stopped");
    return 0;
  }).done;
}

/** What {@link startAll} opened and the stop closes. */
interface RunningAll {
  readonly store: Store;
  readonly cluster: LocalCluster | EtcdCluster;
  readonly agent: Agent;
  readonly servers: readonly GrpcServer[];
  readonly metricsServer: MetricsServer | undefined;
  readonly topologyReload: TopologyReload;
  readonly shipper: JournalShipper;
  readonly archive: HistoryArchive;
}

/**
 * Opens role all's parts in order, each registered in `scope` as it opens so that a failure
 * closes what was opened. Readiness says ready only once every listener accepts.
 */
async function startAll(
  config: IpamdConfig,
  log: Logger,
  topology: Topology,
  tls: TlsOptions | undefined,
  scope: StartScope,
): Promise<RunningAll> {
  const { store, metrics } = openDaemonStore(config, log);
  scope.add("store", () => store.close());
  let cluster: LocalCluster | EtcdCluster;
  let applyTopology = true;
  if (config.clusterStore === "etcd") {
    // L1 in etcd (shared with any other server on the same --etcd-prefix), L2 here.
    const etcd = etcdClusterOf(config, log);
    cluster = etcd;
    scope.add("etcd cluster", () => etcd.stop());
    await etcd.start(config.advertiseAddr ?? `${config.grpcAddr.host}:${config.grpcAddr.port}`);
    // Without --topology only an empty state gets the built-in example.
    applyTopology = config.topology !== undefined || etcd.state.topology().subnets.size === 0;
  } else {
    const local = new LocalCluster({
      nodeId: config.nodeId,
      store,
      electionMs: config.electionMs,
      logger: log,
      hooks: raftMetricHooks(metrics),
    });
    cluster = local;
    scope.add("raft", () => local.stop());
    await local.start();
  }
  const now = Date.now();
  if (applyTopology) {
    await cluster.execute({
      type: "apply-topology",
      at: now,
      config: toCanonicalConfig(topology),
      source: "file",
    });
  }
  const tor = config.tor ?? [...topology.tors.keys()][0];
  if (tor === undefined)
    throw new IpamdError("INVALID_ARGUMENT", "--topology: has no TOR to attach this node to");
  if (!topology.tors.has(tor))
    throw new IpamdError("INVALID_ARGUMENT", `--tor: ${tor} is not a TOR of the topology`);
  const registered = cluster.state.node(config.nodeId);
  if (registered === undefined || registered.node.tor !== tor) {
    await cluster.execute({
      type: "register-node",
      at: now,
      node: config.nodeId,
      tor,
      ...(Object.keys(config.nodeLabels).length === 0 ? {} : { labels: config.nodeLabels }),
    });
  }
  const agent = new Agent({
    nodeId: config.nodeId,
    store,
    cluster,
    logger: log,
    preallocateThreshold: config.preallocateThreshold,
    metrics,
  });
  scope.add("agent", () => agent.stop());
  await agent.start();
  agent.startMaintenance(1000);

  // The address history: this node's journal goes to the archive in the same file, which answers
  // AddressHistory and Forecast as a server's would (docs/ipamd.md "Address history").
  const archive = new HistoryArchive({
    history: store.addressHistory(),
    retentionMs: config.historyRetentionMs,
    logger: log,
  });
  archive.startPruning(pruneIntervalMs(config.historyRetentionMs));
  scope.add("history archive", () => archive.stop());
  const shipper = new JournalShipper({
    nodeId: config.nodeId,
    history: store.addressHistory(),
    targets: () => [
      { name: "local", send: async (node, journal, events) => archive.put(node, journal, events) },
    ],
    retentionMs: config.historyRetentionMs,
    logger: log,
  });
  shipper.start(HISTORY_SHIP_MS);
  scope.add("history shipper", () => shipper.stop());
  exportForecast(metrics, archive, cluster, () => true);

  const handlers = ipamHandlers(agent, metrics);
  exportClusterPool(metrics, cluster.state, { agent, reports: cluster.reports });
  exportAgent(metrics, agent, cluster);
  if (cluster instanceof LocalCluster) {
    const raft = cluster.raft;
    exportRaft(metrics, () => raft.status());
  }
  const metricsServer = await startMetricsEndpoint(
    config,
    metrics,
    scope.gate(() => agent.readiness()),
    log,
  );
  if (metricsServer !== undefined) scope.add("metrics endpoint", () => metricsServer.close());
  const onCall = grpcCallObserver(metrics);
  const onRefused = grpcRefusalObserver(metrics, log);
  const servers: GrpcServer[] = [];
  const unix = await startGrpcServer({
    unixSocket: { path: config.unixSocket },
    services: [createIpamService(handlers)],
    onCall,
    onRefused,
  });
  scope.add("unix socket listener", () => unix.shutdown(1000));
  servers.push(unix);
  let tcpPort = config.grpcAddr.port;
  const tcp = await startGrpcServer({
    tcp: {
      host: config.grpcAddr.host,
      port: config.grpcAddr.port,
      insecure: config.insecure,
      ...(tls === undefined ? {} : { tls }),
    },
    services: [
      createClusterService({
        ...clusterDataHandlers(cluster, { log }),
        ...historyHandlers({ archive, cluster, serverId: config.nodeId }),
        ...(cluster instanceof LocalCluster
          ? {
              ...singleServerStatusHandlers(
                cluster.raft,
                () => `${config.grpcAddr.host}:${tcpPort}`,
              ),
              ...takeSnapshotHandler(() => cluster.raft),
            }
          : etcdStatusHandlers(cluster)),
      }),
      createIpamService(handlers),
    ],
    onCall,
    onRefused,
    ...authorized(listenerAuthorization(config, tls, metrics, log, () => cluster.state)),
  });
  scope.add("TCP listener", () => tcp.shutdown(1000));
  servers.push(tcp);
  tcpPort = tcp.tcpPort ?? tcpPort;
  scope.markListening();
  log.info(
    {
      unixSocket: config.unixSocket,
      grpc: `${config.grpcAddr.host}:${tcp.tcpPort}`,
      tls: tls === undefined ? "off" : tls.requireClientCert === true ? "mutual" : "server",
      tor,
    },
    `ready: Ipam API on unix:${config.unixSocket}; try: ${selfCommand()} allocate --unix-socket ${shellWord(config.unixSocket)} --network default --container demo`,
  );

  const topologyReload = watchTopology({ path: config.topology, cluster, log });
  return { store, cluster, agent, servers, metricsServer, topologyReload, shipper, archive };
}
