import {
  createClusterClient,
  createClusterService,
  createIpamClient,
  createIpamService,
  type GrpcServer,
  startGrpcServer,
} from "@ipam/grpc-server";
import { toCanonicalConfig } from "@ipam/topology";
import pino, { type Logger } from "pino";
import { Agent } from "./agent/agent.js";
import { ipamHandlers } from "./agent/ipam-handlers.js";
import { runClientCommand } from "./client-commands.js";
import { clusterDataHandlers } from "./cluster/cluster-data-handlers.js";
import { singleServerStatusHandlers } from "./cluster/cluster-membership.js";
import { LocalCluster } from "./cluster/local-cluster.js";
import { runClusterCommand } from "./cluster-commands.js";
import { helpText, type IpamdConfig, loadConfig } from "./config.js";
import {
  exportClusterPool,
  exportNodePool,
  exportRaft,
  onStopSignals,
  openDaemonStore,
  raftMetricHooks,
  startMetricsEndpoint,
  VERSION,
} from "./daemon-kit.js";
import { IpamdError } from "./ipamd-error.js";
import { runAgent } from "./role-agent.js";
import { runServer } from "./role-server.js";
import { loadTopology, watchTopology } from "./topology-file.js";

/** Runs the daemon until a signal; resolves with the exit code. */
export async function runDaemon(config: IpamdConfig, log: Logger): Promise<number> {
  if (config.role === "agent") return runAgent(config, log);
  if (config.role === "server") return runServer(config, log);
  if (config.role !== "all") {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `--role: ${config.role} is not implemented yet (use all)`,
    );
  }
  const { store, metrics } = openDaemonStore(config, log);
  const cluster = new LocalCluster({
    nodeId: config.nodeId,
    store,
    electionMs: config.electionMs,
    logger: log,
    hooks: raftMetricHooks(metrics),
  });
  await cluster.start();
  const topology = loadTopology(config.topology);
  const now = Date.now();
  await cluster.execute({ type: "apply-topology", at: now, config: toCanonicalConfig(topology) });
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
  await agent.start();
  agent.startMaintenance(1000);

  const handlers = ipamHandlers(agent, metrics);
  exportClusterPool(metrics, cluster.state);
  exportNodePool(metrics, agent);
  exportRaft(metrics, () => cluster.raft.status());
  metrics.setAgentSource(() => ({
    leaderReachable: cluster.available(),
    quorumAvailable: cluster.available(),
  }));
  const metricsServer = await startMetricsEndpoint(config, metrics, () => agent.readiness(), log);
  const onCall = (method: string, code: string, seconds: number) =>
    metrics.observeGrpcRequest(method, code as never, seconds);
  const servers: GrpcServer[] = [];
  servers.push(
    await startGrpcServer({
      unixSocket: { path: config.unixSocket },
      services: [createIpamService(handlers)],
      onCall,
    }),
  );
  let tcpPort = config.grpcAddr.port;
  const tcp = await startGrpcServer({
    tcp: { host: config.grpcAddr.host, port: config.grpcAddr.port, insecure: config.insecure },
    services: [
      createClusterService({
        ...clusterDataHandlers(cluster),
        ...singleServerStatusHandlers(cluster.raft, () => `${config.grpcAddr.host}:${tcpPort}`),
      }),
      createIpamService(handlers),
    ],
    onCall,
  });
  servers.push(tcp);
  tcpPort = tcp.tcpPort ?? tcpPort;
  log.info(
    { unixSocket: config.unixSocket, grpc: `${config.grpcAddr.host}:${tcp.tcpPort}`, tor },
    `ready: Ipam API on unix:${config.unixSocket}; try: ipamd allocate --unix-socket ${config.unixSocket} --network default --container demo`,
  );

  const topologyReload = watchTopology({ path: config.topology, cluster, log });

  return await onStopSignals(log, async () => {
    agent.stop();
    await Promise.all([topologyReload.stop(), ...servers.map((s) => s.shutdown(5000))]);
    await cluster.stop();
    await metricsServer?.close();
    store.close();
    log.info("stopped");
    return 0;
  }).done;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText());
    return 0;
  }
  if (argv.includes("--version")) {
    process.stdout.write(`ipamd ${VERSION}\n`);
    return 0;
  }
  const [first] = argv;
  if (first === "cluster") return runClusterCommand(argv.slice(1), createClusterClient);
  if (first === "allocate" || first === "release" || first === "status") {
    return runClientCommand(first, argv.slice(1), createIpamClient);
  }
  let config: IpamdConfig;
  try {
    config = loadConfig({ argv, env: process.env });
  } catch (err) {
    process.stderr.write(`ipamd: ${(err as Error).message}\n`);
    return 2;
  }
  const log = pino(
    { level: config.logLevel, base: { node: config.nodeId } },
    pino.destination({ dest: 2, sync: true }),
  );
  try {
    return await runDaemon(config, log);
  } catch (err) {
    log.fatal({ err }, (err as Error).message);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ipamd: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
