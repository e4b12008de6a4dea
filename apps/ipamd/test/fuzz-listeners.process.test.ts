import { join } from "node:path";
import {
  type AllocateResponse,
  type ClusterClient,
  createClusterClient,
  createIpamClient,
  Family,
  ReadyState,
} from "@ipam/grpc-server";
import { exampleTopology } from "@ipam/topology";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCerts, type TestCerts } from "./helpers/certs.js";
import {
  FUZZ_STATS,
  type FuzzCase,
  type FuzzListener,
  generateCases,
  type HttpListener,
  METHODS,
  type PlayContext,
  rawSession,
  watchGoaway,
} from "./helpers/fuzz-cases.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";

// A bounded, seeded fuzzer over every listener of real ipamd processes: the node API (unix
// socket) and the TCP listener (Cluster and node API, plaintext) of `--role all`, and the TCP
// listener (Raft peer service and Cluster API) of `--role server`, once plaintext and once with
// mutual TLS; the metrics HTTP listener of each. Cases (helpers/fuzz-cases.ts): mutated valid
// messages, oversized fields, compressed flags, broken framing, lying sizes, odd headers,
// slowloris requests and connections, resets, rapid resets, raw bytes, hostile HTTP/1.1.
// Between batches every daemon must be alive, ready, serving (a write through Raft), and hold
// the records it held before, unchanged.
//
// FUZZ_CASES (default 2000) sets the number of cases, FUZZ_SEED replays a run; a failure names
// both.

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0);
const BATCH = 250;
const CONCURRENCY = 12;
const TOR = [...exampleTopology().tors.keys()][0] ?? "";

interface Daemon {
  readonly name: string;
  readonly proc: IpamdProcess;
  readonly metricsPort: number;
  readonly check: () => Promise<void>;
}

const daemons: Daemon[] = [];
const closers: Array<() => void> = [];
const grpcListeners: FuzzListener[] = [];
const httpListeners: HttpListener[] = [];

async function ready(d: { name: string; proc: IpamdProcess; metricsPort: number }) {
  await waitFor(
    `${d.name} /readyz`,
    async () => {
      const r = await fetch(`http://127.0.0.1:${d.metricsPort}/readyz`);
      return r.status === 200 ? true : undefined;
    },
    // Three daemons start at once on a shared machine.
    { timeoutMs: 120_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf([d.proc])}`);
  });
}

async function startAll(root: string): Promise<void> {
  const socket = join(root, "all", "ipamd.sock");
  const tcpPort = await freePort();
  const metricsPort = await freePort();
  const proc = spawnIpamd("fuzz-all", [
    ...["--node-id", "fuzz-all", "--data-dir", join(root, "all"), "--unix-socket", socket],
    ...["--grpc-addr", `127.0.0.1:${tcpPort}`, "--metrics-addr", `127.0.0.1:${metricsPort}`],
    ...["--log-level", "error"],
  ]);
  await ready({ name: "all", proc, metricsPort });
  const ipam = createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 10_000 });
  const cluster = createClusterClient({ addresses: [`127.0.0.1:${tcpPort}`], deadlineMs: 10_000 });
  closers.push(
    () => ipam.close(),
    () => cluster.close(),
  );
  await waitFor("all: Status READY", async () =>
    (await ipam.status({})).state === ReadyState.READY ? true : undefined,
  );
  const seeded = new Map<string, AllocateResponse>();
  for (let i = 0; i < 5; i++) {
    const key = { network: "seed", containerId: `seed-${i}`, ifname: "eth0" };
    seeded.set(key.containerId, await ipam.allocate(key));
  }
  daemons.push({
    name: "all",
    proc,
    metricsPort,
    check: async () => {
      expect((await ipam.status({})).state).toBe(ReadyState.READY);
      const probe = await ipam.allocate({ network: "probe", containerId: "p", ifname: "eth0" });
      expect(probe.addresses.length).toBeGreaterThan(0);
      const held = new Map(
        (await ipam.listAllocations({ network: "seed" })).allocations.map((a) => [
          a.key?.containerId,
          a.addresses.map((x) => x.address).join(","),
        ]),
      );
      for (const [id, r] of seeded) {
        expect(held.get(id), `all: seeded record ${id}`).toBe(
          r.addresses.map((x) => x.address).join(","),
        );
      }
      expect((await cluster.getStatus({})).leaderId).toBe("fuzz-all");
    },
  });
  grpcListeners.push(
    { name: "all/unix", target: { socket }, methods: METHODS.nodeApi },
    { name: "all/tcp", target: { port: tcpPort }, methods: METHODS.allTcp },
  );
  httpListeners.push({ name: "all/metrics", port: metricsPort });
}

async function startServer(root: string, name: string, certs?: TestCerts): Promise<void> {
  const tcpPort = await freePort();
  const metricsPort = await freePort();
  const tlsArgs =
    certs === undefined
      ? []
      : ["--tls-cert", certs.certFile, "--tls-key", certs.keyFile, "--tls-ca", certs.caFile];
  const proc = spawnIpamd(name, [
    ...["--role", "server", "--bootstrap", "--node-id", name, "--data-dir", join(root, name)],
    ...["--grpc-addr", `127.0.0.1:${tcpPort}`, "--metrics-addr", `127.0.0.1:${metricsPort}`],
    ...["--election-ms", "300", "--log-level", "error", ...tlsArgs],
  ]);
  await ready({ name, proc, metricsPort });
  const tls = certs === undefined ? undefined : { ca: certs.ca, cert: certs.cert, key: certs.key };
  const cluster: ClusterClient = createClusterClient({
    addresses: [`127.0.0.1:${tcpPort}`],
    deadlineMs: 10_000,
    ...(tls === undefined ? {} : { tls }),
  });
  closers.push(() => cluster.close());
  await waitFor(`${name}: the example topology`, async () =>
    (await cluster.getTopology({})).topologyJson.includes(TOR) ? true : undefined,
  );
  await cluster.registerNode({ nodeId: "seed-node", torId: TOR });
  await cluster.leaseBlock({
    nodeId: "seed-node",
    purpose: "default",
    family: Family.IPV4,
    requestId: "seed-lease",
  });
  const leases = async () =>
    (await cluster.getNodeLeases({ nodeId: "seed-node" })).blocks.map((b) => b.cidr).sort();
  const before = await leases();
  expect(before.length).toBeGreaterThan(0);
  daemons.push({
    name,
    proc,
    metricsPort,
    check: async () => {
      expect((await cluster.getStatus({})).leaderId).toBe(name);
      expect((await cluster.registerNode({ nodeId: "probe-node", torId: TOR })).created).toBeTypeOf(
        "boolean",
      );
      expect(await leases(), `${name}: seeded leases`).toEqual(before);
    },
  });
  grpcListeners.push({
    name: `${name}/tcp${certs === undefined ? "" : "+tls"}`,
    target: tls === undefined ? { port: tcpPort } : { port: tcpPort, tls },
    methods: METHODS.server,
  });
  httpListeners.push({ name: `${name}/metrics`, port: metricsPort });
}

/** Every daemon runs, says ready, serves a write, and holds its seeded records unchanged. */
async function healthCheck(when: string): Promise<void> {
  for (const d of daemons) {
    if (!d.proc.running()) {
      throw new Error(`${d.name} is not running ${when}\n${logsOf([d.proc], 40)}`);
    }
    const r = await fetch(`http://127.0.0.1:${d.metricsPort}/readyz`);
    expect(r.status, `${d.name} /readyz ${when}`).toBe(200);
    await d.check();
  }
}

