// `ipamd --role agent` against three `--role server` processes on loopback, and a role-all
// process as the same-run baseline, each with its own durable SQLite data dir; the clients run
// in this process. Allocate+Release pairs over the agent's unix socket: block mode (IPv6
// default), direct mode (IPv6 management: every address allocated in L1, concurrent requests
// batched by the agent), and block mode again with every server SIGKILLed (degraded). The
// topology is the example with tor-a1-1's IPv6 management subnet widened to a /104 and no
// cool-down on its IPv6 default subnet (both daemons use it).
// Writes bench-results/ipamd-agent.json.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchRow, printTable, writeBenchResults } from "@ipam/bench-kit";
import {
  createClusterClient,
  createIpamClient,
  FamilySelection,
  type IpamClient,
  ReadyState,
} from "@ipam/grpc-server";
import { exampleTopology, toCanonicalConfig } from "@ipam/topology";
import {
  freePort,
  type IpamdProcess,
  killAll,
  spawnIpamd,
  tempDir,
  waitFor,
} from "../test/helpers/processes.js";
import { type Driven, drive as driveFor, type RunRows, runRows } from "./drive.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUN_MS = Number(process.env.BENCH_MS ?? 4000);

/** The example topology with tor-a1-1's direct-mode IPv6 management subnet widened to a /104. */
function benchTopology(dir: string): string {
  const config = toCanonicalConfig(exampleTopology()) as unknown as {
    zones: {
      pods: {
        tors: { id: string; subnets: { id: string; cidr: string; cooldownSeconds?: number }[] }[];
      }[];
    }[];
  };
  for (const zone of config.zones)
    for (const pod of zone.pods)
      for (const tor of pod.tors)
        for (const subnet of tor.subnets)
          if (subnet.id === "tor-a1-1-management-v6") subnet.cidr = "fd99:0:0:2::/104";
          // No cool-down on the default IPv6 subnet: the degraded rows churn the held blocks
          // without running them dry (with 30 s they last a few hundred pairs).
          else if (subnet.id === "tor-a1-1-default-v6") subnet.cooldownSeconds = 0;
  const path = join(dir, "topology.json");
  writeFileSync(path, JSON.stringify(config));
  return path;
}

async function ready(client: IpamClient, reason: (r: string) => boolean): Promise<void> {
  await waitFor(
    "the node API to be ready",
    async () => {
      const s = await client.status({}, { deadlineMs: 1000 });
      return s.state === ReadyState.READY && reason(s.reason) ? true : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

async function main(): Promise<void> {
  const dir = tempDir("ipamd-agent-bench");
  const topology = benchTopology(dir);
  const servers: IpamdProcess[] = [];
  const addresses: string[] = [];
  for (let i = 1; i <= 3; i++) addresses.push(`127.0.0.1:${await freePort()}`);
  for (let i = 1; i <= 3; i++) {
    servers.push(
      spawnIpamd(`s${i}`, [
        ...["--role", "server", "--node-id", `s${i}`, "--data-dir", join(dir, `s${i}`)],
        ...["--grpc-addr", addresses[i - 1] as string, "--metrics-addr", "off"],
        ...["--log-level", "warn", "--election-ms", "1000"],
        ...(i === 1 ? ["--bootstrap", "--topology", topology] : ["--join", addresses[0] as string]),
      ]),
    );
  }
  const l1 = createClusterClient({ addresses });
  await waitFor(
    "3 voters and a leader",
    async () => {
      const st = await l1.getStatus({});
      return st.members.length === 3 && st.leaderId !== "" ? true : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const agentSock = join(dir, "agent", "ipamd.sock");
  spawnIpamd("agent", [
    ...["--role", "agent", "--servers", addresses.join(","), "--node-id", "bench-agent"],
    ...["--tor", "tor-a1-1", "--data-dir", join(dir, "agent"), "--unix-socket", agentSock],
    ...["--metrics-addr", "off", "--log-level", "warn"],
  ]);
  const allSock = join(dir, "all", "ipamd.sock");
  spawnIpamd("all", [
    ...["--data-dir", join(dir, "all"), "--unix-socket", allSock, "--node-id", "bench-all"],
    ...["--topology", topology, "--tor", "tor-a1-1"],
    ...["--grpc-addr", `127.0.0.1:${await freePort()}`, "--metrics-addr", "off"],
    ...["--log-level", "warn"],
  ]);
  const agent = createIpamClient({ addresses: [`unix:${agentSock}`] });
  const all = createIpamClient({ addresses: [`unix:${allSock}`] });
  await ready(agent, (r) => r === "");
  await ready(all, (r) => r === "");

  const rows: BenchRow[] = [];
  const record = (name: string, r: Driven, baseline?: RunRows) => {
    const run = runRows(name, "pairs/s", r, baseline === undefined ? {} : { baseline });
    rows.push(run.rate, run.latency);
    return run;
  };
  // Degraded rows end when the held blocks run out (UNAVAILABLE "try again").
  const drive = (n: number, op: (w: number, i: number) => Promise<void>, untilDry = false) =>
    driveFor(n, RUN_MS, op, (err) => untilDry && (err as { code?: string }).code === "UNAVAILABLE");
  const pair = (c: IpamClient, tag: string, purpose: string) => async (w: number, i: number) => {
    const key = { network: "bench", containerId: `${tag}-${w}-${i}`, ifname: "eth0" };
    await c.allocate({ ...key, purpose, families: FamilySelection.IPV6 });
    await c.release(key);
  };
  const baselines = new Map<number, RunRows>();
  for (const n of [1, 64]) {
    baselines.set(
      n,
      record(
        `role all: Allocate+Release (IPv6 default, block mode), ${n} client(s)`,
        await drive(n, pair(all, `all${n}`, "default")),
      ),
    );
  }
  for (const n of [1, 64]) {
    record(
      `agent + 3 servers: Allocate+Release (IPv6 default, block mode), ${n} client(s)`,
      await drive(n, pair(agent, `blk${n}`, "default")),
      baselines.get(n),
    );
  }
  for (const n of [1, 64]) {
    record(
      `agent + 3 servers: Allocate+Release (IPv6 management, direct mode in L1), ${n} client(s)`,
      await drive(n, pair(agent, `dir${n}`, "management")),
      baselines.get(n),
    );
  }
  for (const s of servers) s.kill("SIGKILL");
  await Promise.all(servers.map((s) => s.exited()));
  await ready(agent, (r) => r.includes("cluster unreachable"));
  for (const n of [1, 64]) {
    record(
      `agent, every server SIGKILLed (degraded): Allocate+Release (IPv6 default), ${n} client(s)`,
      await drive(n, pair(agent, `deg${n}`, "default"), true),
      baselines.get(n),
    );
  }
  agent.close();
  all.close();
  l1.close();
  await killAll();

  const path = writeBenchResults(ROOT, "ipamd-agent", rows);
  printTable(rows);
  console.log(`written to ${path}`);
}

main().catch(async (err: unknown) => {
  console.error(err);
  await killAll();
  process.exitCode = 1;
});
