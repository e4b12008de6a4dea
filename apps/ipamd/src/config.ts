import { readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type IdentityRules, isLoopbackHost, PEER_ROLES, type PeerRole } from "@ipam/grpc-server";
import { parse as parseYaml } from "yaml";
import {
  type ClusterStore,
  ETCD_OPTIONS,
  type EtcdConfig,
  parseClusterStore,
  parseEtcdConfig,
} from "./etcd-config.js";
import { IpamdError } from "./ipamd-error.js";
import { K8S_OPTIONS, type K8sConfig, parseK8sConfig } from "./kubernetes/k8s-config.js";

export type Role = "all" | "server" | "agent";
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
/** How log lines are written to stderr: one JSON object per line, or a line for the eye. */
export type LogFormat = "json" | "pretty";
/**
 * How V8 manages the heap: `compact` favours memory (V8's `--optimize-for-size`: smaller heap
 * growth, earlier collections), `fast` favours speed (V8's defaults).
 */
export type HeapMode = "compact" | "fast";

/** Fully resolved daemon settings. */
export interface IpamdConfig {
  readonly role: Role;
  readonly nodeId: string;
  readonly dataDir: string;
  /** Where the data folder default came from, for the first log line. */
  readonly dataDirSource: "flag" | "env" | "file" | "default";
  readonly unixSocket: string;
  readonly grpcAddr: { readonly host: string; readonly port: number };
  readonly advertiseAddr: string | undefined;
  /** undefined = metrics disabled. */
  readonly metricsAddr: { readonly host: string; readonly port: number } | undefined;
  readonly topology: string | undefined;
  readonly tor: string | undefined;
  readonly nodeLabels: Readonly<Record<string, string>>;
  readonly bootstrap: boolean;
  readonly join: readonly string[];
  /**
   * `--restore-from FILE`: a backup of `ipamd.db` to start a new single-server cluster from
   * (disaster recovery; servers). Ignored, like --bootstrap, once the data dir holds a cluster.
   */
  readonly restoreFrom: string | undefined;
  readonly servers: readonly string[];
  readonly enableStore: boolean;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Default `fast`; `compact` trades write throughput and restore time for memory. */
  readonly heap: HeapMode;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly tlsCa: string | undefined;
  /** The name a client expects in the servers' certificates instead of the dialled host. */
  readonly tlsServerName: string | undefined;
  /** How client certificates name server, node and operator identities (with --tls-ca). */
  readonly tlsIdentities: IdentityRules;
  readonly insecure: boolean;
  readonly electionMs: number;
  readonly preallocateThreshold: number;
  /** Raft snapshot (and log compaction) every this many applied entries; 0 = never. */
  readonly raftSnapshotEntries: number;
  /**
   * How long address events are kept (the node's journal and the servers' archive), ms:
   * `--history-retention`, default 30 days.
   */
  readonly historyRetentionMs: number;
  /** Where servers (and role all) replicate the cluster state. */
  readonly clusterStore: ClusterStore;
  /** The etcd settings with `--cluster-store etcd`, else undefined. */
  readonly etcd: EtcdConfig | undefined;
  /** The Kubernetes controllers' settings with `--kubernetes`, else undefined. */
  readonly kubernetes: K8sConfig | undefined;
}

interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly help: string;
  readonly default: string;
}

