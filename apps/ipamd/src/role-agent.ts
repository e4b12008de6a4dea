import {
  type ClientTlsOptions,
  createIpamService,
  type GrpcServer,
  type IpamHandlers,
  readClientTls,
  startGrpcServer,
} from "@ipam/grpc-server";
import type { MetricsServer } from "@ipam/metrics";
import type { Logger } from "pino";
import { Agent } from "./agent/agent.js";
import { ipamHandlers } from "./agent/ipam-handlers.js";
import { isOutage } from "./cluster/cluster-errors.js";
import { RemoteCluster } from "./cluster/remote-cluster.js";
import type { IpamdConfig } from "./config.js";
import {
  exportAgent,
  grpcCallObserver,
  onStopSignals,
  openDaemonStore,
  startMetricsEndpoint,
} from "./daemon-kit.js";
import { grpcRefusalObserver } from "./grpc-hooks.js";
import { JournalShipper } from "./history/journal-shipper.js";
import { IpamdError } from "./ipamd-error.js";
import type { AgentKubernetes } from "./kubernetes/agent-kubernetes.js";
import { StartScope } from "./start-scope.js";

/** The stop reason when the agent could not start (exit code 1). */
const START_FAILURE = "start failure";

/** How often an agent ships its address journal to the servers, ms. */
export const HISTORY_SHIP_MS = 1000;

/** Node labels that name the node's TOR when `--tor` is not given, first match wins. */
export const TOR_LABELS = ["ipam.io/tor", "tor"] as const;