function playContext(): PlayContext & { closeAll(): void } {
  const shared = new Map<string, ReturnType<typeof rawSession>>();
  const owned: Array<ReturnType<typeof rawSession>> = [];
  return {
    listeners: new Map(grpcListeners.map((l) => [l.name, l])),
    session(listener) {
      const existing = shared.get(listener.name);
      if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
      const s = rawSession(listener.target);
      watchGoaway(s);
      shared.set(listener.name, s);
      return s;
    },
    fresh(listener) {
      const s = rawSession(listener.target);
      watchGoaway(s);
      owned.push(s);
      return s;
    },
    closeAll() {
      for (const s of [...shared.values(), ...owned]) s.destroy();
    },
  };
}

/** Runs `cases` with at most `CONCURRENCY` in flight; returns the failures' messages. */
async function play(
  cases: readonly FuzzCase[],
  ctx: PlayContext,
  background: Array<Promise<string | undefined>>,
): Promise<string[]> {
  const failures: string[] = [];
  const run = (c: FuzzCase): Promise<string | undefined> =>
    c.play(ctx).then(
      () => undefined,
      (err: unknown) => `${c.describe}: ${(err as Error).message}`,
    );
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const c = cases[next++] as FuzzCase;
        if (c.background) {
          background.push(run(c));
          continue;
        }
        const failure = await run(c);
        if (failure !== undefined) failures.push(failure);
      }
    }),
  );
  return failures;
}

beforeAll(async () => {
  const root = tempDir("ipamd-fuzz");
  const certs = makeCerts(root);
  await Promise.all([
    startAll(root),
    startServer(root, "fuzz-srv"),
    startServer(root, "fuzz-tls", certs),
  ]);
});

afterAll(async () => {
  for (const close of closers) close();
  await killAll();
});

describe("ipamd listeners under a seeded fuzzer", () => {
  it(`stay alive, ready, serving and unchanged through ${CASES} hostile cases`, async () => {
    console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}`);
    const replay = `replay with FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}`;
    // Listeners start concurrently; sort them so that the cases depend on the seed only.
    const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
    const cases = generateCases(
      SEED,
      CASES,
      [...grpcListeners].sort(byName),
      [...httpListeners].sort(byName),
    );
    const background: Array<Promise<string | undefined>> = [];
    const ctx = playContext();
    try {
      for (let from = 0; from < cases.length; from += BATCH) {
        const batch = cases.slice(from, from + BATCH);
        const failures = await play(batch, ctx, background);
        if (failures.length > 0) {
          throw new Error(`${replay}\n${failures.slice(0, 10).join("\n")}`);
        }
        await healthCheck(`after cases ${from}..${from + batch.length - 1}`).catch(
          (err: unknown) => {
            throw new Error(`${replay}\n${(err as Error).message}`);
          },
        );
      }
      // Requests and connections left unfinished must all have been answered or closed.
      const late = (await Promise.all(background)).filter((f) => f !== undefined);
      if (late.length > 0) throw new Error(`${replay}\n${late.slice(0, 10).join("\n")}`);
      await healthCheck("at the end").catch((err: unknown) => {
        throw new Error(`${replay}\n${(err as Error).message}`);
      });
      if (FUZZ_STATS.held.length > 0) {
        console.log(
          `fuzz: ${FUZZ_STATS.held.length} streaming calls left open by the server (freed by streamIdleMs), e.g. ${FUZZ_STATS.held.slice(0, 3).join("; ")}`,
        );
      }
    } finally {
      ctx.closeAll();
    }
  });
});