/** Every option: name (flag without `--`), type, help and the default shown by `--help`. */
export const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: {
    type: "string",
    help: "YAML or JSON file with settings (keys as flag names)",
    default: "none",
  },
  role: { type: "string", help: "all | server | agent", default: "all" },
  "node-id": { type: "string", help: "this node's id", default: "the hostname" },
  "data-dir": {
    type: "string",
    help: "data folder (ipamd.db)",
    default:
      "/var/lib/ipamd as root, else $XDG_STATE_HOME/ipamd or ~/.local/state/ipamd, else ./.ipamd",
  },
  "unix-socket": {
    type: "string",
    help: "Ipam API unix socket",
    default: "/run/ipamd/ipamd.sock as root, else <data-dir>/ipamd.sock",
  },
  "grpc-addr": {
    type: "string",
    help: "Cluster API TCP bind host:port",
    default: "127.0.0.1:7400 (role all), 0.0.0.0:7400 (server)",
  },
  "advertise-addr": {
    type: "string",
    help: "host:port other servers use to reach this one",
    default: "the bind address",
  },
  "metrics-addr": {
    type: "string",
    help: 'metrics host:port; "" or off disables',
    default: "127.0.0.1:9400",
  },
  topology: {
    type: "string",
    help: "topology file (YAML/JSON)",
    default: "the built-in example topology",
  },
  tor: {
    type: "string",
    help: "TOR this node is attached to",
    default: "the first TOR (all); the ipam.io/tor or tor node label (agent)",
  },
  "node-labels": { type: "string", help: "node labels k=v,k2=v2", default: "none" },
  bootstrap: {
    type: "boolean",
    help: "create a new cluster (servers)",
    default: "false (true in role all)",
  },
  join: { type: "string", help: "servers to join, ADDR,... (servers)", default: "none" },
  "restore-from": {
    type: "string",
    help: "disaster recovery: start a NEW single-server cluster from this backup of ipamd.db (servers; empty --data-dir)",
    default: "none",
  },
  servers: { type: "string", help: "cluster servers, ADDR,... (agents)", default: "none" },
  "enable-store": {
    type: "string",
    help: "durable SQLite store; false = in memory (tests only)",
    default: "true",
  },
  "log-level": {
    type: "string",
    help: "trace|debug|info|warn|error|fatal|silent",
    default: "info",
  },
  "log-format": {
    type: "string",
    help: "json (one object per line, for machines) | pretty (for reading by eye)",
    default: "pretty when stderr is a terminal, else json",
  },
  heap: {
    type: "string",
    help: "fast (V8's defaults) | compact (less memory; slower writes and restore)",
    default: "fast",
  },
  "tls-cert": {
    type: "string",
    help: "TLS certificate (PEM) for the TCP listener",
    default: "none",
  },
  "tls-key": { type: "string", help: "TLS private key (PEM)", default: "none" },
  "tls-ca": { type: "string", help: "CA bundle to verify peers (PEM)", default: "none" },
  "tls-server-name": {
    type: "string",
    help: "name expected in the servers' certificates when dialling them (agents, servers)",
    default: "the dialled host",
  },
  "tls-trust-domain": {
    type: "string",
    help: "trust domain of identity SAN URIs spiffe://DOMAIN/<server|node|operator>/<id> (with --tls-ca)",
    default: "any",
  },
  "tls-role-ous": {
    type: "string",
    help: "subject OU that names each role when a certificate has no identity URI (CN = id)",
    default: "server=server,node=node,operator=operator",
  },
  insecure: {
    type: "boolean",
    help: "allow a non-loopback TCP listener without TLS",
    default: "false",
  },
  "election-ms": { type: "string", help: "Raft election timeout, ms", default: "1000" },
  "raft-snapshot-entries": {
    type: "string",
    help: "Raft snapshot and log compaction every N applied entries (servers; 0 = never)",
    default: "10000",
  },
  "history-retention": {
    type: "string",
    help: "how long the address history is kept (node journal, servers' archive): 30d, 12h, 90m, 45s",
    default: "30d",
  },
  "preallocate-threshold": {
    type: "string",
    help: "lease another block below this free ratio (0..1)",
    default: "0.2",
  },
  ...ETCD_OPTIONS,
  ...K8S_OPTIONS,
};

/** The text printed by `ipamd --help`. */
export function helpText(): string {
  const lines = [
    "Usage: ipamd [options]            run the daemon",
    "       ipamd allocate --network N --container C [--ifname eth0] [--unix-socket P]",
    "       ipamd release  --network N --container C [--ifname eth0] [--unix-socket P]",
    "       ipamd status [--unix-socket P]",
    "       ipamd cluster status|members|leave --node-id ID|transfer-leadership [--server ADDR,...]",
    "         (deprecated but leave: the operator's tool is ipamctl; these aliases go in the next release)",
    "       ipamd state export|import --cluster-store raft|etcd ... --out|--in FILE   (migration)",
    "",
    "Options (precedence: flag > IPAMD_<NAME> env > --config file > default):",
  ];
  for (const [name, spec] of Object.entries(OPTIONS)) {
    const flag = spec.type === "boolean" ? `--${name}` : `--${name} VALUE`;
    lines.push(`  ${flag.padEnd(30)} ${spec.help} (default: ${spec.default})`);
  }
  lines.push(
    "  --help                         this text",
    "  --version                      print the version",
  );
  return `${lines.join("\n")}\n`;
}

