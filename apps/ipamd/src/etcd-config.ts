import { readFileSync } from "node:fs";
import { EtcdClient } from "./etcd/etcd-client.js";
import { IpamdError } from "./ipamd-error.js";

/** Where the cluster state (L1) is replicated. */
export type ClusterStore = "raft" | "etcd";

/** The resolved `--etcd-*` settings (role server and role all with `--cluster-store etcd`). */
export interface EtcdConfig {
  /** Members as `host:port`. */
  readonly endpoints: readonly string[];
  /** TLS towards etcd: from `https://` endpoints or any `--etcd-tls-*` flag. */
  readonly tls: boolean;
  readonly tlsCa: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Every key of this cluster starts with `<prefix>/` (no trailing slash). */
  readonly prefix: string;
  readonly username: string | undefined;
  /** From `--etcd-password-file`, `IPAMD_ETCD_PASSWORD` or `--etcd-password`. */
  readonly password: string | undefined;
  /** Snapshot the state to etcd every this many applied entries (0 = never). */
  readonly snapshotEntries: number;
  /** Request etcd compaction behind the truncated log. */
  readonly compaction: boolean;
  /** A log entry stays at least this long after it was applied (longer than proposals retry). */
  readonly logRetentionMs: number;
  /** A server that cannot reach etcd at start exits after this long (0: waits for ever). */
  readonly startTimeoutMs: number;
}

interface Spec {
  readonly type: "string" | "boolean";
  readonly help: string;
  readonly default: string;
}

/** The options of the etcd store (merged into `OPTIONS`). */
export const ETCD_OPTIONS: Readonly<Record<string, Spec>> = {
  "cluster-store": {
    type: "string",
    help: "where servers replicate the cluster state: raft (built in) | etcd (servers, role all)",
    default: "raft",
  },
  "cluster-name": {
    type: "string",
    help: "this cluster's name (names the default --etcd-prefix)",
    default: "default",
  },
  "etcd-endpoints": {
    type: "string",
    help: "etcd members, [http(s)://]host:port,... (--cluster-store etcd)",
    default: "none",
  },
  "etcd-prefix": {
    type: "string",
    help: "key prefix of this cluster in etcd (one per cluster)",
    default: "/ipamd/<cluster-name>",
  },
  "etcd-tls-ca": {
    type: "string",
    help: "CA bundle that signed etcd's certificates (PEM)",
    default: "system roots with https://",
  },
  "etcd-tls-cert": { type: "string", help: "client certificate for etcd (PEM)", default: "none" },
  "etcd-tls-key": { type: "string", help: "client key for etcd (PEM)", default: "none" },
  "etcd-username": { type: "string", help: "etcd user (etcd auth)", default: "none" },
  "etcd-password": {
    type: "string",
    help: "etcd password (prefer IPAMD_ETCD_PASSWORD or --etcd-password-file: flags show in ps)",
    default: "none",
  },
  "etcd-password-file": { type: "string", help: "file holding the etcd password", default: "none" },
  "etcd-snapshot-entries": {
    type: "string",
    help: "snapshot the state to etcd every N applied entries (0 = never)",
    default: "10000",
  },
  "etcd-log-retention": {
    type: "string",
    help: "seconds a command stays in the etcd log after it was applied, even once in a snapshot (min 15)",
    default: "120",
  },
  "etcd-start-timeout": {
    type: "string",
    help: "seconds a starting server waits for etcd before it exits 1 (0 = wait for ever)",
    default: "60",
  },
  "etcd-compaction": {
    type: "string",
    help: "request etcd compaction behind the truncated log (false: leave it to etcd's auto-compaction)",
    default: "true",
  },
};

function bad(option: string, message: string): never {
  throw new IpamdError("INVALID_ARGUMENT", `--${option}: ${message}`, { details: { option } });
}

/** What {@link parseEtcdConfig} reads the settings through. */
export interface EtcdSettingSource {
  str(name: string): string | undefined;
  bool(name: string, fallback: boolean): boolean;
  num(name: string, fallback: number, min: number, max: number): number;
}

/** Parses `--cluster-store`. @throws IpamdError INVALID_ARGUMENT naming the flag. */
export function parseClusterStore(value: string | undefined, role: string): ClusterStore {
  const store = value ?? "raft";
  if (store !== "raft" && store !== "etcd") bad("cluster-store", `"${store}" is not raft or etcd`);
  if (store === "etcd" && role === "agent") {
    bad(
      "cluster-store",
      "agents do not hold the cluster state: give the servers --cluster-store etcd and the agents --servers",
    );
  }
  return store;
}

