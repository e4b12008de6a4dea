// Benchmarks of @ipam/grpc-server. Run with `pnpm --filter @ipam/grpc-server bench` after
// `pnpm --filter @ipam/grpc-server build` (the process-start runs use dist/).
// Writes bench-results/grpc-server.json (rows per BENCHMARKS.md) and prints a table.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import {
  type BenchRow,
  printTable,
  summarize,
  withBaseline,
  writeBenchResults,
} from "@ipam/bench-kit";
import {
  AllocateRequestSchema,
  AllocateResponseSchema,
  checkMessage,
  createIpamClient,
  createIpamService,
  createLeanIpamClient,
  grpcServiceDefinition,
  IPAM_REQUEST_LIMITS,
  Ipam,
  startGrpcServer,
} from "../src/index.js";
import { echo, memoryAllocator } from "./handlers.js";

const packageRoot = join(import.meta.dirname, "..");
const rows: BenchRow[] = [];

type Allocate = (containerId: string) => Promise<unknown>;

/** Latency of each call (µs) and overall calls per second with `concurrency` workers. */
async function measure(
  allocate: Allocate,
  concurrency: number,
  callsPerWorker: number,
  tag: string,
): Promise<{ latencies: number[]; perSecond: number }> {
  for (let i = 0; i < 200; i++) await allocate(`warm-${tag}-${i}`);
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; i < callsPerWorker; i++) {
        const t0 = performance.now();
        await allocate(`${tag}-${worker}-${i}`);
        latencies.push((performance.now() - t0) * 1000);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { latencies, perSecond: latencies.length / seconds };
}

async function roundTrips(dir: string): Promise<void> {
  const servers = {
    allocator: await startGrpcServer({
      unixSocket: { path: join(dir, "alloc.sock") },
      services: [createIpamService(memoryAllocator())],
    }),
    echo: await startGrpcServer({
      unixSocket: { path: join(dir, "echo.sock") },
      services: [createIpamService(echo())],
    }),
  };
  const clients: Record<string, (socket: string) => { allocate: Allocate; close(): void }> = {
    "grpc-js client": (socket) => {
      const c = createIpamClient({ addresses: [`unix:${socket}`] });
      return {
        allocate: (id) => c.allocate({ network: "bench", containerId: id, ifname: "eth0" }),
        close: () => c.close(),
      };
    },
    "lean client": (socket) => {
      const c = createLeanIpamClient({ socketPath: socket });
      return {
        allocate: (id) => c.allocate({ network: "bench", containerId: id, ifname: "eth0" }),
        close: () => c.close(),
      };
    },
  };
  for (const [clientName, make] of Object.entries(clients)) {
    for (const concurrency of [1, 64]) {
      const calls = concurrency === 1 ? 3000 : 80;
      const results: Record<string, { latencies: number[]; perSecond: number }> = {};
      for (const kind of ["echo", "allocator"] as const) {
        const client = make(servers[kind].unixSocketPath ?? "");
        results[kind] = await measure(
          client.allocate,
          concurrency,
          calls,
          `${clientName.replace(/\W+/g, "-")}-${concurrency}`,
        );
        client.close();
      }
      const label = `unix socket, ${concurrency} concurrent, ${clientName}`;
      const echoRow = summarize(
        `echo round trip (${label})`,
        "µs/call",
        results.echo?.latencies ?? [],
      );
      const allocRow = summarize(
        `Allocate round trip, in-memory allocator (${label})`,
        "µs/call",
        results.allocator?.latencies ?? [],
      );
      rows.push(echoRow, withBaseline(allocRow, echoRow));
      for (const kind of ["echo", "allocator"] as const) {
        // One rate per run: value = p50 = p99; samples counts the calls.
        rows.push(
          summarize(
            `${kind === "echo" ? "echo" : "Allocate"} throughput (${label})`,
            "req/s",
            [results[kind]?.perSecond ?? 0],
            { count: results[kind]?.latencies.length ?? 0 },
          ),
        );
      }
    }
  }
  await Promise.all([servers.allocator.shutdown(1000), servers.echo.shutdown(1000)]);
}

function timeProcess(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] });
    child.once("error", reject);
    child.once("exit", (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`node ${args.join(" ")} exited with ${code}`));
    });
  });
}