type Raw = Record<string, string | boolean | undefined>;

function envName(option: string): string {
  return `IPAMD_${option.toUpperCase().replaceAll("-", "_")}`;
}

function bad(option: string, message: string): never {
  throw new IpamdError("INVALID_ARGUMENT", `--${option}: ${message}`, { details: { option } });
}

/** Parses `host:port` (IPv6 as `[::1]:7400`); throws naming the option. */
export function parseHostPort(option: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = m === null ? Number.NaN : Number(m[3]);
  if (m === null || port > 65535) bad(option, `"${value}" is not host:port`);
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A duration such as `30d`, `12h`, `90m`, `45s` or `500ms`, in ms: 1 s .. 10 years.
 * @throws IpamdError INVALID_ARGUMENT naming `--option`.
 */
export function parseDuration(option: string, value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  const ms =
    m === null ? Number.NaN : Number(m[1]) * (DURATION_UNITS[m[2] as string] ?? Number.NaN);
  if (!Number.isSafeInteger(ms) || ms < 1000 || ms > 3650 * 86_400_000) {
    return bad(
      option,
      `"${value}" is not a duration from 1s to 3650d (a whole number and a unit: ms, s, m, h or d, e.g. 30d)`,
    );
  }
  return ms;
}

function toBool(option: string, value: string | boolean): boolean {
  if (typeof value === "boolean") return value;
  const v = value.toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  return bad(option, `"${value}" is not true or false`);
}

function readConfigFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new IpamdError("INVALID_ARGUMENT", `--config: cannot read ${path}`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (cause) {
    throw new IpamdError("INVALID_ARGUMENT", `--config: ${path} is not valid YAML/JSON`, { cause });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed))
    bad("config", `${path} must hold a mapping`);
  const out: Raw = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const spec = OPTIONS[key];
    if (spec === undefined || key === "config") bad("config", `${path}: unknown setting "${key}"`);
    out[key] = fileValue(key, spec, value, path);
  }
  return out;
}

/** Settings that take a number in a config file (a number or a numeric string). */
const NUMERIC_SETTINGS: ReadonlySet<string> = new Set([
  "election-ms",
  "raft-snapshot-entries",
  "preallocate-threshold",
  "k8s-node-grace",
  "k8s-pod-grace",
  "k8s-resync",
  "k8s-watch-idle",
]);
/** Settings that take a list (an array of strings, or one comma-separated string). */
const LIST_SETTINGS: ReadonlySet<string> = new Set(["join", "servers", "node-labels"]);
/** String-typed settings that mean true/false (a boolean or its text). */
const BOOLEAN_TEXT_SETTINGS: ReadonlySet<string> = new Set(["enable-store"]);

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `the ${typeof value} ${JSON.stringify(value)}`;
}

/**
 * One setting of a config file, type-checked: text settings take a string, numbers a number,
 * lists an array of strings, switches a boolean. Anything else fails naming the setting, the
 * file and what was found (`--data-dir: ipamd.json: must be a string, got the number 5`).
 */
function fileValue(key: string, spec: OptionSpec, value: unknown, path: string): string | boolean {
  const wrong = (expected: string): never =>
    bad(key, `${path}: must be ${expected}, got ${typeName(value)}`);
  if (spec.type === "boolean" || BOOLEAN_TEXT_SETTINGS.has(key)) {
    if (typeof value === "boolean") return spec.type === "boolean" ? value : String(value);
    if (typeof value === "string") return value;
    return wrong("true or false");
  }
  if (NUMERIC_SETTINGS.has(key)) {
    if (typeof value === "number" || typeof value === "string") return String(value);
    return wrong("a number");
  }
  if (LIST_SETTINGS.has(key)) {
    if (typeof value === "string") return value;
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(",");
    return wrong("a list of strings");
  }
  if (typeof value === "string") return value;
  return wrong("a string");
}

function defaultDataDir(env: NodeJS.ProcessEnv, isRoot: boolean): string {
  if (isRoot) return "/var/lib/ipamd";
  const xdg = env.XDG_STATE_HOME;
  if (xdg !== undefined && xdg !== "") return join(xdg, "ipamd");
  try {
    const home = env.HOME ?? homedir();
    if (home !== "") return join(home, ".local", "state", "ipamd");
  } catch {
    // no home folder: fall through
  }
  return join(process.cwd(), ".ipamd");
}

