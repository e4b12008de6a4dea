import type { GrpcStatusName } from "@ipam/grpc-client";
import type { RefusalReason } from "./http2-guard.js";

/**
 * Observation hooks a server calls; the daemon wires them to @ipam/metrics and its logger.
 * Hooks must not throw (an exception is caught and ignored so a bad hook cannot fail calls).
 */
export interface ServerHooks {
  /**
   * Called once per finished call with the method (`ipam.v1.Ipam/Allocate`), the gRPC status
   * name it ended with and its duration in seconds.
   */
  readonly onCall?: (method: string, code: GrpcStatusName, seconds: number) => void;
  /**
   * Called with every error that had no ipamd `code` (it went out as INTERNAL with a generic
   * message): these are bugs or outages and deserve a log line.
   */
  readonly onInternalError?: (method: string, error: unknown) => void;
  /**
   * Called once per stream or connection the server refused or cut short before or around its
   * handler (see `RefusalReason`), with the method path when there was one (`ipam.v1.Ipam/Allocate`,
   * or whatever path the peer sent; `""` for connections).
   */
  readonly onRefused?: (reason: RefusalReason, method: string) => void;
}

/** Run a hook, swallowing what it throws (see {@link ServerHooks}). */
export function safeHook<A extends unknown[]>(
  hook: ((...args: A) => void) | undefined,
  ...args: A
): void {
  if (hook === undefined) return;
  try {
    hook(...args);
  } catch {
    // A hook's failure must not change the call's outcome.
  }
}
