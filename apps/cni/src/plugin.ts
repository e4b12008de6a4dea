import type { AllocateOutput, AttachmentKey, IpamBackend } from "./backend.js";
import { parseCniArgs } from "./cni-args.js";
import { type CniEnv, type EnvMap, readCniEnv } from "./cni-env.js";
import { CniError, cniCodeOf } from "./cni-error.js";
import { createDebugLog, type DebugLog, type TextSink } from "./debug-log.js";
import { type IpFamily, parseCidr, parseIp } from "./ip.js";
import {
  type DecodedConf,
  decodeConf,
  type IpamConfig,
  type NetConf,
  parseNetConf,
  parseValidAttachments,
  type RequestedIp,
} from "./net-conf.js";
import { buildResult, describeHeld, prevResultAddresses } from "./result.js";
import {
  type CniVersion,
  isSupportedVersion,
  LATEST_VERSION,
  requireVersion,
  SUPPORTED_VERSIONS,
} from "./versions.js";

/** What the default backend is built from: the validated `ipam` section's connection keys. */
export interface BackendOptions {
  readonly socketPath: string;
  readonly timeoutMs: number;
}

/** Builds a backend for one invocation; the plugin closes it when the verb is done. */
export type BackendFactory = (options: BackendOptions) => IpamBackend | Promise<IpamBackend>;

/** Everything one plugin invocation receives, as the reference `skel` passes it. */
export interface PluginIo {
  /** The process environment (`CNI_COMMAND`, `CNI_CONTAINERID`, ...; `IPAMD_CNI_DEBUG`). */
  readonly env: EnvMap;
  /** The whole of stdin: the network configuration (ignored by VERSION beyond `cniVersion`). */
  readonly stdin: string | Uint8Array;
  /** Receives the result or error JSON, and nothing else. */
  readonly stdout: TextSink;
  /** Receives debug lines when debugging is on (`IPAMD_CNI_DEBUG=1` or `ipam.debug: true`). */
  readonly stderr: TextSink;
  /** A backend to use as is (the caller keeps ownership: it is not closed). */
  readonly backend?: IpamBackend;
  /**
   * Builds the backend from the config when `backend` is absent (the result is closed after the
   * verb). Default: the gRPC backend over ipamd's unix socket, loaded on first use.
   */
  readonly createBackend?: BackendFactory;
}

/** The CNI error document printed on stdout. */
export interface CniErrorJson {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details: string;
}

/** Printed on stderr when the plugin is run without `CNI_COMMAND` (by a human). */
export const PLUGIN_ABOUT = `ipamd-cni: CNI IPAM plugin for ipamd (CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")})`;

const defaultFactory: BackendFactory = async (options) => {
  const { createGrpcBackend } = await import("./backend-grpc.js");
  return createGrpcBackend(options);
};

function textOf(stdin: string | Uint8Array): string {
  return typeof stdin === "string" ? stdin : Buffer.from(stdin).toString("utf8");
}

/** Convert anything thrown into the CNI error document. Never includes a stack trace. */
export function toErrorJson(error: unknown, cniVersion: string): CniErrorJson {
  const cniError =
    error instanceof CniError
      ? error
      : new CniError("INTERNAL", error instanceof Error ? error.message : String(error));
  let details = "";
  if (cniError.details !== undefined) {
    try {
      details = JSON.stringify(cniError.details);
    } catch {
      details = "";
    }
  }
  return { cniVersion, code: cniCodeOf(cniError.code), msg: cniError.message, details };
}

/**
 * Run one CNI invocation: read the verb from `env`, the configuration from `stdin`, talk to the
 * backend, print the result (ADD, VERSION) or an error document on `stdout`, and resolve to the
 * exit status: 0 on success, otherwise the CNI error code (1-11, 50, 51, 100+; see docs/cni.md).
 * It never rejects and never writes anything but JSON to `stdout`.
 */