function list(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** `--tls-trust-domain` and `--tls-role-ous` as identity rules; throws naming the flag. */
function identityRules(
  trustDomain: string | undefined,
  roleOus: string | undefined,
): IdentityRules {
  if (trustDomain !== undefined && !/^[a-z0-9._-]+$/i.test(trustDomain)) {
    bad("tls-trust-domain", `"${trustDomain}" is not a trust domain (letters, digits, . _ -)`);
  }
  if (roleOus === undefined) return trustDomain === undefined ? {} : { trustDomain };
  const ous: Record<PeerRole, string> = { server: "server", node: "node", operator: "operator" };
  for (const pair of list(roleOus)) {
    const eq = pair.indexOf("=");
    const role = pair.slice(0, eq) as PeerRole;
    if (eq <= 0 || !PEER_ROLES.includes(role) || eq === pair.length - 1) {
      bad("tls-role-ous", `"${pair}" is not role=OU with role server, node or operator`);
    }
    ous[role] = pair.slice(eq + 1);
  }
  return { ...(trustDomain === undefined ? {} : { trustDomain }), roleOus: ous };
}

/**
 * `argv` with `--flag -5` written as `--flag=-5` for string options, so that a value starting
 * with a dash reaches the option's own check (`--election-ms: "-5" is not a number in
 * 100..60000`) instead of Node's "argument is ambiguous".
 */
function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    const name = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    if (
      name !== undefined &&
      OPTIONS[name]?.type === "string" &&
      next !== undefined &&
      /^-[\d.]/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Inputs of {@link loadConfig}; tests pass their own. */
export interface LoadConfigInput {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly isRoot?: boolean;
  readonly hostname?: string;
  /** Whether stderr is a terminal (picks the default --log-format); default: process.stderr.isTTY. */
  readonly stderrIsTty?: boolean;
}

/**
 * Resolves settings from flags > env `IPAMD_*` > `--config` file > defaults.
 * @throws IpamdError INVALID_ARGUMENT naming the setting (`--grpc-addr: "x" is not host:port`).
 */
export function loadConfig(input: LoadConfigInput): IpamdConfig {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, spec] of Object.entries(OPTIONS)) options[name] = { type: spec.type };
  let values: Raw;
  try {
    values = parseArgs({
      args: joinDashValues(input.argv),
      options,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (cause) {
    throw new IpamdError("INVALID_ARGUMENT", (cause as Error).message, { cause });
  }
  const configPath =
    (values.config as string | undefined) ?? input.env[envName("config")] ?? undefined;
  const file = configPath === undefined || configPath === "" ? {} : readConfigFile(configPath);
  const source = (name: string): "flag" | "env" | "file" | undefined => {
    if (values[name] !== undefined) return "flag";
    if (input.env[envName(name)] !== undefined) return "env";
    if (file[name] !== undefined) return "file";
    return undefined;
  };
  const get = (name: string): string | boolean | undefined =>
    values[name] ?? input.env[envName(name)] ?? file[name];
  const str = (name: string): string | undefined => {
    const v = get(name);
    return v === undefined ? undefined : String(v);
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = get(name);
    return v === undefined ? fallback : toBool(name, v);
  };
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const v = str(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      bad(name, `"${v}" is not a number in ${min}..${max}`);
    }
    return n;
  };

  const roleText = str("role") ?? "all";
  if (roleText !== "all" && roleText !== "server" && roleText !== "agent") {
    bad("role", `"${roleText}" is not all, server or agent`);
  }
  const role: Role = roleText;
  const isRoot = input.isRoot ?? process.getuid?.() === 0;
  const kubernetes = parseK8sConfig({ str, bool, num });
  if (kubernetes !== undefined && role === "all") {
    bad(
      "kubernetes",
      "runs with --role server (the node controller) and --role agent (one per node)",
    );
  }
  // In a cluster the downward API names the node (env NODE_NAME from spec.nodeName).
  const nodeName = kubernetes === undefined ? undefined : input.env.NODE_NAME || undefined;
  const nodeId = str("node-id") ?? nodeName ?? input.hostname ?? hostname();
  if (nodeId === "") bad("node-id", "must not be empty");
  const dataDir = str("data-dir") ?? defaultDataDir(input.env, isRoot);
  if (dataDir === "") bad("data-dir", "must not be empty");
  const unixSocket =
    str("unix-socket") ?? (isRoot ? "/run/ipamd/ipamd.sock" : join(dataDir, "ipamd.sock"));
  const grpcAddr = parseHostPort(
    "grpc-addr",
    str("grpc-addr") ?? (role === "all" ? "127.0.0.1:7400" : "0.0.0.0:7400"),
  );
  const advertiseAddr = str("advertise-addr");
  if (advertiseAddr !== undefined) parseHostPort("advertise-addr", advertiseAddr);
  const metricsText = str("metrics-addr") ?? "127.0.0.1:9400";
  const metricsAddr =
    metricsText === "" || metricsText === "off"
      ? undefined
      : parseHostPort("metrics-addr", metricsText);
  const labels: Record<string, string> = {};
  for (const pair of list(str("node-labels"))) {
    const eq = pair.indexOf("=");
    if (eq <= 0) bad("node-labels", `"${pair}" is not key=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const logLevel = str("log-level") ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(logLevel)) {
    bad("log-level", `"${logLevel}" is not trace, debug, info, warn, error, fatal or silent`);
  }
  const logFormat =
    str("log-format") ?? ((input.stderrIsTty ?? process.stderr.isTTY === true) ? "pretty" : "json");
  if (logFormat !== "json" && logFormat !== "pretty") {
    bad("log-format", `"${logFormat}" is not json or pretty`);
  }
  const heap = str("heap") ?? "fast";
  if (heap !== "compact" && heap !== "fast") bad("heap", `"${heap}" is not compact or fast`);
  const join_ = list(str("join"));
  for (const a of join_) parseHostPort("join", a);
  const servers = list(str("servers"));
  for (const a of servers) parseHostPort("servers", a);
  if (role === "agent" && servers.length === 0)
    bad("servers", "an agent needs at least one server");
  const tlsCert = str("tls-cert");
  const tlsKey = str("tls-key");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    bad(tlsCert === undefined ? "tls-cert" : "tls-key", "--tls-cert and --tls-key go together");
  }
  const tlsIdentities = identityRules(str("tls-trust-domain"), str("tls-role-ous"));
  const insecure = bool("insecure", false);
  if (role !== "agent" && tlsCert === undefined && !insecure && !isLoopbackHost(grpcAddr.host)) {
    bad(
      "grpc-addr",
      `${grpcAddr.host} is not a loopback address and the listener would serve cleartext: give --tls-cert and --tls-key (and --tls-ca to require client certificates), or --insecure to serve cleartext anyway`,
    );
  }
  const bootstrap = bool("bootstrap", role === "all" && join_.length === 0);
  if (bootstrap && join_.length > 0) bad("join", "cannot be combined with --bootstrap");
  const clusterStore = parseClusterStore(str("cluster-store"), role);
  const etcd = clusterStore === "etcd" ? parseEtcdConfig({ str, bool, num }) : undefined;
  const restoreFrom = str("restore-from");
  if (restoreFrom !== undefined) {
    if (role !== "server") bad("restore-from", "only a --role server restores a cluster");
    if (join_.length > 0 || bootstrap) {
      bad("restore-from", "cannot be combined with --join or --bootstrap (it makes a new cluster)");
    }
    if (clusterStore === "etcd") {
      bad(
        "restore-from",
        "restores a Raft cluster; with --cluster-store etcd use `ipamd state import`",
      );
    }
  }
  return {
    role,
    nodeId,
    dataDir,
    dataDirSource: source("data-dir") ?? "default",
    unixSocket,
    grpcAddr,
    advertiseAddr,
    metricsAddr,
    topology: str("topology"),
    tor: str("tor"),
    nodeLabels: labels,
    bootstrap,
    join: join_,
    restoreFrom,
    servers,
    enableStore: bool("enable-store", true),
    logLevel: logLevel as LogLevel,
    logFormat,
    heap,
    tlsCert,
    tlsKey,
    tlsCa: str("tls-ca"),
    tlsServerName: str("tls-server-name"),
    tlsIdentities,
    insecure,
    electionMs: num("election-ms", 1000, 100, 60_000),
    preallocateThreshold: num("preallocate-threshold", 0.2, 0, 1),
    raftSnapshotEntries: num("raft-snapshot-entries", 10_000, 0, 100_000_000),
    historyRetentionMs: parseDuration("history-retention", str("history-retention") ?? "30d"),
    clusterStore,
    etcd,
    kubernetes,
  };
}
