import { type ClusterHandlers, Family as WireFamily } from "@ipam/grpc-server";
import type { ClusterState } from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";
import { wireFamily } from "../allocated-address.js";
import type { NodeReports } from "../cluster/node-reports.js";
import { IpamdError } from "../ipamd-error.js";
import { requireText } from "../request-fields.js";
import { computeForecast, DEFAULT_FORECAST_WINDOW_MS } from "./forecast-source.js";
import type { HistoryArchive } from "./history-archive.js";
import { eventFromWire, wireEvent } from "./history-wire.js";

/** What the history handlers read: this server's archive and its replica. */
export interface HistoryHandlerDeps {
  readonly archive: HistoryArchive;
  /** The local replica (stale reads: the forecast is an estimate) and the agents' reports. */
  readonly cluster: { readonly state: ClusterState; readonly reports?: NodeReports };
  /** This server's id, named in answers. */
  readonly serverId: string;
}

/** A request time in ms, or undefined for 0 (unset). Negative is refused naming the field. */
function timeOf(field: string, value: bigint): number | undefined {
  if (value === 0n) return undefined;
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IpamdError("INVALID_ARGUMENT", `${field}: ${value} is not a time in Unix ms`);
  }
  return Number(value);
}

function familyOf(f: WireFamily): Family | undefined {
  return f === WireFamily.IPV4 ? 4 : f === WireFamily.IPV6 ? 6 : undefined;
}

/**
 * ReportAddressEvents, AddressHistory and Forecast: answered by this server from its own
 * archive, never forwarded (agents ship to every server; see docs/ipamd.md "Address history").
 */
export function historyHandlers(deps: HistoryHandlerDeps): Partial<ClusterHandlers> {
  const { archive } = deps;
  return {
    reportAddressEvents: (req) => {
      const node = requireText("node_id", req.nodeId);
      const journal = requireText("journal_id", req.journalId);
      const events = req.events.map((e, i) => eventFromWire(e, i, node, journal));
      return { storedThroughSeq: BigInt(archive.put(node, journal, events)) };
    },
    addressHistory: (req) => {
      requireText("address", req.address);
      const since = timeOf("since_unix_ms", req.sinceUnixMs);
      const until = timeOf("until_unix_ms", req.untilUnixMs);
      const at = timeOf("at_unix_ms", req.atUnixMs);
      const answer = archive.query(req.address, {
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
        ...(at === undefined ? {} : { at }),
      });
      return {
        events: answer.events.map(wireEvent),
        holders: answer.holders.map(wireEvent),
        oldestKeptUnixMs: BigInt(answer.oldestKept ?? 0),
        serverId: deps.serverId,
      };
    },
    forecast: (req) => {
      if (req.windowMs < 0n) {
        throw new IpamdError("INVALID_ARGUMENT", `window_ms: ${req.windowMs} is negative`);
      }
      const windowMs = req.windowMs === 0n ? DEFAULT_FORECAST_WINDOW_MS : Number(req.windowMs);
      const family = familyOf(req.family);
      const now = archive.now();
      const rows = computeForecast(
        deps.cluster.state,
        deps.cluster.reports,
        archive.history,
        now,
        windowMs,
        {
          ...(req.zone === "" ? {} : { zone: req.zone }),
          ...(req.tor === "" ? {} : { tor: req.tor }),
          ...(req.purpose === "" ? {} : { purpose: req.purpose }),
          ...(family === undefined ? {} : { family }),
        },
      );
      return {
        entries: rows.map((r) => ({
          zone: r.zone,
          pod: r.pod,
          tor: r.tor,
          purpose: r.purpose,
          family: wireFamily(r.family),
          capacity: String(r.capacity),
          leased: String(r.leased),
          held: String(r.held),
          ratePerHour: r.ratePerHour,
          ...(r.fullInSeconds === undefined ? {} : { fullInSeconds: r.fullInSeconds }),
          samples: r.samples,
          rSquared: r.rSquared,
          windowMs: BigInt(r.windowMs),
        })),
        serverId: deps.serverId,
        computedAtUnixMs: BigInt(now),
      };
    },
  };
}
