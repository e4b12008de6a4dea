// An etcd-backed cluster of real processes for process-level tests: a real etcd cluster on
// loopback (./etcd.ts), `ipamd --role server --cluster-store etcd` servers on a fresh prefix and
// agents (`--role agent`), each with its own data dir, ports picked free. It has the shape of
// ./cluster-fixture.ts's Raft cluster, so a test written against one runs against the other.
// ipamd processes are SIGKILLed by PID in `killAll()`, etcd members in `killAllEtcd()`.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createClusterClient } from "@ipam/grpc-server";
import { type ClusterFixture, clusterFixture, type ServerProc } from "./cluster-fixture.js";
import { type EtcdCluster, startEtcdCluster } from "./etcd.js";
import { freePort, logsOf, spawnIpamd, waitFor } from "./processes.js";

/** A {@link ClusterFixture} whose servers keep the cluster state in `etcd` under `prefix`. */
export interface EtcdStoreFixture extends ClusterFixture {
  readonly etcd: EtcdCluster;
  readonly prefix: string;
  /** Each server's metrics port, in server order (with `metrics: true`; else empty). */
  readonly metricsPorts: readonly number[];
}

/**
 * Starts an etcd cluster of `etcdMembers` members and `servers` ipamd servers on one new prefix;
 * resolves once every server names the same controller and serves the example topology.
 */
export async function startEtcdStoreCluster(
  root: string,
  options: {
    readonly etcdMembers?: number;
    readonly servers?: number;
    /** Serve each server's metrics on a free loopback port. */
    readonly metrics?: boolean;
  } = {},
): Promise<EtcdStoreFixture> {
  const etcd = await startEtcdCluster(options.etcdMembers ?? 3);
  const prefix = `/ipamd-test/${randomBytes(4).toString("hex")}`;
  const servers: ServerProc[] = [];
  const closers: Array<{ close(): void }> = [];
  const addresses: string[] = [];
  const count = options.servers ?? 2;
  for (let i = 1; i <= count; i++) addresses.push(`127.0.0.1:${await freePort()}`);
  const metricsPorts: number[] = [];
  if (options.metrics === true)
    for (let i = 1; i <= count; i++) metricsPorts.push(await freePort());
  for (let i = 1; i <= count; i++) {
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
      options.metrics === true ? `127.0.0.1:${metricsPorts[i - 1]}` : "off",
      "--log-level",
      "info",
      "--cluster-store",
      "etcd",
      "--etcd-endpoints",
      etcd.endpoints,
      "--etcd-prefix",
      prefix,
    ]);
    servers.push({ id, address, proc });
  }
  const l1 = createClusterClient({ addresses, deadlineMs: 10_000 });
  closers.push(l1);
  const procs = () => servers.map((s) => s.proc);
  const each = addresses.map((a) => createClusterClient({ addresses: [a], deadlineMs: 5000 }));
  closers.push(...each);
  await waitFor(
    "the etcd-store servers to agree on a controller and serve the example topology",
    async () => {
      const st = await Promise.all(each.map((c) => c.getStatus({}, { deadlineMs: 5000 })));
      const controller = st[0]?.leaderId ?? "";
      if (controller === "" || !st.every((s) => s.leaderId === controller)) return undefined;
      const t = await Promise.all(each.map((c) => c.getTopology({}, { deadlineMs: 5000 })));
      return t.every((x) => x.topologyJson.includes("tor-a1-1")) ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(procs())}`);
  });
  return {
    ...clusterFixture({ root, servers, addresses, l1, closers, leaderWord: "controller" }),
    etcd,
    prefix,
    metricsPorts,
  };
}
