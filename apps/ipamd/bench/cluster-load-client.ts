// A load-generating client process of the cluster-vs-etcd benchmark (bench/cluster-vs-etcd.ts
// forks several, so that the load generator is not what limits the rate). The same lean client
// drives both sides: node:http2 over TCP (nghttp2, one connection per target, no grpc-js, no
// retries) and protobuf-es binary codecs, so ipamd's Cluster API and etcd's KV API meet the
// same client cost per call. Usage: cluster-load-client.ts (then IPC): it answers each message
// {@link ClusterLoadRequest} with one {@link ClusterLoadResult}.
import { randomBytes } from "node:crypto";
import { type ClientHttp2Session, connect, constants } from "node:http2";
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  AllocateDirectRequestSchema,
  AllocateDirectResponseSchema,
  Family,
  GetStatusRequestSchema,
  GetStatusResponseSchema,
  LeaseBlockRequestSchema,
  LeaseBlockResponseSchema,
} from "@ipam/grpc-server";
import { PutRequestSchema, PutResponseSchema } from "../src/gen/etcdserverpb/rpc_pb.js";
import { drive } from "./drive.js";

/** What one call writes. */
export type ClusterLoadOp = "etcd-put" | "allocate-direct" | "lease-block" | "get-status";

/** One request of the parent: drive `op` against `addresses` with `concurrency` loops. */
export interface ClusterLoadRequest {
  readonly op: ClusterLoadOp;
  /** `host:port` of each server; loop `w` uses `addresses[w % length]`. */
  readonly addresses: readonly string[];
  readonly concurrency: number;
  /** Loop `w` of this process writes as node `bench-${firstWorker + w}`. */
  readonly firstWorker: number;
  readonly runMs: number;
  /** Makes every key / container id / request id of this run unique. */
  readonly tag: string;
  /** etcd PUT: the value's size in bytes (chosen by the parent to match ipamd's request size). */
  readonly valueBytes: number;
}

/** What one client process did in one run. */
export interface ClusterLoadResult {
  readonly calls: number;
  readonly elapsedMs: number;
  /** Per-call latencies, ms. */
  readonly latencies: number[];
  /** CPU time this process spent in the run (user + system), ms. */
  readonly cpuMs: number;
  /** Calls that failed (e.g. during an election on a starved machine); not in `calls`. */
  readonly errors: number;
  /** The first failure's message, when any. */
  readonly firstError?: string;
}

const sessions = new Map<string, ClientHttp2Session>();

function session(address: string): ClientHttp2Session {
  const open = sessions.get(address);
  if (open !== undefined && !open.closed && !open.destroyed) return open;
  const s = connect(`http://${address}`, { settings: { enablePush: false } });
  s.on("error", () => sessions.delete(address));
  s.on("close", () => sessions.delete(address));
  sessions.set(address, s);
  return s;
}

/** One unary gRPC call; resolves with the response message bytes, rejects on a non-OK status. */
function unary(address: string, path: string, message: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const body = Buffer.allocUnsafe(5 + message.byteLength);
    body[0] = 0;
    body.writeUInt32BE(message.byteLength, 1);
    body.set(message, 5);
    const stream = session(address).request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "30S",
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let detail = "";
    stream.on("response", (headers) => {
      // A trailers-only answer carries the status in the headers.
      if (headers["grpc-status"] !== undefined) {
        status = String(headers["grpc-status"]);
        detail = String(headers["grpc-message"] ?? "");
      }
    });
    stream.on("trailers", (trailers) => {
      status = String(trailers["grpc-status"]);
      detail = String(trailers["grpc-message"] ?? "");
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => {
      if (status !== "0") {
        reject(new Error(`${path}: grpc-status ${status}: ${decodeURIComponent(detail)}`));
        return;
      }
      const all = Buffer.concat(chunks);
      resolve(all.subarray(5, 5 + all.readUInt32BE(1)));
    });
    stream.end(body);
  });
}

async function call<I extends DescMessage, O extends DescMessage>(
  address: string,
  path: string,
  input: I,
  output: O,
  message: MessageShape<I>,
): Promise<MessageShape<O>> {
  return fromBinary(output, await unary(address, path, toBinary(input, message)));
}

/** The call loop `w` makes as its `i`-th call. */
function operation(request: ClusterLoadRequest): (w: number, i: number) => Promise<void> {
  const { addresses, tag } = request;
  const at = (w: number) => addresses[w % addresses.length] as string;
  const node = (w: number) => `bench-${request.firstWorker + w}`;
  switch (request.op) {
    case "etcd-put": {
      const value = randomBytes(request.valueBytes);
      return async (w, i) => {
        await call(
          at(w),
          "/etcdserverpb.KV/Put",
          PutRequestSchema,
          PutResponseSchema,
          create(PutRequestSchema, { key: Buffer.from(`/bench/${tag}-${w}-${i}`), value }),
        );
      };
    }
    case "allocate-direct":
      return async (w, i) => {
        const r = await call(
          at(w),
          "/ipam.v1.Cluster/AllocateDirect",
          AllocateDirectRequestSchema,
          AllocateDirectResponseSchema,
          create(AllocateDirectRequestSchema, {
            items: [
              {
                network: "bench",
                containerId: `${tag}-${w}-${i}`,
                nodeId: node(w),
                purpose: "management",
                family: Family.IPV6,
              },
            ],
          }),
        );
        const one = r.results[0]?.result;
        if (one?.case !== "address") {
          throw new Error(`AllocateDirect: ${JSON.stringify(one?.value)}`);
        }
      };
    case "get-status":
      // No Raft: the server's RPC stack alone (a local read of its status).
      return async (w) => {
        await call(
          at(w),
          "/ipam.v1.Cluster/GetStatus",
          GetStatusRequestSchema,
          GetStatusResponseSchema,
          create(GetStatusRequestSchema, {}),
        );
      };
    case "lease-block":
      return async (w, i) => {
        await call(
          at(w),
          "/ipam.v1.Cluster/LeaseBlock",
          LeaseBlockRequestSchema,
          LeaseBlockResponseSchema,
          create(LeaseBlockRequestSchema, {
            nodeId: node(w),
            purpose: "default",
            family: Family.IPV6,
            requestId: `${tag}-${w}-${i}`,
          }),
        );
      };
  }
}

async function run(request: ClusterLoadRequest): Promise<ClusterLoadResult> {
  for (const a of request.addresses) session(a);
  const op = operation(request);
  let errors = 0;
  let firstError: string | undefined;
  const cpu = process.cpuUsage();
  const started = performance.now();
  // A failed call is counted and retried with a new key (its latency includes the retries), not
  // fatal: an election on a starved machine must not end the run. 1,000 failures in a row are.
  const driven = await drive(request.concurrency, request.runMs, async (w, i) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await op(w, i + attempt * 1_000_000_000);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        if (attempt >= 1000) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  });
  const used = process.cpuUsage(cpu);
  return {
    calls: driven.latencies.length,
    elapsedMs: performance.now() - started,
    latencies: driven.latencies,
    cpuMs: (used.user + used.system) / 1000,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

process.on("message", (message: ClusterLoadRequest) => {
  void run(message).then(
    (result) => process.send?.(result),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
process.on("disconnect", () => {
  for (const s of sessions.values()) s.close();
  process.exit(0);
});
process.send?.("ready");
