import {
  createClusterService,
  type GrpcServer,
  type GrpcServerOptions,
  startGrpcServer,
  type TlsOptions,
} from "@ipam/grpc-server";
import type { IpamMetrics, MetricsServer } from "@ipam/metrics";
import type { ClusterState } from "@ipam/subnet-pool";
import type { Logger } from "pino";
import { clusterDataHandlers } from "./cluster/cluster-data-handlers.js";
import { forwardWrites, membershipHandlers } from "./cluster/cluster-membership.js";
import { RaftCluster } from "./cluster/raft-cluster.js";
import { copyBackupIntoDataDir } from "./cluster/restore-cluster.js";
import type { IpamdConfig } from "./config.js";
import {
  authorized,
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
import { IpamdError } from "./ipamd-error.js";
import { startServerKubernetes } from "./kubernetes/server-kubernetes.js";
import { StartScope } from "./start-scope.js";
import { loadTopology, watchTopology } from "./topology-file.js";

const WILDCARD_HOSTS: ReadonlySet<string> = new Set(["0.0.0.0", "::", "[::]", ""]);

/** The address peers and agents dial: --advertise-addr, else the bound --grpc-addr. */
export function advertiseAddress(config: IpamdConfig, boundPort: number): string {
  if (config.advertiseAddr !== undefined) return config.advertiseAddr;
  const host = config.grpcAddr.host;
  if (WILDCARD_HOSTS.has(host)) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `--advertise-addr: required when --grpc-addr binds ${host} (peers cannot dial a wildcard address)`,
    );
  }
  return host.includes(":") ? `[${host}]:${boundPort}` : `${host}:${boundPort}`;
}

/** What a server's TCP listener serves, and what {@link startServerListener} registers it in. */
export interface ServerListenerOptions {
  readonly config: IpamdConfig;
  readonly log: Logger;
  readonly metrics: IpamMetrics;
  /** The listener's TLS (`listenerTls(config).server`); undefined serves cleartext. */
  readonly tls: TlsOptions | undefined;
  /** The listener is added to it, so a later failure of the start closes it. */
  readonly scope: StartScope;
  readonly services: GrpcServerOptions["services"];
  readonly maxReceiveMessageLength?: number;
  /** The cluster state the access policy reads (a node's own direct allocations). */
  readonly state: () => Pick<ClusterState, "directAllocation">;
}

/**
 * Starts a server's TCP listener on `--grpc-addr` (either store): TLS, the per-call metrics and
 * refusal log, and under mutual TLS the access policy. Returns it with the address it
 * advertises to the cluster.
 */
export async function startServerListener(
  o: ServerListenerOptions,
): Promise<{ tcp: GrpcServer; advertise: string }> {
  const { config, log, metrics } = o;
  const tcp = await startGrpcServer({
    tcp: {
      host: config.grpcAddr.host,
      port: config.grpcAddr.port,
      insecure: config.insecure,
      ...(o.tls === undefined ? {} : { tls: o.tls }),
    },
    services: o.services,
    ...(o.maxReceiveMessageLength === undefined
      ? {}
      : { maxReceiveMessageLength: o.maxReceiveMessageLength }),
    onCall: grpcCallObserver(metrics),
    onRefused: grpcRefusalObserver(metrics, log),
    ...authorized(listenerAuthorization(config, o.tls, metrics, log, o.state)),
    onInternalError: (method, err) => log.error({ err, method }, `${method}: internal error`),
  });
  o.scope.add("TCP listener", () => tcp.shutdown(1000));
  return { tcp, advertise: advertiseAddress(config, tcp.tcpPort ?? config.grpcAddr.port) };
}

/**
 * `--role server`: a member of the L1 Raft group. Serves the Raft transport and the Cluster API
 * (data, membership; writes forwarded to the leader) on the TCP listener, plus metrics and
 * health. No Ipam unix socket and no agent. Runs until SIGTERM/SIGINT; a leader hands
 * leadership over before it stops.
 */
