import type { IpamMetrics } from "@ipam/metrics";
import type { ClusterState } from "@ipam/subnet-pool";
import type { NodeReports } from "../cluster/node-reports.js";
import { computeForecast, DEFAULT_FORECAST_WINDOW_MS } from "./forecast-source.js";
import type { HistoryArchive } from "./history-archive.js";

/**
 * Feeds `ipamd_pool_forecast_full_seconds` at each scrape from this server's archive, while
 * `leads()` (the Raft leader, or always in role all): every server holds the same history, so
 * one exporter keeps each series single.
 */
export function exportForecast(
  metrics: IpamMetrics,
  archive: HistoryArchive,
  cluster: { readonly state: ClusterState; readonly reports?: NodeReports },
  leads: () => boolean,
): void {
  metrics.setForecastSource(() => {
    if (!leads()) return undefined;
    return computeForecast(
      cluster.state,
      cluster.reports,
      archive.history,
      archive.now(),
      DEFAULT_FORECAST_WINDOW_MS,
    ).map((r) => ({
      zone: r.zone,
      pod: r.pod,
      tor: r.tor,
      purpose: r.purpose,
      family: r.family,
      fullInSeconds: r.fullInSeconds,
    }));
  });
}
