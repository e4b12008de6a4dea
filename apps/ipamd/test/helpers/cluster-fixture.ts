// A cluster of real processes for process-level tests: three `ipamd --role server` processes
// (one --bootstrap, two --join) and agents (`--role agent`) on 127.0.0.1, each with its own
// data dir, ports picked free. Everything started here is SIGKILLed by PID in `killAll()`.
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  type IpamClient,
  RaftRole,
  ReadyState,
} from "@ipam/grpc-server";
import {
  freePort,
  type IpamdProcess,
  logsOf,
  POLL_RPC_MS,
  RETRY_ATTEMPTS,
  spawnIpamd,
  waitFor,
} from "./processes.js";

export interface ServerProc {
  readonly id: string;
  readonly address: string;
  proc: IpamdProcess;
}

export interface AgentProc {
  readonly id: string;
  readonly socket: string;
  proc: IpamdProcess;
  readonly ipam: IpamClient;
}

export interface ClusterFixture {
  readonly root: string;
  readonly servers: ServerProc[];
  readonly agents: AgentProc[];
  /** A Cluster API client over every server. */
  readonly l1: ClusterClient;
  /** Every process, for failure messages. */
  procs(): IpamdProcess[];
  /** Starts an agent under `tor` (with `extra` args) and waits until it is ready. */
  startAgent(id: string, tor: string, extra?: readonly string[]): Promise<AgentProc>;
  /** Starts a stopped (killed) agent again with its arguments and waits until it is ready. */
  restartAgent(agent: AgentProc): Promise<void>;
  /** Starts a stopped (killed) server again with its arguments. */
  restartServer(server: ServerProc): void;
  /** The server that leads now (asked through `l1`). */
  leader(): Promise<ServerProc>;
  close(): void;
}

/** Three servers with a leader and three voters; `serverExtra` is added to each server's args. */
export async function startCluster(
  root: string,
  serverExtra: readonly string[] = [],
): Promise<ClusterFixture> {
  const servers: ServerProc[] = [];
  const closers: Array<{ close(): void }> = [];
  const addresses: string[] = [];
  for (let i = 1; i <= 3; i++) addresses.push(`127.0.0.1:${await freePort()}`);
  for (let i = 1; i <= 3; i++) {
    const id = `s${i}`;
    const address = addresses[i - 1] as string;
    const proc = spawnIpamd(id, [
      "--role",
      "server",
      "--node-id",
      id,
      "--data-dir",
      join(root, id),
      "--grpc-addr",
      address,
      "--metrics-addr",
      "off",
      "--election-ms",
      "500",
      "--log-level",
      "info",
      ...(i === 1 ? ["--bootstrap"] : ["--join", addresses[0] as string]),
      ...serverExtra,
    ]);
    servers.push({ id, address, proc });
  }
  const l1 = createClusterClient({ addresses, deadlineMs: 30_000, maxAttempts: RETRY_ATTEMPTS });
  closers.push(l1);
  const procs = () => servers.map((s) => s.proc);
  await waitFor(
    "three voters with a leader",
    async () => {
      const st = await l1.getStatus({}, { deadlineMs: POLL_RPC_MS });
      const leader = await l1.getLeader({}, { deadlineMs: POLL_RPC_MS });
      return st.members.length === 3 &&
        leader.leaderId !== "" &&
        (st.role === RaftRole.LEADER || st.role === RaftRole.FOLLOWER)
        ? st
        : undefined;
    },
    { timeoutMs: 90_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(procs())}`);
  });
  return clusterFixture({ root, servers, addresses, l1, closers, leaderWord: "leader" });
}

/**
 * The part of a {@link ClusterFixture} that does not depend on the cluster store: agents on
 * `addresses`, restarts, the leader (or the etcd store's controller: `leaderWord`), clean-up.
 * `closers` are closed by `close()` with the agents' clients.
 */
export function clusterFixture(parts: {
  readonly root: string;
  readonly servers: ServerProc[];
  readonly addresses: readonly string[];
  readonly l1: ClusterClient;
  readonly closers: Array<{ close(): void }>;
  readonly leaderWord: string;
}): ClusterFixture {
  const { root, servers, addresses, l1, closers, leaderWord } = parts;
  const agents: AgentProc[] = [];
  const procs = () => [...servers.map((s) => s.proc), ...agents.map((a) => a.proc)];
  const ready = async (a: AgentProc) =>
    waitFor(
      `${a.id} to be ready`,
      async () => {
        const s = await a.ipam.status({}, { deadlineMs: POLL_RPC_MS });
        return s.state === ReadyState.READY && s.reason === "" ? s : undefined;
      },
      { timeoutMs: 120_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf(procs())}`);
    });
  return {
    root,
    servers,
    agents,
    l1,
    procs,
    async startAgent(id, tor, extra = []) {
      const dir = join(root, id);
      const socket = join(dir, "ipamd.sock");
      const proc = spawnIpamd(id, [
        "--role",
        "agent",
        "--servers",
        addresses.join(","),
        "--node-id",
        id,
        "--tor",
        tor,
        "--data-dir",
        dir,
        "--unix-socket",
        socket,
        "--metrics-addr",
        "off",
        "--log-level",
        "info",
        ...extra,
      ]);
      const ipam = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 15_000 });
      closers.push(ipam);
      const agent = { id, socket, proc, ipam };
      agents.push(agent);
      await ready(agent);
      return agent;
    },
    async restartAgent(agent) {
      agent.proc = spawnIpamd(`${agent.id}'`, agent.proc.args);
      await ready(agent);
    },
    restartServer(server) {
      server.proc = spawnIpamd(`${server.id}'`, server.proc.args);
    },
    async leader() {
      const l = await waitFor(`a ${leaderWord}`, async () => {
        const r = await l1.getLeader({}, { deadlineMs: POLL_RPC_MS });
        return r.leaderId === "" ? undefined : r;
      });
      const s = servers.find((x) => x.id === l.leaderId);
      if (s === undefined) throw new Error(`${leaderWord} ${l.leaderId} is not one of the servers`);
      return s;
    },
    close() {
      for (const c of closers) c.close();
    },
  };
}
