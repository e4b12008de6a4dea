import { createClusterService, type GrpcServer } from "@ipam/grpc-server";
import type { MetricsServer } from "@ipam/metrics";
import type { Logger } from "pino";
import { clusterDataHandlers } from "./cluster/cluster-data-handlers.js";
import { EtcdCluster, type EtcdClusterOptions } from "./cluster/etcd-cluster.js";
import { etcdStatusHandlers } from "./cluster/etcd-status-handlers.js";
import type { IpamdConfig } from "./config.js";
import {
  exportClusterPool,
  listenerTls,
  onStopSignals,
  openDaemonStore,
  startMetricsEndpoint,
  warnIfCleartext,
} from "./daemon-kit.js";
import { EtcdKeys } from "./etcd/etcd-keys.js";
import { createEtcdClient } from "./etcd-config.js";
import { exportForecast } from "./history/forecast-metric.js";
import { HistoryArchive, pruneIntervalMs } from "./history/history-archive.js";
import { historyHandlers } from "./history/history-handlers.js";
import { IpamdError } from "./ipamd-error.js";
import { startServerKubernetes } from "./kubernetes/server-kubernetes.js";
import { startServerListener } from "./role-server.js";
import { StartScope } from "./start-scope.js";
import { loadTopology, watchTopology } from "./topology-file.js";

/** The cluster state (L1) of `--cluster-store etcd`, built from the settings (and `extra`). */
export function etcdClusterOf(
  config: IpamdConfig,
  log: Logger,
  extra: Pick<EtcdClusterOptions, "onControllerChange"> = {},
): EtcdCluster {
  const etcd = config.etcd;
  if (etcd === undefined) throw new IpamdError("INTERNAL", "--cluster-store etcd without settings");
  log.info(
    { endpoints: etcd.endpoints, prefix: etcd.prefix, tls: etcd.tls, user: etcd.username ?? null },
    `cluster state in etcd under ${etcd.prefix}/`,
  );
  return new EtcdCluster({
    nodeId: config.nodeId,
    client: createEtcdClient(etcd),
    keys: new EtcdKeys(etcd.prefix),
    logger: log,
    snapshotEntries: etcd.snapshotEntries,
    compaction: etcd.compaction,
    truncateDelayMs: etcd.logRetentionMs,
    startTimeoutMs: etcd.startTimeoutMs,
    ...extra,
  });
}

/**
 * `--role server --cluster-store etcd`: an L1 server whose cluster state lives in etcd under
 * `--etcd-prefix`. Serves the Cluster API (data handlers; every server writes to etcd itself,
 * nothing is forwarded; membership RPCs answer UNIMPLEMENTED naming etcd), the address history
 * (each server keeps its own archive of what the agents ship, in `<data-dir>/ipamd.db`, exactly
 * as a Raft server does), gRPC health and metrics; ready while etcd answers. The controller
 * (lease holder) applies `--topology` and exports the forecast metric. The cluster state itself
 * is only in etcd: the data dir holds nothing but the address history.
 */