const ENDPOINT = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/;

/**
 * Resolves the `--etcd-*` settings for `--cluster-store etcd`.
 * @throws IpamdError INVALID_ARGUMENT naming the flag and the fix.
 */
export function parseEtcdConfig(src: EtcdSettingSource): EtcdConfig {
  const list = (src.str("etcd-endpoints") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (list.length === 0) {
    bad(
      "etcd-endpoints",
      "required with --cluster-store etcd (e.g. https://10.0.0.1:2379,https://10.0.0.2:2379)",
    );
  }
  const schemes = new Set<string>();
  const endpoints = list.map((text) => {
    const m = ENDPOINT.exec(text);
    const port = m === null ? Number.NaN : Number(m[3]);
    if (m === null || !(port > 0 && port <= 65535)) {
      bad("etcd-endpoints", `"${text}" is not [http(s)://]host:port`);
    }
    schemes.add(m[1] ?? "");
    return `${m[2]}:${port}`;
  });
  if (schemes.has("http") && schemes.has("https")) {
    bad("etcd-endpoints", "mixes http:// and https:// endpoints; etcd members share one scheme");
  }
  const tlsCa = src.str("etcd-tls-ca");
  const tlsCert = src.str("etcd-tls-cert");
  const tlsKey = src.str("etcd-tls-key");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    bad(
      tlsCert === undefined ? "etcd-tls-cert" : "etcd-tls-key",
      "--etcd-tls-cert and --etcd-tls-key go together",
    );
  }
  const anyTlsFlag = tlsCa !== undefined || tlsCert !== undefined;
  if (schemes.has("http") && anyTlsFlag) {
    bad("etcd-endpoints", "http:// endpoints with --etcd-tls-*: use https:// endpoints for TLS");
  }
  const prefix = (
    src.str("etcd-prefix") ?? `/ipamd/${src.str("cluster-name") ?? "default"}`
  ).replace(/\/+$/, "");
  if (!prefix.startsWith("/") || prefix.length < 2 || /\s/.test(prefix)) {
    bad(
      "etcd-prefix",
      `"${prefix}" must start with / and name a folder, without spaces (e.g. /ipamd/prod-eu1)`,
    );
  }
  const username = src.str("etcd-username");
  const passwordFile = src.str("etcd-password-file");
  let password = src.str("etcd-password");
  if (passwordFile !== undefined) {
    try {
      password = readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (cause) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `--etcd-password-file: cannot read ${passwordFile}`,
        { cause },
      );
    }
  }
  if (username !== undefined && (password === undefined || password === "")) {
    bad(
      "etcd-password",
      "--etcd-username needs a password (--etcd-password-file or IPAMD_ETCD_PASSWORD)",
    );
  }
  if (username === undefined && password !== undefined) {
    bad("etcd-username", "a password was given without --etcd-username");
  }
  return {
    endpoints,
    tls: schemes.has("https") || anyTlsFlag,
    tlsCa,
    tlsCert,
    tlsKey,
    prefix,
    username,
    password,
    snapshotEntries: src.num("etcd-snapshot-entries", 10_000, 0, 100_000_000),
    compaction: src.bool("etcd-compaction", true),
    logRetentionMs: src.num("etcd-log-retention", 120, 15, 86_400) * 1000,
    startTimeoutMs: src.num("etcd-start-timeout", 60, 0, 86_400) * 1000,
  };
}

/**
 * An {@link EtcdClient} for the settings: reads the TLS files (a missing file is refused naming
 * its flag) and passes the credentials.
 * @throws IpamdError INVALID_ARGUMENT naming the flag of a file that cannot be read.
 */
export function createEtcdClient(config: EtcdConfig, callTimeoutMs?: number): EtcdClient {
  const read = (flag: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new IpamdError("INVALID_ARGUMENT", `--${flag}: cannot read ${path}`, { cause });
    }
  };
  const ca = read("etcd-tls-ca", config.tlsCa);
  const cert = read("etcd-tls-cert", config.tlsCert);
  const key = read("etcd-tls-key", config.tlsKey);
  return new EtcdClient({
    endpoints: config.endpoints,
    ...(config.tls
      ? {
          tls: {
            ...(ca === undefined ? {} : { ca }),
            ...(cert === undefined ? {} : { cert }),
            ...(key === undefined ? {} : { key }),
          },
        }
      : {}),
    ...(config.username === undefined || config.password === undefined
      ? {}
      : { auth: { username: config.username, password: config.password } }),
    ...(callTimeoutMs === undefined ? {} : { callTimeoutMs }),
  });
}
