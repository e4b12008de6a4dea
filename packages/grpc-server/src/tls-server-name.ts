import { isIP } from "node:net";
import type { ChannelCredentials } from "@grpc/grpc-js";

/** The part of @grpc/grpc-js's secure credentials this module hooks into (not public, 1.14). */
interface SecureCredentialsInternals {
  _createSecureConnector?: (
    ...args: unknown[]
  ) => { connectionOptions?: { servername?: string } } | undefined;
}

/**
 * Make `creds` (from `credentials.createSsl`) send no TLS server name (SNI) when the dialled host
 * is an IP address. @grpc/grpc-js 1.14 always sets `servername` to the host, and Node warns
 * (DEP0123: RFC 6066 forbids IP addresses in SNI) on every connection to `127.0.0.1:7400`.
 * Without it, Node still checks the certificate against the host (its IP SANs), so verification
 * is unchanged; a DNS name, or `serverName` set by the caller, is still sent.
 *
 * The hook is grpc-js's private `_createSecureConnector`; without it `creds` is returned as is
 * (the warning comes back, nothing else changes). Returns `creds`.
 */
export function withoutIpServerName(creds: ChannelCredentials): ChannelCredentials {
  const internals = creds as unknown as SecureCredentialsInternals;
  const create = internals._createSecureConnector;
  if (typeof create !== "function") return creds;
  internals._createSecureConnector = function createSecureConnector(this: unknown, ...args) {
    const connector = create.apply(this, args);
    const options = connector?.connectionOptions;
    if (options?.servername !== undefined && isIP(options.servername) !== 0) {
      delete options.servername;
    }
    return connector;
  };
  return creds;
}
