import type { RefusalReason } from "@ipam/grpc-server";
import type { IpamMetrics } from "@ipam/metrics";
import type { Logger } from "pino";

/** One log line per refusal reason at most this often; the metric counts every refusal. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * The `onRefused` hook of the gRPC servers: each refused or cut-short stream or connection
 * counted in `ipamd_grpc_refused_total{reason}`, plus a warning, at most one line per reason a
 * minute (with how many were not logged) so that a peer cannot flood the log.
 */
export function grpcRefusalObserver(
  metrics: IpamMetrics,
  log: Logger,
  now: () => number = Date.now,
): (reason: RefusalReason, method: string) => void {
  const lastLogged = new Map<string, number>();
  const unlogged = new Map<string, number>();
  return (reason, method) => {
    metrics.countGrpcRefusal(reason);
    const at = now();
    const last = lastLogged.get(reason);
    if (last !== undefined && at - last < REFUSAL_LOG_INTERVAL_MS) {
      unlogged.set(reason, (unlogged.get(reason) ?? 0) + 1);
      return;
    }
    lastLogged.set(reason, at);
    const notLogged = unlogged.get(reason) ?? 0;
    unlogged.delete(reason);
    log.warn(
      { reason, method: method.slice(0, 120), notLoggedSinceLastLine: notLogged },
      `gRPC: refused or cut short a stream or connection (${reason}); ipamd_grpc_refused_total counts each, this line shows at most one a minute per reason`,
    );
  };
}
