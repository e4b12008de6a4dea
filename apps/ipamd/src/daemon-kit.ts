import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type AuthorizationOptions,
  type ClientTlsOptions,
  IPAM_ACCESS_POLICY,
  isLoopbackHost,
  type TlsOptions,
} from "@ipam/grpc-server";
import {
  createIpamMetrics,
  type IpamMetrics,
  type MetricsServer,
  type Readiness,
  startMetricsServer,
} from "@ipam/metrics";
import type { RaftNodeHooks, RaftNodeStatus } from "@ipam/raft";
import { openStore, type Store } from "@ipam/store";
import type { ClusterState } from "@ipam/subnet-pool";
import type { ScopeRef } from "@ipam/topology";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import type { Agent } from "./agent/agent.js";
import { withDirectOwners } from "./cluster/direct-owners.js";
import type { NodeReports } from "./cluster/node-reports.js";
import { reportedUsageBySubnet } from "./cluster/reported-usage.js";
import type { IpamdConfig } from "./config.js";
import { IpamdError } from "./ipamd-error.js";
import { countUncaughtErrorsIn } from "./last-resort.js";

// What the three roles (all, server, agent) share: the store and the metric set, the metrics
// endpoint, the node-pool and Raft gauges, and the stop signals.

export const VERSION = "0.0.0";

/**
 * Creates the data folder (and missing parents) owner-only, 0700; the store's files are 0600
 * whatever the folder. An existing folder is left as it is (it may be shared, `--data-dir /srv`),
 * with a warning when others may enter it.
 */
function prepareDataDir(dir: string, log: Logger): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn(
      { dataDir: dir, mode: `0${mode.toString(8)}` },
      `data folder ${dir} is 0${mode.toString(8)}: others may list it (the store's files stay 0600); chmod 700 it to keep it private`,
    );
  }
}

/**
 * The start every role shares: the metric set on a fresh registry (with the default process and
 * Node.js metrics, and the last-resort handler's count), then the data folder and
 * the store (`<data-dir>/ipamd.db`, or in memory with `--enable-store=false`), whose group
 * commits feed the store metrics. The first log line says where the data is.
 */
export function openDaemonStore(
  config: Pick<IpamdConfig, "dataDir" | "dataDirSource" | "role" | "nodeId" | "enableStore">,
  log: Logger,
): { store: Store; metrics: IpamMetrics } {
  const metrics = createIpamMetrics(new Registry(), {
    buildInfo: { version: VERSION },
    collectDefaultMetrics: true,
    // A node agent has no Raft node: it exports no (empty) ipamd_raft_* family.
    raft: config.role !== "agent",
  });
  countUncaughtErrorsIn(metrics);
  prepareDataDir(config.dataDir, log);
  log.info(
    {
      dataDir: config.dataDir,
      source: config.dataDirSource,
      role: config.role,
      nodeId: config.nodeId,
    },
    `data in ${config.dataDir}`,
  );
  if (!config.enableStore)
    log.warn("--enable-store=false: nothing survives a restart (tests only)");
  const store = openStore({
    path: config.enableStore ? join(config.dataDir, "ipamd.db") : ":memory:",
    onCommit: (c) => {
      metrics.observeStoreTransaction(
        "group_commit",
        c.ok ? "ok" : "UNAVAILABLE",
        c.durationMs / 1000,
      );
      metrics.observeStoreBatch(c.writes);
    },
  });
  return { store, metrics };
}

/** The contents of the PEM file a TLS flag names; throws INVALID_ARGUMENT naming the flag. */
function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `${flag}: cannot read ${path}: ${(cause as Error).message}`,
      { cause, details: { option: flag.slice(2) } },
    );
  }
}

/**
 * The TLS material of a role's TCP listener (roles all and server) from `--tls-cert/--tls-key`,
 * with `--tls-ca` requiring client certificates signed by that CA (mutual TLS); and the client
 * side a server dials its peers with (the same certificate). Empty without `--tls-cert`.
 * @throws IpamdError INVALID_ARGUMENT naming the flag whose file cannot be read.
 */