export async function runPlugin(io: PluginIo): Promise<number> {
  let version: string = LATEST_VERSION;
  let debugOn = isTruthy(io.env.IPAMD_CNI_DEBUG);
  const debug = createDebugLog(io.stderr, () => debugOn);
  let created: IpamBackend | undefined;
  try {
    let env: CniEnv;
    try {
      env = readCniEnv(io.env);
    } catch (error) {
      if ((io.env.CNI_COMMAND ?? "") === "") io.stderr.write(`${PLUGIN_ABOUT}\n`);
      throw error;
    }
    const stdin = textOf(io.stdin);
    if (env.command === "VERSION") {
      version = versionAsked(stdin);
      io.stdout.write(
        `${JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS })}\n`,
      );
      return 0;
    }
    const decoded = decodeConf(stdin);
    version = decoded.cniVersion;
    const conf = parseNetConf(decoded);
    if (conf.ipam.debug) debugOn = true;
    debug("invoked", {
      command: env.command,
      cniVersion: version,
      network: conf.name,
      containerId: env.containerId,
      ifname: env.ifname,
    });
    if (env.command === "CHECK") requireVersion(decoded.cniVersion, "0.4.0", "CHECK");
    if (env.command === "GC" || env.command === "STATUS") {
      requireVersion(decoded.cniVersion, "1.1.0", env.command);
    }
    // Everything that can be validated is validated before a connection is made.
    const addInput = env.command === "ADD" ? prepareAdd(env, conf) : undefined;
    const checkAddresses = env.command === "CHECK" ? checkExpectation(conf) : undefined;
    const valid = env.command === "GC" ? parseValidAttachments(decoded.raw) : undefined;

    let backend = io.backend;
    if (backend === undefined) {
      created = await (io.createBackend ?? defaultFactory)({
        socketPath: conf.ipam.socketPath,
        timeoutMs: conf.ipam.timeoutMs,
      });
      backend = created;
    }
    const key: AttachmentKey = {
      network: conf.name,
      containerId: env.containerId,
      ifname: env.ifname,
    };
    switch (env.command) {
      case "ADD":
        return await add(io, backend, addInput ?? failInternal(), conf, decoded, debug);
      case "DEL": {
        const { released } = await backend.release(key);
        debug("released", { released });
        return 0;
      }
      case "CHECK":
        await check(backend, key, checkAddresses ?? [], debug);
        return 0;
      case "GC": {
        const { released } = await backend.gc(conf.name, valid ?? []);
        debug("garbage collected", { released: released.length });
        return 0;
      }
      case "STATUS":
        await status(backend, conf.name, conf.ipam.purpose, conf.ipam.families);
        return 0;
      default:
        return failInternal();
    }
  } catch (error) {
    const json = toErrorJson(error, version);
    debug("failed", { code: json.code, msg: json.msg });
    io.stdout.write(`${JSON.stringify(json)}\n`);
    return json.code;
  } finally {
    created?.close();
  }
}

function failInternal(): never {
  throw new CniError("INTERNAL", "internal error: missing prepared request");
}

function isTruthy(value: string | undefined): boolean {
  return value === "1" || value?.toLowerCase() === "true";
}

/** VERSION answers in the version it was asked in when that is supported, else the latest. */
function versionAsked(stdin: string): CniVersion {
  try {
    const asked = (JSON.parse(stdin) as { cniVersion?: unknown } | null)?.cniVersion;
    return isSupportedVersion(asked) ? asked : LATEST_VERSION;
  } catch {
    return LATEST_VERSION;
  }
}

interface AddInput {
  readonly key: AttachmentKey;
  readonly families: readonly IpFamily[];
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly podUid?: string;
  readonly requested: readonly string[];
}

function prepareAdd(env: CniEnv, conf: NetConf): AddInput {
  const args = parseCniArgs(env.args);
  const sources: RequestedIp[] = [
    ...conf.requestedIps,
    ...args.ips.map((value) => ({ field: "CNI_ARGS IP", value })),
  ];
  return {
    key: { network: conf.name, containerId: env.containerId, ifname: env.ifname },
    families: conf.ipam.families,
    ...(args.podNamespace === undefined ? {} : { podNamespace: args.podNamespace }),
    ...(args.podName === undefined ? {} : { podName: args.podName }),
    ...(args.podUid === undefined ? {} : { podUid: args.podUid }),
    requested: requestedAddresses(sources, conf.ipam),
  };
}

/**
 * Validate requested static addresses: each an IP or `IP/prefix` of a configured family, at most
 * one per family (duplicates of the same address collapse). Returns canonical addresses.
 */
