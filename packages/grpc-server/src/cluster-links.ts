import type { ChannelOptions } from "@grpc/grpc-js";

/**
 * How fast a cluster link (Raft transport, agent → server, follower → leader forwarding,
 * join and membership clients) tries again after its peer went away, in ms. Both numbers are
 * derived from the Raft election timeout by {@link clusterReconnect}: a link must be back
 * within a fraction of an election timeout after its peer returns, or a restarted server
 * cannot vote in the next election (pre-votes and their answers travel on these links).
 */
export interface ClusterReconnect {
  /** First delay after a failure, ms. */
  readonly initialMs: number;
  /** Cap of the exponential backoff, ms. */
  readonly maxMs: number;
}

/** The election timeout the defaults are fitted to (`ipamd --election-ms` default), ms. */
export const DEFAULT_ELECTION_MS = 1000;

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * Reconnect timings fitted to an election timeout of `electionMs` (default 1000): the first
 * retry after a tenth of it (20 ms .. 1 s), the backoff capped at half of it (at least the
 * first delay, at most 10 s). With the library's defaults (1 s, growing to 120 s) a link to a
 * server that was down for a few seconds stays in TRANSIENT_FAILURE for up to a minute after
 * the server is back, and failover waits for it.
 * @throws RangeError when `electionMs` is not a positive finite number.
 */
export function clusterReconnect(electionMs: number = DEFAULT_ELECTION_MS): ClusterReconnect {
  if (!Number.isFinite(electionMs) || electionMs <= 0) {
    throw new RangeError(`electionMs: ${electionMs} is not a positive number of milliseconds`);
  }
  const initialMs = Math.round(clamp(electionMs / 10, 20, 1000));
  const maxMs = Math.round(clamp(electionMs / 2, initialMs, 10_000));
  return { initialMs, maxMs };
}

/**
 * The @grpc/grpc-js channel options of every cluster link, in one place:
 * - `grpc.initial_reconnect_backoff_ms` / `grpc.max_reconnect_backoff_ms`: the subchannel's
 *   reconnect backoff ({@link clusterReconnect}); `grpc.min_reconnect_backoff_ms` the same
 *   first delay (read by gRPC C-core clients; grpc-js 1.14 reads only the other two);
 * - keepalive: an HTTP/2 PING every `max(10 s, 5 election timeouts)`, the connection dropped
 *   (and redialled) when its answer takes more than `max(5 s, 2 election timeouts)`, so that a
 *   link to a peer that vanished without closing its sockets (power loss, a partition) is
 *   noticed in seconds instead of TCP's minutes. `keepaliveWithoutCalls` also pings idle
 *   connections (Raft links; a client of many servers leaves it off).
 */
export function clusterChannelOptions(
  options: { readonly electionMs?: number; readonly keepaliveWithoutCalls?: boolean } = {},
): ChannelOptions {
  const electionMs = options.electionMs ?? DEFAULT_ELECTION_MS;
  const { initialMs, maxMs } = clusterReconnect(electionMs);
  return {
    "grpc.initial_reconnect_backoff_ms": initialMs,
    "grpc.min_reconnect_backoff_ms": initialMs,
    "grpc.max_reconnect_backoff_ms": maxMs,
    "grpc.keepalive_time_ms": Math.max(10_000, 5 * electionMs),
    "grpc.keepalive_timeout_ms": Math.max(5000, 2 * electionMs),
    "grpc.keepalive_permit_without_calls": options.keepaliveWithoutCalls === true ? 1 : 0,
  };
}
