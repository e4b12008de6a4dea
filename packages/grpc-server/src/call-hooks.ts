import type { GrpcStatusName } from "./status-codes.js";

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