/** Starts bench/serve-allocator.ts on `socket`; resolves once it says "ready". */
function startServerProcess(socket: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(packageRoot, "bench", "serve-allocator.ts"), socket],
    { stdio: ["ignore", "pipe", "inherit"], cwd: packageRoot },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the allocator server did not start within 30 s"));
    }, 30_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (!chunk.toString().includes("ready")) return;
      clearTimeout(timer);
      resolve(child);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the allocator server exited with ${code}`));
    });
  });
}

/** SIGTERM to `child` (by its PID), then wait for it to exit. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGTERM");
  await exited;
}

async function processStart(dir: string): Promise<void> {
  if (!existsSync(join(packageRoot, "..", "grpc-client", "dist", "index.cjs"))) {
    throw new Error(
      "@ipam/grpc-client's dist/index.cjs is missing: run `pnpm --filter @ipam/grpc-server... build` first",
    );
  }
  const socket = join(dir, "start.sock");
  // The server runs in its own process, as ipamd does for the plugin: inside this one, its
  // answers would wait on the harness's own work for every child it starts and reaps.
  const server = await startServerProcess(socket);
  const fixtures = join(packageRoot, "bench", "fixtures");
  const commands: Record<string, readonly string[]> = {
    "process start: node -e 0": ["-e", "0"],
    // What the lean client is built on, and what it avoids (node:http2 loads tls, crypto, ...).
    "process start: node -e 'require(\"node:net\")' (breakdown)": ["-e", 'require("node:net")'],
    "process start: node -e 'require(\"node:http2\")' (breakdown)": ["-e", 'require("node:http2")'],
    "process start: require the lean entry, no call (breakdown)": [
      join(fixtures, "lean-import-only.cjs"),
    ],
    "process start + one Allocate, lean client": [join(fixtures, "lean-allocate.cjs"), socket],
    "process start + one Allocate, lean client, natural exit (breakdown)": [
      join(fixtures, "lean-allocate-natural-exit.cjs"),
      socket,
    ],
    "process start + one Allocate, @grpc/grpc-js client": [
      join(fixtures, "grpcjs-allocate.mjs"),
      socket,
    ],
  };
  const times: Record<string, number[]> = {};
  const rounds = Number(process.env.START_ROUNDS ?? 60);
  // Interleaved rounds so that load changes on a shared machine hit every command alike.
  for (let round = -3; round < rounds; round++) {
    for (const [name, args] of Object.entries(commands)) {
      const ms = await timeProcess(args);
      if (round < 0) continue;
      const list = times[name] ?? [];
      list.push(ms);
      times[name] = list;
    }
  }
  await stopProcess(server);
  const [baselineName, ...others] = Object.keys(commands);
  const baseline = summarize(baselineName ?? "", "ms", times[baselineName ?? ""] ?? []);
  rows.push(baseline);
  for (const name of others)
    rows.push(withBaseline(summarize(name, "ms", times[name] ?? []), baseline));
}

/**
 * What hostile-input defences cost. Round trips: our server (guard, limits, field checks, the
 * unary wrapper) against a plain @grpc/grpc-js server with the same answer, same client, same
 * socket kind. And the field check of an Allocate request against decoding it (work every
 * request costs anyway).
 */
async function defenceCost(dir: string): Promise<void> {
  const answer = create(AllocateResponseSchema, {
    addresses: [{ address: "10.0.0.2", prefixLength: 8, gateway: "10.0.0.1", purpose: "default" }],
  });
  const plain = new Server();
  plain.addService(grpcServiceDefinition(Ipam), {
    allocate: (_call: unknown, callback: (e: null, v: unknown) => void) => callback(null, answer),
  });
  const plainSocket = join(dir, "plain.sock");
  await new Promise<void>((resolve, reject) =>
    plain.bindAsync(`unix:${plainSocket}`, ServerCredentials.createInsecure(), (e) =>
      e === null ? resolve() : reject(e),
    ),
  );
  const guarded = await startGrpcServer({
    unixSocket: { path: join(dir, "guarded.sock") },
    services: [createIpamService({ allocate: () => answer })],
  });
  for (const concurrency of [1, 64]) {
    const calls = concurrency === 1 ? 600 : 16;
    const run = async (socket: string, tag: string) => {
      const c = createIpamClient({ addresses: [`unix:${socket}`] });
      const r = await measure(
        (id) => c.allocate({ network: "bench", containerId: id, ifname: "eth0" }),
        concurrency,
        calls,
        tag,
      );
      c.close();
      return r;
    };
    // Alternating rounds, so that load on a shared machine hits both sides alike.
    const base = { latencies: [] as number[] };
    const ours = { latencies: [] as number[] };
    for (let round = 0; round < 5; round++) {
      base.latencies.push(...(await run(plainSocket, `plain-${concurrency}-${round}`)).latencies);
      ours.latencies.push(
        ...(await run(guarded.unixSocketPath ?? "", `guarded-${concurrency}-${round}`)).latencies,
      );
    }
    const label = `unix socket, ${concurrency} concurrent, grpc-js client`;
    const baseRow = summarize(
      `echo round trip, plain @grpc/grpc-js server, no defences (${label})`,
      "µs/call",
      base.latencies,
    );
    rows.push(
      baseRow,
      withBaseline(
        summarize(
          `echo round trip, startGrpcServer with guard, limits and field checks (${label})`,
          "µs/call",
          ours.latencies,
        ),
        baseRow,
      ),
    );
  }
  plain.forceShutdown();
  await guarded.shutdown(1000);

  const request = create(AllocateRequestSchema, {
    network: "k8s-pod-network",
    containerId: "3f1e9a4c2b7d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f901a2b3c4d5e6f708",
    ifname: "eth0",
    podNamespace: "kube-system",
    podName: "coredns-5d78c9869d-abcde",
  });
  const bytes = toBinary(AllocateRequestSchema, request);
  const time = (f: () => void): number[] => {
    const out: number[] = [];
    for (let round = 0; round < 200; round++) {
      const t0 = performance.now();
      for (let i = 0; i < 1000; i++) f();
      out.push(((performance.now() - t0) * 1e6) / 1000);
    }
    return out;
  };
  const decode = summarize(
    "decode an Allocate request (fromBinary)",
    "ns/op",
    time(() => fromBinary(AllocateRequestSchema, bytes)),
  );
  rows.push(
    decode,
    withBaseline(
      summarize(
        "check an Allocate request against IPAM_REQUEST_LIMITS",
        "ns/op",
        time(() => checkMessage(IPAM_REQUEST_LIMITS.allocate, request)),
      ),
      decode,
    ),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ipg-bench-"));
  try {
    await defenceCost(dir);
    await roundTrips(dir);
    await processStart(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeBenchResults(packageRoot, "grpc-server", rows);
  printTable(rows);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