export async function runServer(config: IpamdConfig, log: Logger): Promise<number> {
  // Read before anything opens: a bad file or flag ends the start with nothing to close.
  if (config.topology !== undefined) loadTopology(config.topology);
  const tls = listenerTls(config);
  warnIfCleartext(config, log);
  const restore =
    config.restoreFrom !== undefined && config.enableStore
      ? copyBackupIntoDataDir(config.restoreFrom, config.dataDir, log)
      : false;
  const { store, metrics } = openDaemonStore(config, log);
  const cluster = new RaftCluster({
    nodeId: config.nodeId,
    store,
    dataDir: config.enableStore ? config.dataDir : undefined,
    electionMs: config.electionMs,
    logger: log,
    bootstrap: config.bootstrap,
    join: config.join,
    restore,
    snapshotEntries: config.raftSnapshotEntries,
    hooks: raftMetricHooks(metrics),
    ...(tls.client === undefined ? {} : { tls: tls.client }),
  });
  // A signal during the start (joining may wait for the other servers) stops it cleanly.
  let stoppedEarly: string | undefined;
  const earlyStop = (signal: string) => {
    stoppedEarly = signal;
    log.info({ signal }, "signal during start: stopping");
    void cluster.stop();
  };
  const onEarlyTerm = () => earlyStop("SIGTERM");
  const onEarlyInt = () => earlyStop("SIGINT");
  process.once("SIGTERM", onEarlyTerm);
  process.once("SIGINT", onEarlyInt);
  try {
    await cluster.prepare();
  } catch (err) {
    process.off("SIGTERM", onEarlyTerm);
    process.off("SIGINT", onEarlyInt);
    await cluster.stop().catch(() => undefined);
    store.close();
    if (stoppedEarly !== undefined) {
      log.info({ signal: stoppedEarly }, "stopped");
      return 0;
    }
    throw err;
  }

  exportClusterPool(metrics, cluster.state, { reports: cluster.reports });
  // Every agent ships its address journal here (and to the other servers): this server answers
  // AddressHistory and Forecast from its own copy.
  const archive = new HistoryArchive({
    history: store.addressHistory(),
    retentionMs: config.historyRetentionMs,
    logger: log,
  });
  archive.startPruning(pruneIntervalMs(config.historyRetentionMs));
  exportForecast(metrics, archive, cluster, () => cluster.isLeader());
  const forwarder = forwardWrites(
    {
      ...clusterDataHandlers(cluster, { log }),
      ...membershipHandlers(cluster),
      ...historyHandlers({ archive, cluster, serverId: config.nodeId }),
    },
    cluster,
    {
      logger: log,
      electionMs: config.electionMs,
      ...(tls.client === undefined ? {} : { tls: tls.client }),
    },
  );
  const scope = new StartScope(log);
  scope.add("store", () => store.close());
  scope.add("raft", () => cluster.stop());
  scope.add("write forwarder", () => forwarder.close());
  scope.add("history archive", () => archive.stop());
  let tcp: GrpcServer;
  let advertise: string;
  try {
    ({ tcp, advertise } = await startServerListener({
      config,
      log,
      metrics,
      tls: tls.server,
      scope,
      services: [cluster.raftService(), createClusterService(forwarder.handlers)],
      // Raft appends and snapshot chunks can be large.
      maxReceiveMessageLength: 64 * 1024 * 1024,
      state: () => cluster.state,
    }));
    await cluster.start(advertise);
    if (stoppedEarly !== undefined) {
      throw new IpamdError("SHUTTING_DOWN", `${stoppedEarly} during start`);
    }
  } catch (err) {
    await scope.close();
    if (stoppedEarly !== undefined) {
      log.info({ signal: stoppedEarly }, "stopped");
      return 0;
    }
    throw err;
  } finally {
    process.off("SIGTERM", onEarlyTerm);
    process.off("SIGINT", onEarlyInt);
  }
  // gRPC health and /readyz: SERVING while a leader is known and this server keeps up with its
  // commit index (cluster.notReadyReason); a removed server is never ready.
  let stoppingHealth = false;
  const updateHealth = () => {
    if (stoppingHealth) return;
    tcp.setServingStatus(
      "ipam.v1.Cluster",
      cluster.notReadyReason() === undefined ? "SERVING" : "NOT_SERVING",
    );
  };
  const unsubscribe = cluster.raft.onStatusChange(updateHealth);
  // The apply lag and a removal change readiness without a Raft status change.
  const healthTimer = setInterval(updateHealth, 500);
  healthTimer.unref();
  updateHealth();
  exportRaft(
    metrics,
    () => cluster.status(),
    () => cluster.removed !== undefined,
  );
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await startMetricsEndpoint(
      config,
      metrics,
      () => {
        const reason = cluster.notReadyReason();
        return reason === undefined ? { ready: true } : { ready: false, reason };
      },
      log,
    );
  } catch (err) {
    stoppingHealth = true;
    clearInterval(healthTimer);
    unsubscribe();
    await scope.close();
    throw err;
  }
  const stopKubernetes = await startServerKubernetes({
    config: config.kubernetes,
    cluster,
    isActive: () => cluster.isLeader(),
    registry: metrics.registry,
    log,
    nodeId: config.nodeId,
    cleanUp: async () => {
      stoppingHealth = true;
      clearInterval(healthTimer);
      unsubscribe();
      await metricsServer?.close();
      await scope.close();
    },
  });
  log.info(
    {
      grpc: `${config.grpcAddr.host}:${tcp.tcpPort}`,
      advertise,
      clusterId: cluster.clusterId,
      mode: cluster.mode,
      members: cluster.status().members,
    },
    cluster.removed === undefined
      ? `ready: server ${config.nodeId} of cluster ${cluster.clusterId} on ${advertise}`
      : `serving status only: server ${config.nodeId} was removed from cluster ${cluster.clusterId}`,
  );

  // Topology: only the leader proposes the file; followers leave it to the leader. A
  // bootstrapping server without --topology applies the built-in example to an empty state.
  const topologyReload = watchTopology({
    path: config.topology,
    cluster,
    log,
    applyExample: () => cluster.state.topology().subnets.size === 0 && cluster.mode === "bootstrap",
    mayPropose: (why) => {
      if (cluster.isLeader()) return true;
      log.info(
        { why, leader: cluster.leader()?.id ?? null, file: config.topology },
        "not the leader: the topology file is left to the leader (send SIGHUP there or use ApplyTopology)",
      );
      return false;
    },
  });
  // A resumed server may need an election first: give it a few election timeouts.
  const leaderWait = setTimeout(
    () => topologyReload.reload("start"),
    cluster.isLeader() ? 0 : 3 * config.electionMs,
  );

  return await onStopSignals(log, async () => {
    clearTimeout(leaderWait);
    clearInterval(healthTimer);
    stoppingHealth = true;
    unsubscribe();
    await topologyReload.stop();
    stopKubernetes?.();
    // Raft first (a leader hands over while its listener still receives the new leader's
    // messages), then the listener.
    await cluster.stop({ transferLeadership: true });
    await tcp.shutdown(5000);
    forwarder.close();
    archive.stop();
    await metricsServer?.close();
    store.close();
    log.info("stopped");
    return 0;
  }).done;
}
