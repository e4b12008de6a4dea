import { isIP } from "node:net";

/**
 * True when `host` only accepts connections from this machine: `localhost`, `127.0.0.0/8`,
 * `::1` and their IPv4-mapped forms. Wildcards (`0.0.0.0`, `::`, empty) are not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const lower = bare.toLowerCase();
  if (lower === "localhost" || lower.endsWith(".localhost")) return true;
  const v4 = lower.startsWith("::ffff:") ? lower.slice(7) : lower;
  if (isIP(v4) === 4) return v4.startsWith("127.");
  if (isIP(lower) === 6) return lower === "::1" || lower === "0:0:0:0:0:0:0:1";
  return false;
}

/** `host:port` with IPv6 literals bracketed, as gRPC targets expect. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
