// Real etcd members (Debian's etcd-server) on 127.0.0.1 for tests and benchmarks: random free
// ports, a temp data dir per member, a cluster token unique to the run. Every member started
// here is remembered and SIGKILLed by PID in `killAllEtcd()`.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EtcdClient } from "../../src/etcd/etcd-client.js";
import { freePort, tempDir, waitFor } from "./processes.js";

/** The etcd binary: `$ETCD_BIN`, else `etcd` on the PATH. */
export const ETCD_BIN = process.env.ETCD_BIN ?? "etcd";

/** True when an etcd binary runs here (`etcd --version`). */
export function etcdAvailable(): boolean {
  const r = spawnSync(ETCD_BIN, ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

export interface EtcdMember {
  readonly name: string;
  /** `127.0.0.1:port` of its client URL (what ipamd's --etcd-endpoints takes). */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  proc: ChildProcess;
  /** The last 100 lines of its stderr. */
  readonly log: string[];
  running(): boolean;
  /** SIGKILL (or `signal`) by PID; resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same data dir (after a kill). */
  restart(): void;
}

export interface EtcdCluster {
  readonly members: EtcdMember[];
  /** Every member's endpoint, comma-separated (for --etcd-endpoints). */
  readonly endpoints: string;
  /** The member every live member names as leader; waits up to `timeoutMs`. */
  leader(timeoutMs?: number): Promise<EtcdMember>;
  /** Waits until every running member reports one leader. */
  healthy(timeoutMs?: number): Promise<void>;
}

const all: EtcdMember[] = [];
const probes: EtcdClient[] = [];

function spawnMember(name: string, args: readonly string[], log: string[]): ChildProcess {
  const child = spawn(ETCD_BIN, [...args], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.setEncoding("utf8");
  let partial = "";
  child.stderr?.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      log.push(line);
      if (log.length > 100) log.shift();
    }
    if (process.env.IPAMD_TEST_LOGS === "1") process.stderr.write(`[${name}] ${chunk}`);
  });
  return child;
}

/**
 * Starts an etcd cluster of `size` members on loopback and waits until it has a leader.
 * `extraArgs` go to every member (e.g. `--max-request-bytes`, auth is set up by the caller).
 */
export async function startEtcdCluster(
  size: number,
  options: {
    readonly extraArgs?: readonly string[];
    readonly timeoutMs?: number;
    /**
     * Serve clients over TLS with this certificate (for 127.0.0.1) signed by `ca`; with
     * `clientCertAuth` every client must present a certificate signed by `ca` too (etcd
     * `--client-cert-auth`), and the helper's own probe presents `cert`.
     */
    readonly tls?: {
      readonly cert: string;
      readonly key: string;
      readonly ca: string;
      readonly clientCertAuth?: boolean;
    };
  } = {},
): Promise<EtcdCluster> {
  const root = tempDir("ipamd-etcd");
  const token = `ipamd-test-${randomBytes(6).toString("hex")}`;
  const specs: Array<{ name: string; client: number; peer: number }> = [];
  for (let i = 1; i <= size; i++) {
    specs.push({ name: `e${i}`, client: await freePort(), peer: await freePort() });
  }
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(",");
  const members: EtcdMember[] = specs.map((s) => {
    const dataDir = join(root, s.name);
    const peerUrl = `http://127.0.0.1:${s.peer}`;
    const clientUrl = `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${s.client}`;
    const args = [
      "--name",
      s.name,
      "--data-dir",
      dataDir,
      "--listen-client-urls",
      clientUrl,
      "--advertise-client-urls",
      clientUrl,
      "--listen-peer-urls",
      peerUrl,
      "--initial-advertise-peer-urls",
      peerUrl,
      "--initial-cluster",
      initial,
      "--initial-cluster-token",
      token,
      "--initial-cluster-state",
      "new",
      "--logger",
      "zap",
      "--log-level",
      "warn",
      // A loaded test machine: fewer spurious elections.
      "--heartbeat-interval",
      "100",
      "--election-timeout",
      "1500",
      ...(options.tls === undefined
        ? []
        : ["--cert-file", options.tls.cert, "--key-file", options.tls.key]),
      ...(options.tls?.clientCertAuth === true
        ? ["--client-cert-auth", "--trusted-ca-file", options.tls.ca]
        : []),
      ...(options.extraArgs ?? []),
    ];
    const log: string[] = [];
    const member: EtcdMember = {
      name: s.name,
      endpoint: `127.0.0.1:${s.client}`,
      peerUrl,
      dataDir,
      log,
      proc: spawnMember(s.name, args, log),
      running: () => member.proc.exitCode === null && member.proc.signalCode === null,
      kill: async (signal = "SIGKILL") => {
        const proc = member.proc;
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise<void>((r) => proc.once("exit", () => r()));
        if (proc.pid !== undefined) {
          try {
            process.kill(proc.pid, signal);
          } catch {
            // already gone
          }
        }
        await exited;
      },
      restart: () => {
        if (member.running()) throw new Error(`${s.name} still runs`);
        member.proc = spawnMember(s.name, args, log);
      },
    };
    all.push(member);
    return member;
  });
  const endpoints = members.map((m) => m.endpoint).join(",");
  const probe = new EtcdClient({
    endpoints: members.map((m) => m.endpoint),
    ...(options.tls === undefined
      ? {}
      : {
          tls: {
            ca: readFileSync(options.tls.ca),
            ...(options.tls.clientCertAuth === true
              ? { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }
              : {}),
          },
        }),
  });
  probes.push(probe);
  const leaderId = async (): Promise<bigint | undefined> => {
    const ids = await Promise.all(
      members
        .filter((m) => m.running())
        .map((m) => probe.status(m.endpoint, 2000).then((st) => st.leader)),
    );
    const first = ids[0];
    return first !== undefined && first !== 0n && ids.every((id) => id === first)
      ? first
      : undefined;
  };
  const cluster: EtcdCluster = {
    members,
    endpoints,
    healthy: async (timeoutMs = 120_000) => {
      await waitFor("etcd members to agree on a leader", leaderId, { timeoutMs, intervalMs: 200 });
    },
    leader: async (timeoutMs = 120_000) => {
      const id = await waitFor("an etcd leader", leaderId, { timeoutMs, intervalMs: 200 });
      for (const m of members.filter((x) => x.running())) {
        const st = await probe.status(m.endpoint, 2000);
        if (st.header?.memberId === id) return m;
      }
      throw new Error(`etcd leader ${id.toString(16)} is none of the members`);
    },
  };
  try {
    await cluster.healthy(options.timeoutMs ?? 120_000);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n${members.map((m) => `--- ${m.name}\n${m.log.slice(-10).join("\n")}`).join("\n")}`,
    );
  }
  return cluster;
}

/** SIGKILLs (by PID) every etcd member started here that still runs, and waits for them. */
export async function killAllEtcd(): Promise<void> {
  const members = all.splice(0);
  for (const p of probes.splice(0)) p.close();
  await Promise.all(members.map((m) => m.kill("SIGKILL")));
}

/** Runs `etcdctl` (API v3) against `endpoints` with extra flags; throws with its stderr on failure. */
export function etcdctl(endpoints: string, args: readonly string[]): string {
  const r = spawnSync(
    "etcdctl",
    ["--endpoints", endpoints, "--dial-timeout", "10s", "--command-timeout", "30s", ...args],
    {
      env: { ...process.env, ETCDCTL_API: "3" },
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`etcdctl ${args.join(" ")}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}
