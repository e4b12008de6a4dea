// A load-generating client process of the node API benchmark (bench/run.ts forks several, so
// that the load generator is not what limits the rate). Usage: load-client.ts lean|grpc-js
// SOCKETS_JSON, where SOCKETS_JSON maps a target name to its unix socket. It connects to every
// target once, then answers each IPC message `{ target, concurrency, runMs, tag }` with one
// {@link LoadResult} after driving Allocate+Release pairs against that target.
import { createIpamClient, FamilySelection } from "@ipam/grpc-server";
import { createLeanIpamClient } from "@ipam/grpc-server/lean";
import { drive } from "./drive.js";

/** One request of the parent: drive `target` with `concurrency` loops for `runMs`. */
export interface LoadRequest {
  readonly target: string;
  readonly concurrency: number;
  readonly runMs: number;
  /** Makes every container id of this run unique across rounds and processes. */
  readonly tag: string;
}

/** What one client process did in one run. */
export interface LoadResult {
  readonly pairs: number;
  readonly elapsedMs: number;
  /** Per-pair latencies, ms. */
  readonly latencies: number[];
  /** CPU time this process spent in the run (user + system), ms. */
  readonly cpuMs: number;
}

/** What the benchmark needs of a node API client; both clients have it. */
interface Client {
  allocate(request: {
    network: string;
    containerId: string;
    ifname: string;
    families?: FamilySelection;
  }): Promise<unknown>;
  release(request: { network: string; containerId: string; ifname: string }): Promise<unknown>;
  close(): void;
}

const [kind, socketsJson] = process.argv.slice(2);
if ((kind !== "lean" && kind !== "grpc-js") || socketsJson === undefined) {
  throw new Error("usage: load-client.ts lean|grpc-js SOCKETS_JSON");
}
const connect = (socket: string): Client =>
  kind === "lean"
    ? createLeanIpamClient({ socketPath: socket })
    : createIpamClient({ addresses: [`unix:${socket}`] });
const clients = new Map<string, Client>(
  Object.entries(JSON.parse(socketsJson) as Record<string, string>).map(([name, socket]) => [
    name,
    connect(socket),
  ]),
);

process.on("message", (message: LoadRequest) => {
  void run(message).then(
    (result) => process.send?.(result),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
process.on("disconnect", () => {
  for (const c of clients.values()) c.close();
  process.exit(0);
});
process.send?.("ready");

async function run(request: LoadRequest): Promise<LoadResult> {
  const client = clients.get(request.target);
  if (client === undefined) throw new Error(`unknown target ${request.target}`);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const driven = await drive(request.concurrency, request.runMs, async (w, i) => {
    const key = { network: "bench", containerId: `${request.tag}-${w}-${i}`, ifname: "eth0" };
    // IPv6 (a /64 in /120 blocks): released addresses cool down, so sustained IPv4 churn
    // would exhaust the example's /21 within seconds.
    await client.allocate({ ...key, families: FamilySelection.IPV6 });
    await client.release(key);
  });
  const used = process.cpuUsage(cpu);
  return {
    pairs: driven.latencies.length,
    elapsedMs: performance.now() - started,
    latencies: driven.latencies,
    cpuMs: (used.user + used.system) / 1000,
  };
}