export function listenerTls(
  config: Pick<IpamdConfig, "tlsCert" | "tlsKey" | "tlsCa" | "tlsServerName">,
): { server?: TlsOptions; client?: ClientTlsOptions } {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return {};
  const cert = readPem("--tls-cert", config.tlsCert);
  const key = readPem("--tls-key", config.tlsKey);
  const ca = config.tlsCa === undefined ? undefined : readPem("--tls-ca", config.tlsCa);
  const server: TlsOptions = {
    cert,
    key,
    ...(ca === undefined ? {} : { ca, requireClientCert: true }),
  };
  const client: ClientTlsOptions = {
    cert,
    key,
    ...(ca === undefined ? {} : { ca }),
    ...(config.tlsServerName === undefined ? {} : { serverName: config.tlsServerName }),
  };
  return { server, client };
}

/**
 * Logs a warning when `--insecure` lets a non-loopback TCP listener serve cleartext: anyone who
 * can reach the address can call every RPC and read every answer.
 */
export function warnIfCleartext(
  config: Pick<IpamdConfig, "grpcAddr" | "insecure" | "tlsCert">,
  log: Logger,
): void {
  if (config.tlsCert !== undefined || !config.insecure || isLoopbackHost(config.grpcAddr.host)) {
    return;
  }
  log.warn(
    { grpcAddr: `${config.grpcAddr.host}:${config.grpcAddr.port}` },
    `--insecure: the gRPC listener on ${config.grpcAddr.host} serves cleartext to the network without authentication; give --tls-cert/--tls-key/--tls-ca instead`,
  );
}

/**
 * The authorisation of a mutual-TLS listener (`--tls-ca` given): every call checked against
 * ipamd's access policy from the client certificate's identity; each refusal logged and counted
 * as `PERMISSION_DENIED` in `ipamd_grpc_requests_total`. Undefined without mutual TLS.
 */
export function listenerAuthorization(
  config: Pick<IpamdConfig, "tlsIdentities">,
  tls: TlsOptions | undefined,
  metrics: IpamMetrics,
  log: Logger,
  state: () => Pick<ClusterState, "directAllocation">,
): AuthorizationOptions | undefined {
  if (tls?.requireClientCert !== true) return undefined;
  return {
    policy: withDirectOwners(IPAM_ACCESS_POLICY, state),
    identities: config.tlsIdentities,
    onDenied: (method, caller, message) => {
      metrics.observeGrpcRequest(method, "PERMISSION_DENIED", 0);
      log.warn({ method, caller }, message);
    },
  };
}

/** `{ authorization }` for the server options, or nothing (exact optional properties). */
export function authorized(authorization: AuthorizationOptions | undefined): {
  authorization?: AuthorizationOptions;
} {
  return authorization === undefined ? {} : { authorization };
}

/** Starts `/metrics`, `/healthz` and `/readyz` on `--metrics-addr` (undefined when it is off). */
export async function startMetricsEndpoint(
  config: Pick<IpamdConfig, "metricsAddr">,
  metrics: IpamMetrics,
  readiness: () => Readiness,
  log: Logger,
): Promise<MetricsServer | undefined> {
  if (config.metricsAddr === undefined) return undefined;
  const server = await startMetricsServer({
    registry: metrics.registry,
    host: config.metricsAddr.host,
    port: config.metricsAddr.port,
    readiness,
    logger: { warn: (o, m) => log.warn(o, m), error: (o, m) => log.error(o, m) },
  });
  const url = `http://${config.metricsAddr.host}:${server.port}/metrics`;
  log.info({ metrics: url }, `metrics on ${url}`);
  return server;
}

/** The `tor` label of a subnet's series: its TOR scope, empty for a Pod or Zone scope. */
function torLabel(scope: ScopeRef): string {
  return scope.kind === "tor" ? scope.id : "";
}

/**
 * Reads the cluster state's subnet usage into the pool gauges at each scrape. The cluster (L1)
 * tracks only direct-mode cool-down; block-mode addresses cool down on the node that released
 * them: what their holders last reported to this server (`reports`), and with `agent` (role
 * all) that node's own count, read live instead of its report.
 */
