import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  type AllocateResponse,
  createClusterClient,
  createIpamClient,
  GRPC_STATUS,
  ReadyState,
} from "@ipam/grpc-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { familyNames, ownFamilies } from "./helpers/exposition.js";
import {
  freePort,
  type IpamdProcess,
  killAll,
  logsOf,
  POLL_RPC_MS,
  spawnIpamd,
  tempDir,
  waitFor,
} from "./helpers/processes.js";
import {
  grpcFrame,
  grpcHeaders,
  metricValue,
  type RawTarget,
  rawCall,
  rawSession,
} from "./helpers/raw-grpc.js";

// Regression tests of issue 23 ("Hostile input on every listener") against a real
// `ipamd --role all`: its node API on the unix socket, its Cluster and node API on TCP, its
// /metrics. Each case failed on the daemon before the fix: the process exited (compressed
// message), the store took megabytes of keys and labels, unfinished requests were held forever,
// /metrics had no process metrics.

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const hasPromtool = promtool.error === undefined && promtool.status === 0;

let proc: IpamdProcess;
let socket: string;
let tcpPort: number;
let metricsPort: number;
const seeded = new Map<string, AllocateResponse>();

const ipam = () => createIpamClient({ addresses: [`unix:${socket}`], deadlineMs: 30_000 });

async function scrape(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
}

