import { type ClientTlsOptions, readClientTls } from "@ipam/grpc-server";
import { CliError, usageError } from "./cli-error.js";

/** The connection options every command shares (parsed by commander, env already applied). */
export interface ConnectionFlags {
  /** `--server HOST:PORT,...` / IPAMD_SERVERS: the cluster's servers. */
  readonly server: string;
  /** `--unix-socket PATH` / IPAMD_UNIX_SOCKET: this machine's agent. */
  readonly unixSocket?: string | undefined;
  /** `--node ADDR` (repeatable): other agents, `unix:PATH` or `HOST:PORT`. */
  readonly node?: readonly string[] | undefined;
  readonly tlsCa?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsServerName?: string | undefined;
  /** `--timeout SECONDS`: the deadline of each call, retries included. */
  readonly timeout: string;
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/;

/**
 * The cluster server addresses of `--server`, in order.
 * @throws CliError (usage) naming --server when one is not HOST:PORT.
 */
export function serverAddresses(flags: Pick<ConnectionFlags, "server">): string[] {
  const list = flags.server
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (list.length === 0) throw usageError("server", "give at least one HOST:PORT");
  for (const address of list) {
    const m = HOST_PORT.exec(address);
    if (m === null || Number(m[1]) > 65535) {
      throw usageError("server", `"${address}" is not HOST:PORT (IPv6 as [::1]:7400)`);
    }
  }
  return list;
}

/** A node agent to dial: its address and, when given as `NODE=ADDR`, the node it serves. */
export interface AgentTarget {
  readonly address: string;
  readonly nodeId?: string;
}

/**
 * The agents of `--node` (each `[NODE=]unix:PATH` or `[NODE=]HOST:PORT`) then `--unix-socket`,
 * without duplicate addresses. Naming the node lets `check` report a node whose agent does not
 * answer.
 * @throws CliError (usage) naming --node when one is neither.
 */
export function agentTargets(flags: Pick<ConnectionFlags, "node" | "unixSocket">): AgentTarget[] {
  const out: AgentTarget[] = [];
  for (const raw of flags.node ?? []) {
    const text = raw.trim();
    const eq = text.indexOf("=");
    const named = eq > 0 && !/[:/]/.test(text.slice(0, eq));
    const address = named ? text.slice(eq + 1) : text;
    if (!(address.startsWith("unix:") && address.length > 5) && !HOST_PORT.test(address)) {
      throw usageError(
        "node",
        `"${raw}" is not [NODE=]unix:PATH or [NODE=]HOST:PORT (a node agent's address)`,
      );
    }
    if (out.some((t) => t.address === address)) continue;
    out.push(named ? { address, nodeId: text.slice(0, eq) } : { address });
  }
  if (flags.unixSocket !== undefined && flags.unixSocket !== "") {
    const address = `unix:${flags.unixSocket}`;
    if (!out.some((t) => t.address === address)) out.push({ address });
  }
  return out;
}

/** `--timeout` in ms. @throws CliError (usage) naming --timeout. */
export function timeoutMs(flags: Pick<ConnectionFlags, "timeout">): number {
  const seconds = Number(flags.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw usageError("timeout", `"${flags.timeout}" is not a positive number of seconds`);
  }
  return Math.round(seconds * 1000);
}

/**
 * Attempts per call for a client whose calls end at `deadlineMs` (`--timeout`): enough that the
 * retries (UNAVAILABLE, "no leader known" during an election, with backoff capped at 1 s) go on
 * until the deadline, as `--timeout` promises ("retries included"), instead of the client's
 * default of five attempts (about 1.5 s of backoff: an election on a busy machine takes longer).
 * Still bounded, so that a redirection loop between servers cannot spin.
 */
export function attemptsWithin(deadlineMs: number): number {
  return Math.ceil(deadlineMs / 500) + 5;
}

/**
 * The client TLS of the TLS flags (shared with ipamd: @ipam/grpc-server's readClientTls).
 * @throws CliError (usage) naming the flag whose file cannot be read.
 */
export function clientTls(flags: ConnectionFlags): ClientTlsOptions | undefined {
  try {
    return readClientTls({
      ca: flags.tlsCa,
      cert: flags.tlsCert,
      key: flags.tlsKey,
      serverName: flags.tlsServerName,
    });
  } catch (err) {
    throw new CliError("USAGE", (err as Error).message, { cause: err });
  }
}
