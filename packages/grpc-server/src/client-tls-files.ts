import { readFileSync } from "node:fs";
import { GrpcError } from "@ipam/grpc-client";
import type { ClientTlsOptions } from "./client.js";

/**
 * The client-side TLS flags of every ipamd command that dials a server (`ipamd --role agent`,
 * `ipamd cluster ...`, `ipamctl`): flag name → environment variable and help. One table so that
 * the daemon and the operator tool take the same flags and the same `IPAMD_TLS_*` variables.
 */
export const CLIENT_TLS_FLAGS = {
  "tls-ca": { env: "IPAMD_TLS_CA", help: "CA bundle (PEM) that signed the servers' certificates" },
  "tls-cert": { env: "IPAMD_TLS_CERT", help: "client certificate (PEM) for mutual TLS" },
  "tls-key": { env: "IPAMD_TLS_KEY", help: "client private key (PEM), with --tls-cert" },
  "tls-server-name": {
    env: "IPAMD_TLS_SERVER_NAME",
    help: "name expected in the servers' certificates (default: the dialled host)",
  },
} as const;

/** The paths (and server name) the {@link CLIENT_TLS_FLAGS} give; each optional. */
export interface ClientTlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly serverName?: string | undefined;
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new GrpcError(
      "INVALID_ARGUMENT",
      `--${flag}: cannot read ${path}: ${(cause as Error).message}`,
      { cause, details: { option: flag } },
    );
  }
}

/**
 * The client TLS material the flags name: PEM files read now (synchronously: a command reads
 * them once before dialling). `undefined` when neither `ca` nor `cert` is given (cleartext).
 * @throws GrpcError INVALID_ARGUMENT naming the flag (`details.option`) whose file cannot be
 *   read, or `tls-key`/`tls-cert` when only one of the pair is given.
 */
export function readClientTls(files: ClientTlsFiles): ClientTlsOptions | undefined {
  if ((files.cert === undefined) !== (files.key === undefined)) {
    const missing = files.cert === undefined ? "tls-cert" : "tls-key";
    throw new GrpcError("INVALID_ARGUMENT", `--${missing}: --tls-cert and --tls-key go together`, {
      details: { option: missing },
    });
  }
  if (files.ca === undefined && files.cert === undefined) return undefined;
  return {
    ...(files.ca === undefined ? {} : { ca: readPem("tls-ca", files.ca) }),
    ...(files.cert === undefined ? {} : { cert: readPem("tls-cert", files.cert) }),
    ...(files.key === undefined ? {} : { key: readPem("tls-key", files.key) }),
    ...(files.serverName === undefined ? {} : { serverName: files.serverName }),
  };
}