export async function runEtcdServer(config: IpamdConfig, log: Logger): Promise<number> {
  // Read before anything opens: a bad file or flag ends the start with nothing to close.
  if (config.topology !== undefined) loadTopology(config.topology);
  const tls = listenerTls(config);
  warnIfCleartext(config, log);
  const { store, metrics } = openDaemonStore(config, log);
  let onControllerChange: (isController: boolean) => void = () => {};
  const scope = new StartScope(log);
  scope.add("store", () => store.close());
  let cluster: EtcdCluster;
  try {
    cluster = etcdClusterOf(config, log, {
      onControllerChange: (mine) => onControllerChange(mine),
    });
  } catch (err) {
    await scope.close();
    throw err;
  }
  scope.add("etcd cluster", () => cluster.stop());
  // Every agent ships its address journal here (and to the other servers): this server answers
  // AddressHistory and Forecast from its own copy, as a Raft server does.
  const archive = new HistoryArchive({
    history: store.addressHistory(),
    retentionMs: config.historyRetentionMs,
    logger: log,
  });
  archive.startPruning(pruneIntervalMs(config.historyRetentionMs));
  scope.add("history archive", () => archive.stop());
  // A signal while waiting for etcd stops the server cleanly.
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
  let tcp: GrpcServer;
  let advertise: string;
  let fresh: boolean;
  try {
    ({ tcp, advertise } = await startServerListener({
      config,
      log,
      metrics,
      tls: tls.server,
      scope,
      services: [
        createClusterService({
          ...clusterDataHandlers(cluster, { log }),
          ...etcdStatusHandlers(cluster),
          ...historyHandlers({ archive, cluster, serverId: config.nodeId }),
        }),
      ],
      state: () => cluster.state,
    }));
    await cluster.start(advertise);
    if (stoppedEarly !== undefined) {
      throw new IpamdError("SHUTTING_DOWN", `${stoppedEarly} during start`);
    }
    fresh = cluster.state.topology().subnets.size === 0 && cluster.state.nodes().length === 0;
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
  exportClusterPool(metrics, cluster.state, { reports: cluster.reports });
  // One exporter of the forecast series: the controller (every server holds the same history).
  exportForecast(metrics, archive, cluster, () => cluster.isController());
  // gRPC health and /readyz: serving while etcd answers and the watch runs.
  let stoppingHealth = false;
  const updateHealth = () => {
    if (!stoppingHealth)
      tcp.setServingStatus("ipam.v1.Cluster", cluster.available() ? "SERVING" : "NOT_SERVING");
  };
  const health = setInterval(updateHealth, 500);
  health.unref();
  updateHealth();
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await startMetricsEndpoint(
      config,
      metrics,
      () =>
        cluster.available()
          ? { ready: true }
          : { ready: false, reason: cluster.unavailableReason ?? "etcd unreachable" },
      log,
    );
  } catch (err) {
    stoppingHealth = true;
    clearInterval(health);
    await scope.close();
    throw err;
  }
  const stopKubernetes = await startServerKubernetes({
    config: config.kubernetes,
    cluster,
    isActive: () => cluster.isController(),
    registry: metrics.registry,
    log,
    nodeId: config.nodeId,
    cleanUp: async () => {
      stoppingHealth = true;
      clearInterval(health);
      await metricsServer?.close();
      await scope.close();
    },
  });
  log.info(
    {
      grpc: `${config.grpcAddr.host}:${tcp.tcpPort}`,
      advertise,
      clusterId: cluster.clusterId,
      prefix: cluster.prefix,
    },
    `ready: server ${config.nodeId} of cluster ${cluster.clusterId} (etcd ${cluster.prefix}) on ${advertise}`,
  );

  // Topology: only the controller proposes the file; the first controller of an empty state
  // without --topology applies the built-in example.
  const topologyReload = watchTopology({
    path: config.topology,
    cluster,
    log,
    applyExample: () => fresh && cluster.state.topology().subnets.size === 0,
    mayPropose: (why) => {
      if (cluster.isController()) return true;
      log.info(
        { why, controller: cluster.leader()?.id ?? null, file: config.topology },
        "not the controller: the topology file is left to the controller (send SIGHUP there or use ApplyTopology)",
      );
      return false;
    },
  });
  onControllerChange = (mine) => {
    if (mine) topologyReload.reload("became the controller");
  };
  if (cluster.isController()) topologyReload.reload("start");

  return await onStopSignals(log, async () => {
    stoppingHealth = true;
    clearInterval(health);
    await topologyReload.stop();
    stopKubernetes?.();
    // The listener first (running calls finish), then the lease goes (another server takes
    // the controller key at once).
    await tcp.shutdown(5000);
    await cluster.stop();
    archive.stop();
    await metricsServer?.close();
    store.close();
    log.info("stopped");
    return 0;
  }).done;
}