/** The daemon runs, is ready, allocates, and holds the seeded records with the same addresses. */
async function healthy(): Promise<void> {
  expect(proc.running(), logsOf([proc])).toBe(true);
  const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
  expect(ready.status).toBe(200);
  const client = ipam();
  try {
    expect((await client.status({})).state).toBe(ReadyState.READY);
    const probe = await client.allocate({ network: "probe", containerId: "p", ifname: "eth0" });
    expect(probe.addresses.length).toBeGreaterThan(0);
    const listed = await client.listAllocations({ network: "seed" });
    const held = new Map(
      listed.allocations.map((a) => [
        a.key?.containerId ?? "",
        a.addresses.map((x) => x.address).join(","),
      ]),
    );
    for (const [id, response] of seeded) {
      expect(held.get(id), id).toBe(response.addresses.map((x) => x.address).join(","));
    }
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  const dir = tempDir("ipamd-hostile");
  socket = join(dir, "ipamd.sock");
  tcpPort = await freePort();
  metricsPort = await freePort();
  proc = spawnIpamd("all", [
    ...["--node-id", "hostile-1", "--data-dir", dir, "--unix-socket", socket],
    ...["--grpc-addr", `127.0.0.1:${tcpPort}`, "--metrics-addr", `127.0.0.1:${metricsPort}`],
    ...["--log-level", "warn"],
  ]);
  const client = ipam();
  try {
    await waitFor("ipamd ready", async () => {
      const s = await client.status({}, { deadlineMs: POLL_RPC_MS });
      return s.state === ReadyState.READY ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logsOf([proc])}`);
    });
    for (let i = 0; i < 5; i++) {
      const id = `seed-${i}`;
      seeded.set(id, await client.allocate({ network: "seed", containerId: id, ifname: "eth0" }));
    }
  } finally {
    client.close();
  }
});

afterAll(() => killAll());

/** `StatusRequest{}` on the wire: an empty message is zero bytes. */
const statusRequest = new Uint8Array(0);

describe("ipamd --role all under hostile input", () => {
  it("refuses oversized keys, names, addresses and labels with INVALID_ARGUMENT naming the field", async () => {
    const client = ipam();
    const cluster = createClusterClient({
      addresses: [`127.0.0.1:${tcpPort}`],
      deadlineMs: 30_000,
    });
    try {
      const key = { network: "big", containerId: "c1", ifname: "eth0" };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ network: "n".repeat(3 << 20) }, "network"],
        [{ containerId: "c".repeat(1 << 20) }, "container_id"],
        [{ ifname: "i".repeat(64 << 10) }, "ifname"],
        [
          { requestedAddresses: Array.from({ length: 200_000 }, () => "10.99.0.9") },
          "requested_addresses",
        ],
      ];
      for (const [fields, field] of cases) {
        const error = await client
          .allocate({ ...key, ...fields } as never)
          .catch((e: unknown) => e);
        expect(error, field).toMatchObject({ code: "INVALID_ARGUMENT" });
        expect((error as Error).message, field).toMatch(
          new RegExp(`^${field}: .*; limit: at most`),
        );
      }
      const labels = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, "v"]));
      const tor = JSON.parse((await cluster.getTopology({})).topologyJson) as {
        zones: { pods: { tors: { id: string }[] }[] }[];
      };
      const torId = tor.zones[0]?.pods[0]?.tors[0]?.id ?? "";
      const refused = await cluster
        .registerNode({ nodeId: "bloat", torId, labels })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: "INVALID_ARGUMENT" });
      expect((refused as Error).message).toMatch(/^labels: 100000 entries; limit: at most 256/);
      // Nothing of it reached the store: our own client still lists with a small page.
      const page = await client.listAllocations({ network: "big", pageSize: 1 });
      expect(page.allocations).toEqual([]);
    } finally {
      client.close();
      cluster.close();
    }
    await healthy();
  });

  it("answers and resets 200 requests that never finish within the request timeout, serving meanwhile", async () => {
    const targets: RawTarget[] = [{ socket }, { port: tcpPort }];
    const sessions = Array.from({ length: 200 }, (_, i) => rawSession(targets[i % 2] as RawTarget));
    try {
      const calls = sessions.map((s, i) =>
        i % 3 === 0
          ? rawCall(s, grpcHeaders("/ipam.v1.Ipam/Status"), undefined, false)
          : rawCall(
              s,
              grpcHeaders("/ipam.v1.Ipam/Allocate"),
              grpcFrame(statusRequest, false, 64),
              false,
            ),
      );
      // One more that carries grpc-timeout: 1S (grpc-js answers it; the guard still resets it).
      const timedSession = rawSession({ socket });
      sessions.push(timedSession);
      const timed = rawCall(
        timedSession,
        grpcHeaders("/ipam.v1.Ipam/Status", { "grpc-timeout": "1S" }),
        undefined,
        false,
      );
      // While all of them are held, the daemon serves.
      const client = ipam();
      try {
        expect((await client.status({})).state).toBe(ReadyState.READY);
      } finally {
        client.close();
      }
      // requestTimeoutMs is 10 s: every stream is answered and closed well within 60 s.
      const outcomes = await Promise.race([
        Promise.all([...calls, timed].map((c) => c.done)),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("unfinished requests still held after 60 s")), 60_000),
        ),
      ]);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe(GRPC_STATUS.DEADLINE_EXCEEDED);
      }
      expect(outcomes.filter((o) => o.message.includes("limits.requestTimeoutMs"))).toHaveLength(
        200,
      );
      expect(timed.stream.closed).toBe(true);
    } finally {
      for (const s of sessions) s.destroy();
    }
    const text = await scrape();
    expect(
      metricValue(text, "ipamd_grpc_refused_total", { reason: "incomplete_request" }),
    ).toBeGreaterThanOrEqual(201);
    await healthy();
  });

  it("exports the default process and Node.js metrics beside its own, and promtool accepts its own", async () => {
    const text = await scrape();
    const families = familyNames(text);
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(families, name).toContain(name);
    }
    expect(metricValue(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
    if (hasPromtool) {
      const lint = spawnSync("promtool", ["check", "metrics"], {
        input: ownFamilies(text),
        encoding: "utf8",
      });
      expect(`${lint.stdout}${lint.stderr}`).toBe("");
      expect(lint.status).toBe(0);
    }
  });

  it.each([
    ["gzip", "unix"],
    ["deflate", "unix"],
    ["gzip", "tcp"],
    ["deflate", "tcp"],
  ] as const)(
    "survives a %s-flagged message that is not compressed data on %s",
    async (encoding, listener) => {
      const session = rawSession(listener === "unix" ? { socket } : { port: tcpPort });
      try {
        const { done } = rawCall(
          session,
          grpcHeaders("/ipam.v1.Ipam/Status", { "grpc-encoding": encoding }),
          grpcFrame(Buffer.from("this is not compressed data"), true),
        );
        const outcome = await done;
        expect(outcome.status).toBe(GRPC_STATUS.UNIMPLEMENTED);
        expect(outcome.headers["grpc-accept-encoding"]).toBe("identity");
      } finally {
        session.destroy();
      }
      await healthy();
      const text = await scrape();
      expect(
        metricValue(text, "ipamd_grpc_refused_total", { reason: "compressed_request" }),
      ).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, "ipamd_uncaught_errors_total", { kind: "zlib" })).toBeNaN();
    },
  );
});