export function exportClusterPool(
  metrics: IpamMetrics,
  state: ClusterState,
  sources: {
    readonly agent?: Pick<Agent, "allocator" | "nodeId">;
    readonly reports?: NodeReports | undefined;
  } = {},
): void {
  metrics.setPoolSource(() => {
    const blockCooling = new Map<string, number>();
    for (const u of sources.agent?.allocator.usage(Date.now()) ?? [])
      blockCooling.set(u.subnet, u.cooling);
    const reported = reportedUsageBySubnet(state, sources.reports, sources.agent?.nodeId);
    for (const [subnet, r] of reported)
      blockCooling.set(subnet, (blockCooling.get(subnet) ?? 0) + Number(r.cooling));
    return state.subnetUsage().map((u) => ({
      subnet: u.subnet,
      purpose: u.purpose,
      family: u.family,
      tor: torLabel(u.scope),
      capacityAddresses: Number(u.capacity),
      reservedAddresses: Number(u.reserved),
      allocatedAddresses: Number(u.leased),
      coolingDownAddresses:
        u.mode === "block" ? (blockCooling.get(u.subnet) ?? 0) : Number(u.cooling ?? 0n),
      capacityBlocks: Number(u.totalBlocks),
      leasedBlocks: u.leasedBlocks,
    }));
  });
}

/**
 * An agent's gauges, read at each scrape: its held blocks (node pool) and whether its cluster
 * can be reached (`available()` stands for both leader reachability and quorum).
 */
export function exportAgent(
  metrics: IpamMetrics,
  agent: Agent,
  cluster: { available(): boolean },
): void {
  exportNodePool(metrics, agent);
  metrics.setAgentSource(() => ({
    leaderReachable: cluster.available(),
    quorumAvailable: cluster.available(),
    lostBlocks: agent.lostBlocks().length,
  }));
}

/** The `onCall` hook of the gRPC servers: every call counted and timed in `metrics`. */
export function grpcCallObserver(
  metrics: IpamMetrics,
): (method: string, code: string, seconds: number) => void {
  return (method, code, seconds) => metrics.observeGrpcRequest(method, code as never, seconds);
}

/** Reads an agent's held blocks into the node-pool gauges at each scrape. */
function exportNodePool(metrics: IpamMetrics, agent: Agent): void {
  metrics.setNodePoolSource(() =>
    agent.allocator.usage(Date.now()).map((u) => ({
      subnet: u.subnet,
      purpose: u.purpose,
      family: u.family,
      tor: torLabel(u.scope),
      heldBlocks: u.blocks,
      heldAddresses: u.capacity,
      allocatedAddresses: u.allocated,
      coolingDownAddresses: u.cooling,
    })),
  );
}

/** Raft driver hooks that feed the apply, proposal and snapshot metrics. */
export function raftMetricHooks(metrics: IpamMetrics): RaftNodeHooks {
  return {
    onLeaderChange: (leader, term) => metrics.observeRaftLeader(leader, term),
    onApply: (entries, seconds) => metrics.observeRaftApply(seconds, entries),
    onProposal: (result, seconds) => metrics.observeProposal(result, seconds),
    onSnapshot: (_index, bytes, seconds) => metrics.observeSnapshot("create", seconds, bytes),
  };
}

/** Reads this server's Raft status into the Raft gauges at each scrape. */
export function exportRaft(
  metrics: IpamMetrics,
  status: () => RaftNodeStatus,
  removed: () => boolean = () => false,
): void {
  metrics.setRaftSource(() => {
    const st = status();
    return {
      term: st.term,
      role: st.role,
      commit: st.commit,
      applied: st.applied,
      leader: st.leader,
      removed: removed(),
    };
  });
}

/** The daemon's stop: SIGTERM/SIGINT (or {@link StopControl.stop}) runs `shutdown` once. */
export interface StopControl {
  /** Resolves with the exit code `shutdown` returned (1 when it threw). */
  readonly done: Promise<number>;
  /** Starts the shutdown as a signal would; `reason` is logged and passed to `shutdown`. */
  stop(reason: string): void;
  /** True once a stop has begun. */
  readonly stopping: boolean;
}

/**
 * On the first SIGTERM/SIGINT runs `shutdown(reason)`; a second signal exits at once with 1.
 */
export function onStopSignals(
  log: Logger,
  shutdown: (reason: string) => Promise<number>,
): StopControl {
  let stopping = false;
  let resolve: (code: number) => void = () => {};
  const done = new Promise<number>((r) => {
    resolve = r;
  });
  const stop = (reason: string) => {
    if (stopping) {
      log.warn({ signal: reason }, "second signal: exiting at once");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal: reason }, "shutting down");
    shutdown(reason).then(resolve, (err: unknown) => {
      log.error({ err }, "shutdown failed");
      resolve(1);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  return {
    done,
    stop,
    get stopping() {
      return stopping;
    },
  };
}
