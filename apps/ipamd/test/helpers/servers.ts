// Real `ipamd --role server` processes on 127.0.0.1 for the cluster-servers tests: start,
// restart (same flags), GetStatus of each, and the wait for a settled group. Every process is
// spawned through ./processes.ts (killed by PID in killAll()).
import { join } from "node:path";
import {
  type ClusterClient,
  createClusterClient,
  type GetStatusResponse,
  MemberRole,
  RaftRole,
} from "@ipam/grpc-server";
import { exampleTopology } from "@ipam/topology";
import {
  freePort,
  type IpamdProcess,
  logsOf,
  RETRY_ATTEMPTS,
  spawnIpamd,
  waitFor,
} from "./processes.js";

/** The servers' Raft election timeout: the daemon's default, calm on a loaded machine. */
export const ELECTION_MS = 1000;
export const TOR = [...exampleTopology().tors.keys()][0] ?? "";

export interface Server {
  readonly id: string;
  readonly address: string;
  readonly dataDir: string;
  proc: IpamdProcess;
  readonly client: ClusterClient;
}

const clients: ClusterClient[] = [];

/** A Cluster API client (closed by closeClients()). */
export function client(addresses: readonly string[]): ClusterClient {
  const c = createClusterClient({ addresses, deadlineMs: 30_000, maxAttempts: RETRY_ATTEMPTS });
  clients.push(c);
  return c;
}

/** Remember a client made elsewhere so that closeClients() closes it. */
export function keepClient(c: ClusterClient): ClusterClient {
  clients.push(c);
  return c;
}

export function closeClients(): void {
  for (const c of clients.splice(0)) c.close();
}

export function serverArgs(id: string, address: string, dataDir: string, extra: readonly string[]) {
  return [
    "--role",
    "server",
    "--node-id",
    id,
    "--data-dir",
    dataDir,
    "--grpc-addr",
    address,
    "--metrics-addr",
    "off",
    "--election-ms",
    String(ELECTION_MS),
    "--log-level",
    "info",
    ...extra,
  ];
}

export async function startServer(
  id: string,
  extra: readonly string[],
  root: string,
): Promise<Server> {
  const address = `127.0.0.1:${await freePort()}`;
  const dataDir = join(root, id);
  const proc = spawnIpamd(id, serverArgs(id, address, dataDir, extra));
  return { id, address, dataDir, proc, client: client([address]) };
}

/** Start `server` again with the flags it was started with. */
export function restart(server: Server): void {
  server.proc = spawnIpamd(`${server.id}'`, server.proc.args);
}

/** GetStatus of every server, once all answer. */
export async function statuses(servers: readonly Server[]): Promise<GetStatusResponse[]> {
  return Promise.all(servers.map((s) => s.client.getStatus({}, { deadlineMs: 5000 })));
}

/** Waits until all `servers` agree on one leader among them and list `voters` as voters. */
export async function waitForGroup(
  servers: readonly Server[],
  voters: readonly string[],
): Promise<GetStatusResponse[]> {
  return waitFor(
    `a leader and voters ${voters.join(",")} on ${servers.map((s) => s.id).join(",")}`,
    async () => {
      const all = await statuses(servers);
      const leader = all[0]?.leaderId ?? "";
      if (leader === "" || !all.every((st) => st.leaderId === leader)) return undefined;
      if (all.filter((st) => st.role === RaftRole.LEADER).length !== 1) return undefined;
      for (const st of all) {
        const v = st.members
          .filter((m) => m.role === MemberRole.VOTER)
          .map((m) => m.id)
          .sort();
        if (v.join(",") !== [...voters].sort().join(",")) return undefined;
      }
      return all;
    },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(servers.map((s) => s.proc))}`);
  });
}
