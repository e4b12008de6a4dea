import type { ChannelOptions } from "@grpc/grpc-js";
import { GrpcError } from "@ipam/grpc-client";

/**
 * What one server allows any peer, on every listener (unix socket and TCP, with or without TLS).
 * Each bound exists so that no request can hold memory, a stream or a connection forever; the
 * defaults ({@link DEFAULT_SERVER_LIMITS}) and the reasons are in docs/grpc.md.
 */
export interface ServerLimits {
  /** Streams one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams: number;
  /**
   * Streams the whole server may have open at once, over all connections: a stream beyond it is
   * answered RESOURCE_EXHAUSTED at once.
   */
  readonly maxOpenStreams: number;
  /**
   * Of those, streams of streaming methods (Raft links, health Watch, reflection), which may stay
   * open for long: beyond it they are answered RESOURCE_EXHAUSTED, so that long-lived streams
   * can never take the room unary calls (every CNI call) need.
   */
  readonly maxStreamingCalls: number;
  /** Connections one listener holds at once; further ones are closed as they are accepted. */
  readonly maxConnections: number;
  /**
   * Request header block, bytes (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE): a larger one is reset
   * with ENHANCE_YOUR_CALM. Node applies it once the peer acknowledged the server's SETTINGS;
   * before that, Node's own 64 KiB bound holds.
   */
  readonly maxHeaderListBytes: number;
  /** Memory one HTTP/2 connection may use, MB (Node's `maxSessionMemory`); new streams beyond it are refused. */
  readonly maxSessionMemoryMb: number;
  /** A connection must send its HTTP/2 preface (SETTINGS) within this many ms, else it is closed. */
  readonly handshakeTimeoutMs: number;
  /**
   * A unary or server-streaming request must arrive complete (the client half-closes) within
   * this many ms of its headers, else it is answered DEADLINE_EXCEEDED and its stream reset.
   */
  readonly requestTimeoutMs: number;
  /** A stream that carries no byte either way for this many ms is answered and reset. */
  readonly streamIdleMs: number;
  /** Deadline of a unary call whose client sent no `grpc-timeout`, ms. */
  readonly defaultDeadlineMs: number;
  /** A connection with no open stream for this many ms is closed (GOAWAY). */
  readonly connectionIdleMs: number;
  /** The server pings each connection after this many ms without traffic... */
  readonly keepaliveTimeMs: number;
  /** ...and closes it when the ping is not answered within this many ms. */
  readonly keepaliveTimeoutMs: number;
}

/** The limits every server applies unless told otherwise (see docs/grpc.md for the reasons). */
export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxConcurrentStreams: 128,
  maxOpenStreams: 8192,
  maxStreamingCalls: 1024,
  maxConnections: 16_384,
  maxHeaderListBytes: 16 * 1024,
  maxSessionMemoryMb: 64,
  handshakeTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  streamIdleMs: 300_000,
  defaultDeadlineMs: 30_000,
  connectionIdleMs: 300_000,
  keepaliveTimeMs: 120_000,
  keepaliveTimeoutMs: 20_000,
});

// Node's timers hold at most 2^31 - 1 ms; a larger value fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `DEFAULT_SERVER_LIMITS` with `overrides` applied.
 *
 * @throws GrpcError `INVALID_ARGUMENT` naming the limit when a value is not a positive integer
 *   (or, for times, above 2^31 - 1 ms, which Node's timers cannot hold).
 */
export function resolveServerLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits) as [keyof ServerLimits, number][]) {
    const max = name.endsWith("Ms") ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(value) || value <= 0 || value > max) {
      throw new GrpcError(
        "INVALID_ARGUMENT",
        `limits.${name}: ${value} is not a positive integer${max === MAX_TIMER_MS ? " of ms below 2^31" : ""}`,
        { details: { field: `limits.${name}` } },
      );
    }
  }
  return limits;
}

/** The @grpc/grpc-js server options that carry these limits. */
export function grpcServerOptions(limits: ServerLimits): ChannelOptions {
  return {
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc-node.max_session_memory": limits.maxSessionMemoryMb,
    "grpc.max_connection_idle_ms": limits.connectionIdleMs,
    "grpc.keepalive_time_ms": limits.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs,
  };
}