/** The TOR an agent registers under: `--tor`, else a TOR label, else undefined. */
export function agentTor(config: Pick<IpamdConfig, "tor" | "nodeLabels">): string | undefined {
  if (config.tor !== undefined) return config.tor;
  for (const label of TOR_LABELS) {
    const value = config.nodeLabels[label];
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

/** The agent's client TLS from the shared client TLS flags (@ipam/grpc-server). */
function tlsOf(config: IpamdConfig): ClientTlsOptions | undefined {
  return readClientTls({
    ca: config.tlsCa,
    cert: config.tlsCert,
    key: config.tlsKey,
    serverName: config.tlsServerName,
  });
}

/**
 * `ipamd --role agent`: the node-local allocator of one node. Store + a RemoteCluster over
 * `--servers` + the Agent + the Ipam API on the unix socket + metrics and `/readyz`, until
 * SIGTERM/SIGINT. The Ipam socket answers from the first moment (Status says `starting` until
 * the allocator is rebuilt). Start-up registers the node (`--tor` or a TOR node label) and reads
 * its leases, retrying until a server answers; when none does but the store holds blocks, the
 * agent starts from them and reconciles once the cluster is back. Resolves with the exit code.
 */
export async function runAgent(config: IpamdConfig, log: Logger): Promise<number> {
  if (config.servers.length === 0) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      "--servers: required with --role agent (cluster servers, host:port,...)",
    );
  }
  const tls = tlsOf(config);
  const { store, metrics } = openDaemonStore(config, log);
  const scope = new StartScope(log);
  scope.add("store", () => store.close());
  const cluster = new RemoteCluster({
    servers: config.servers,
    nodeId: config.nodeId,
    logger: log,
    // Within the CNI plugin's patience: an allocation waiting on a lease fails in time.
    deadlineMs: 5000,
    electionMs: config.electionMs,
    ...(tls === undefined ? {} : { tls }),
  });
  scope.add("cluster client", () => cluster.close());
  let kubernetes: AgentKubernetes | undefined;
  if (config.kubernetes !== undefined) {
    try {
      // Loaded only with --kubernetes: the embedded default never loads the client.
      const { startAgentKubernetes } = await import("./kubernetes/agent-kubernetes.js");
      kubernetes = await startAgentKubernetes({
        config: config.kubernetes,
        nodeId: config.nodeId,
        store,
        registry: metrics.registry,
        log,
        ...(config.tor === undefined ? {} : { fixedTor: config.tor }),
        nodeKnown: async () => (await cluster.nodeSubnets(config.nodeId)).length > 0,
        sticky: cluster,
      });
    } catch (err) {
      await scope.close();
      throw err;
    }
    const k = kubernetes;
    scope.add("kubernetes", () => k.stop());
  }
  // With --kubernetes the TOR comes from the Node's labels (read before the start), unless --tor
  // fixes it.
  const tor = kubernetes === undefined ? agentTor(config) : config.tor;
  if (tor === undefined && kubernetes === undefined) {
    log.warn(
      `no --tor and no ${TOR_LABELS.join(" / ")} node label: ${config.nodeId} must already be in the topology`,
    );
  }
  const agent = new Agent({
    nodeId: config.nodeId,
    store,
    cluster,
    logger: log,
    preallocateThreshold: config.preallocateThreshold,
    startFromStore: true,
    metrics,
    ...(tor === undefined ? {} : { register: { tor, labels: config.nodeLabels } }),
    ...(kubernetes === undefined ? {} : { notReady: () => kubernetes?.notReady() }),
  });

  // The address journal goes to every server (each keeps a copy: docs/ipamd.md "Address
  // history"); shipping needs no started allocator.
  const shipper = new JournalShipper({
    nodeId: config.nodeId,
    history: store.addressHistory(),
    targets: () => cluster.historyTargets(),
    retentionMs: config.historyRetentionMs,
    logger: log,
  });
  shipper.start(HISTORY_SHIP_MS);
  scope.add("history shipper", () => shipper.stop());

  exportAgent(metrics, agent, cluster);
  let metricsServer: MetricsServer | undefined;
  const servers: GrpcServer[] = [];
  try {
    metricsServer = await startMetricsEndpoint(
      config,
      metrics,
      scope.gate(() => agent.readiness()),
      log,
    );
    const endpoint = metricsServer;
    if (endpoint !== undefined) scope.add("metrics endpoint", () => endpoint.close());
    const unix = await startGrpcServer({
      unixSocket: { path: config.unixSocket },
      services: [createIpamService(withKubernetes(ipamHandlers(agent, metrics), kubernetes))],
      onCall: grpcCallObserver(metrics),
      onRefused: grpcRefusalObserver(metrics, log),
    });
    servers.push(unix);
    scope.markListening();
  } catch (err) {
    await scope.close();
    throw err;
  }

  let wake: (() => void) | undefined;
  const control = onStopSignals(log, async (reason) => {
    wake?.();
    agent.stop();
    kubernetes?.stop();
    await Promise.all(servers.map((s) => s.shutdown(5000)));
    await shipper.stop();
    cluster.close();
    await starting.catch(() => undefined);
    await metricsServer?.close();
    store.close();
    log.info("stopped");
    return reason === START_FAILURE ? 1 : 0;
  });
  const starting = (async () => {
    if (kubernetes !== undefined && tor === undefined) {
      // A node that held blocks before (a restart) starts from its store when the API does not
      // answer within a few seconds, as it would without --kubernetes; its labels follow.
      const held = store.listLeasedBlocks().length > 0;
      let timer: NodeJS.Timeout | undefined;
      const reg = await Promise.race([
        kubernetes.placement(),
        new Promise<undefined>((resolve) => {
          wake = () => resolve(undefined);
          if (held) timer = setTimeout(() => resolve(undefined), 5000);
        }),
      ]);
      clearTimeout(timer);
      if (control.stopping) return;
      if (reg !== undefined) {
        agent.reregister(reg);
        log.info(
          { tor: reg.tor, labels: reg.labels },
          `Node ${config.nodeId} is under TOR ${reg.tor}`,
        );
      } else {
        log.warn(
          `Node ${config.nodeId} not read from the Kubernetes API yet: starting from the blocks in the store`,
        );
      }
    }
    for (let attempt = 0; !control.stopping; attempt++) {
      try {
        await agent.start();
        return;
      } catch (err) {
        if (control.stopping) return;
        if (!isOutage(err)) throw err;
        log.warn({ err, attempt }, "waiting for a cluster server to answer");
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(5000, 500 * 2 ** Math.min(attempt, 4))).unref();
        });
      }
    }
  })();
  const started = starting.then(
    () => {
      if (control.stopping) return;
      agent.startMaintenance(1000);
      kubernetes?.attach(agent);
      cluster.startProbe();
      log.info(
        { unixSocket: config.unixSocket, servers: config.servers, tor, degraded: agent.degraded },
        `ready: Ipam API on unix:${config.unixSocket}`,
      );
    },
    (err: unknown) => {
      throw err;
    },
  );

  started.catch((err: unknown) => {
    if (control.stopping) return;
    log.fatal({ err }, `agent start failed: ${(err as Error).message}`);
    control.stop(START_FAILURE);
  });
  return await control.done;
}

/**
 * The Ipam handlers with `--kubernetes`: Allocate applies the pod's annotations (and records
 * its UID) first and gives a StatefulSet pod its sticky addresses, a failure a user must see
 * becomes an Event on the pod, and Release lets a StatefulSet pod's binding go.
 */
function withKubernetes(
  handlers: Partial<IpamHandlers>,
  kubernetes: AgentKubernetes | undefined,
): Partial<IpamHandlers> {
  const allocate = handlers.allocate;
  const release = handlers.release;
  if (kubernetes === undefined || allocate === undefined || release === undefined) return handlers;
  return {
    ...handlers,
    allocate: (req, ctx) =>
      kubernetes.allocate(
        req,
        async (r) => allocate(r, ctx),
        async (key) => release({ $typeName: "ipam.v1.ReleaseRequest", ...key }, ctx),
      ),
    release: async (req, ctx) => {
      const r = await release(req, ctx);
      kubernetes.released({
        network: req.network,
        containerId: req.containerId,
        ifname: req.ifname || "eth0",
      });
      return r;
    },
  };
}