function requestedAddresses(sources: readonly RequestedIp[], ipam: IpamConfig): string[] {
  const byFamily = new Map<IpFamily, string>();
  for (const { field, value } of sources) {
    const parsed = value.includes("/") ? parseCidr(value) : parseIp(value);
    if (parsed === undefined) {
      throw new CniError(
        "INVALID_CONFIG",
        `${field}: ${JSON.stringify(value)} is not an IP address`,
        {
          details: { field },
        },
      );
    }
    if (!ipam.families.includes(parsed.family)) {
      throw new CniError(
        "INVALID_CONFIG",
        `${field}: ${value} is ${parsed.family} but ipam.families is [${ipam.families.join(", ")}]`,
        { details: { field } },
      );
    }
    const previous = byFamily.get(parsed.family);
    if (previous !== undefined && previous !== parsed.address) {
      throw new CniError(
        "INVALID_CONFIG",
        `${field}: ${value} is a second ${parsed.family} address (already ${previous}); one per family`,
        { details: { field } },
      );
    }
    byFamily.set(parsed.family, parsed.address);
  }
  return (["ipv4", "ipv6"] as const).flatMap((f) => {
    const address = byFamily.get(f);
    return address === undefined ? [] : [address];
  });
}

async function add(
  io: PluginIo,
  backend: IpamBackend,
  input: AddInput,
  conf: NetConf,
  decoded: DecodedConf,
  debug: DebugLog,
): Promise<number> {
  const output: AllocateOutput = await backend.allocate({
    ...input.key,
    purpose: conf.ipam.purpose,
    families: input.families,
    ...(input.podNamespace === undefined ? {} : { podNamespace: input.podNamespace }),
    ...(input.podName === undefined ? {} : { podName: input.podName }),
    ...(input.podUid === undefined ? {} : { podUid: input.podUid }),
    requestedAddresses: input.requested,
  });
  for (const family of input.families) {
    if (!output.addresses.some((a) => a.family === family)) {
      throw new CniError("PROTOCOL_ERROR", `ipamd answered without an ${family} address`, {
        details: { addresses: output.addresses.map((a) => a.address) },
      });
    }
  }
  const result = buildResult(decoded.cniVersion, output, conf.ipam);
  debug("allocated", { ips: result.ips.map((ip) => ip.address) });
  io.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

function checkExpectation(conf: NetConf): string[] {
  if (conf.prevResult === undefined) {
    throw new CniError("INVALID_CONFIG", "prevResult: required for CHECK", {
      details: { field: "prevResult" },
    });
  }
  return prevResultAddresses(conf.prevResult);
}

async function check(
  backend: IpamBackend,
  key: AttachmentKey,
  expected: readonly string[],
  debug: DebugLog,
): Promise<void> {
  const answer = await backend.check(key, expected);
  debug("checked", { ok: answer.ok, reason: answer.reason });
  if (answer.ok) return;
  if (answer.held.length === 0) {
    throw new CniError(
      "UNKNOWN_CONTAINER",
      `no allocation for container ${key.containerId} interface ${key.ifname} on network ${key.network}`,
      { details: { expected } },
    );
  }
  throw new CniError(
    "CHECK_MISMATCH",
    `allocation differs from prevResult: ${answer.reason || "addresses differ"}; held: ${describeHeld(answer.held)}`,
    { details: { expected, held: answer.held.map((a) => a.address) } },
  );
}

/** STATUS: 0 ready; 50 exhausted or ipamd unreachable; 51 ipamd reports itself unavailable. */
async function status(
  backend: IpamBackend,
  network: string,
  purpose: string,
  families: readonly IpFamily[],
): Promise<void> {
  let answer: Awaited<ReturnType<IpamBackend["status"]>>;
  try {
    answer = await backend.status(network, purpose, families);
  } catch (error) {
    if (
      error instanceof CniError &&
      (cniCodeOf(error.code) === 11 || error.code === "PERMISSION_DENIED")
    ) {
      throw new CniError("PLUGIN_NOT_AVAILABLE", `ipamd cannot be reached: ${error.message}`, {
        cause: error,
        details: { reason: error.code },
      });
    }
    throw error;
  }
  if (answer.state === "ready") return;
  if (answer.state === "exhausted") {
    throw new CniError("PLUGIN_NOT_AVAILABLE", `no address can be allocated: ${answer.reason}`, {
      details: { state: answer.state },
    });
  }
  throw new CniError("PLUGIN_DEGRADED", `ipamd is not ready: ${answer.reason}`, {
    details: { state: answer.state },
  });
}
