// The cases of the listener fuzzer (test/fuzz-listeners.process.test.ts): a seeded generator of hostile
// HTTP/2, gRPC and HTTP/1.1 interactions, and the code that plays each one against a listener
// and checks what came back. Cases are a pure function of the seed; playing them is not (the
// daemon answers concurrently), so a failure prints the seed and the case.
import { type ClientHttp2Session, constants } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { bytes, concat, mapEntry, str, varint } from "./proto-writer.js";
import {
  grpcFrame,
  grpcHeaders,
  type RawOutcome,
  type RawTarget,
  rawCall,
  rawSession,
} from "./raw-grpc.js";

/** mulberry32: a small, fast, seeded generator; good enough to pick fuzz cases. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A uint32. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return this.next() % n;
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** A method a listener serves, with a valid request when mutating it cannot change state. */
export interface FuzzMethod {
  readonly path: string;
  readonly kind: MethodKind;
  /**
   * A valid request, for mutation. Absent for methods whose valid forms change cluster state by
   * design (membership, topology): those get malformed and oversized input only.
   */
  readonly template?: Uint8Array;
  /** A request with one field far over its limit (INVALID_ARGUMENT or RESOURCE_EXHAUSTED). */
  readonly oversized?: (rng: Rng) => Uint8Array;
}

/** A listener under fuzz. */
export interface FuzzListener {
  readonly name: string;
  readonly target: RawTarget;
  readonly methods: readonly FuzzMethod[];
}

const big = (rng: Rng): string => "x".repeat(rng.pick([256, 4096, 70_000, 1 << 20]));

// Templates use ids the daemons do not hold ("fz-..."), so a mutation cannot release, drain or
// deregister a record the test watches.
const IPAM_METHODS: readonly FuzzMethod[] = [
  {
    path: "/ipam.v1.Ipam/Allocate",
    kind: "unary",
    template: concat(str(1, "fz-net"), str(2, "fz-c1"), str(3, "eth0"), varint(5, 1)),
    oversized: (rng) =>
      rng.chance(0.5)
        ? concat(str(1, "fz-net"), str(2, big(rng)), str(3, "eth0"))
        : concat(
            str(1, "fz-net"),
            str(2, "c"),
            ...Array.from({ length: 17 + rng.int(20_000) }, () => str(8, "10.99.0.9")),
          ),
  },
  {
    path: "/ipam.v1.Ipam/Release",
    kind: "unary",
    template: concat(str(1, "fz-net"), str(2, "fz-c1"), str(3, "eth0")),
    oversized: (rng) => concat(str(1, big(rng)), str(2, "c")),
  },
  {
    path: "/ipam.v1.Ipam/Check",
    kind: "unary",
    template: concat(str(1, "fz-net"), str(2, "fz-c1"), str(3, "eth0"), str(4, "10.99.0.2")),
    oversized: (rng) => concat(str(1, "n"), str(2, "c"), str(3, big(rng))),
  },
  {
    path: "/ipam.v1.Ipam/GarbageCollect",
    kind: "unary",
    template: concat(str(1, "fz-gc-net"), bytes(2, concat(str(1, "fz-c1"), str(2, "eth0")))),
    oversized: (rng) =>
      concat(
        str(1, "fz-gc-net"),
        ...Array.from({ length: 16_385 + rng.int(1000) }, () => bytes(2, str(1, "c"))),
      ),
  },
  { path: "/ipam.v1.Ipam/Status", kind: "unary", template: new Uint8Array(0) },
  {
    path: "/ipam.v1.Ipam/ListAllocations",
    kind: "unary",
    template: concat(str(1, "fz-net"), varint(3, 10)),
    oversized: (rng) => concat(varint(3, 10_001 + rng.int(1 << 30))),
  },
  { path: "/ipam.v1.Ipam/GetNodeBlocks", kind: "unary", template: str(2, "default") },
  { path: "/ipam.v1.Ipam/GetPoolStats", kind: "unary", template: varint(2, 1) },
  {
    path: "/ipam.v1.Ipam/GetRuntimeView",
    kind: "unary",
    template: str(1, "fz-net"),
    oversized: (rng) => str(1, big(rng)),
  },
];

const CLUSTER_METHODS: readonly FuzzMethod[] = [
  {
    path: "/ipam.v1.Cluster/ApplyTopology",
    kind: "unary",
    oversized: () => str(1, `{"zones":[${" ".repeat(4 << 20)}]}`),
  },
  { path: "/ipam.v1.Cluster/GetTopology", kind: "unary", template: varint(1, true) },
  {
    path: "/ipam.v1.Cluster/RegisterNode",
    kind: "unary",
    // An unknown TOR: refused by the handler, so mutations cannot register a node.
    template: concat(str(1, "fz-node"), str(2, "fz-tor"), mapEntry(3, "app", "fz")),
    oversized: (rng) =>
      concat(
        str(1, "fz-node"),
        str(2, "fz-tor"),
        ...Array.from({ length: 257 + rng.int(5000) }, (_, i) => mapEntry(3, `k${i}`, "v")),
      ),
  },
  {
    path: "/ipam.v1.Cluster/DeregisterNode",
    kind: "unary",
    template: str(1, "fz-node"),
    oversized: (rng) => str(1, big(rng)),
  },
  {
    path: "/ipam.v1.Cluster/AddSubnet",
    kind: "unary",
    template: bytes(
      1,
      concat(str(1, "fz-subnet"), str(2, "10.250.0.0/24"), str(3, "default"), str(4, "fz-tor")),
    ),
    oversized: (rng) =>
      bytes(
        1,
        concat(
          str(1, "s"),
          ...Array.from({ length: 1025 + rng.int(100) }, () => str(6, "10.250.0.1")),
        ),
      ),
  },
  { path: "/ipam.v1.Cluster/RemoveSubnet", kind: "unary", template: str(1, "fz-subnet") },
  { path: "/ipam.v1.Cluster/DrainSubnet", kind: "unary", template: str(1, "fz-subnet") },
  {
    path: "/ipam.v1.Cluster/LeaseBlock",
    kind: "unary",
    template: concat(str(1, "fz-node"), str(2, "default"), varint(3, 1), str(5, "fz-req")),
    oversized: (rng) => concat(str(1, "fz-node"), str(5, big(rng))),
  },
  {
    path: "/ipam.v1.Cluster/ReleaseBlock",
    kind: "unary",
    template: concat(str(1, "fz-node"), str(2, "10.250.0.0/26")),
  },
  {
    path: "/ipam.v1.Cluster/AllocateDirect",
    kind: "unary",
    template: bytes(
      1,
      concat(str(1, "fz-net"), str(2, "fz-c"), str(4, "fz-node"), str(5, "default"), varint(6, 1)),
    ),
    oversized: (rng) =>
      concat(...Array.from({ length: 10_001 + rng.int(100) }, () => bytes(1, str(1, "n")))),
  },
  {
    path: "/ipam.v1.Cluster/ReleaseDirect",
    kind: "unary",
    template: bytes(1, concat(str(1, "fz-net"), str(2, "fz-c"), str(3, "eth0"))),
  },
  {
    path: "/ipam.v1.Cluster/GetStats",
    kind: "unary",
    template: concat(varint(1, 4), varint(5, true)),
  },
  { path: "/ipam.v1.Cluster/AddVoter", kind: "unary" },
  { path: "/ipam.v1.Cluster/AddLearner", kind: "unary" },
  { path: "/ipam.v1.Cluster/RemoveMember", kind: "unary" },
  { path: "/ipam.v1.Cluster/TransferLeadership", kind: "unary" },
  { path: "/ipam.v1.Cluster/GetLeader", kind: "unary", template: new Uint8Array(0) },
  { path: "/ipam.v1.Cluster/GetStatus", kind: "unary", template: new Uint8Array(0) },
  {
    path: "/ipam.v1.Cluster/ListBlocks",
    kind: "unary",
    template: concat(varint(3, 5), varint(5, true)),
    oversized: (rng) => str(4, big(rng)),
  },
  { path: "/ipam.v1.Cluster/GetNodeLeases", kind: "unary", template: str(1, "fz-node") },
];

const RAFT_METHODS: readonly FuzzMethod[] = [
  {
    path: "/ipam.raft.v1.Raft/Stream",
    kind: "bidi_streaming",
    // Another cluster's id: the server refuses the stream (FAILED_PRECONDITION).
    template: concat(
      str(1, "fz-cluster"),
      str(2, "fz-a"),
      str(3, "fz-b"),
      bytes(4, Uint8Array.of(1, 2, 3)),
    ),
  },
  {
    path: "/ipam.raft.v1.Raft/InstallSnapshot",
    kind: "client_streaming",
    template: concat(str(1, "fz-cluster"), str(2, "fz-a"), str(3, "fz-b"), varint(8, true)),
  },
];

const COMMON_METHODS: readonly FuzzMethod[] = [
  { path: "/grpc.health.v1.Health/Check", kind: "unary", template: new Uint8Array(0) },
  { path: "/grpc.health.v1.Health/Watch", kind: "server_streaming", template: new Uint8Array(0) },
  {
    path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    kind: "bidi_streaming",
    template: str(7, ""),
  },
  {
    path: "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    kind: "bidi_streaming",
    template: str(4, "ipam.v1.Ipam"),
  },
];

/** The methods of the node API listener, the Cluster listener of role all, and a server's. */
export const METHODS = {
  nodeApi: [...IPAM_METHODS, ...COMMON_METHODS],
  allTcp: [...IPAM_METHODS, ...CLUSTER_METHODS, ...COMMON_METHODS],
  server: [...RAFT_METHODS, ...CLUSTER_METHODS, ...COMMON_METHODS],
} as const;

/** Apply 1 to 4 random byte-level mutations. */
export function mutate(rng: Rng, input: Uint8Array): { bytes: Uint8Array; how: string } {
  let out: Uint8Array = Uint8Array.from(input);
  const steps: string[] = [];
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = out.length === 0 ? 0 : rng.int(out.length);
    switch (rng.int(7)) {
      case 0:
        if (out.length > 0) out[at] = (out[at] ?? 0) ^ (1 << rng.int(8));
        steps.push(`flip@${at}`);
        break;
      case 1:
        if (out.length > 0) out[at] = rng.pick([0, 0x7f, 0x80, 0xff, rng.int(256)]);
        steps.push(`set@${at}`);
        break;
      case 2: {
        const insert = rng.bytes(1 + rng.int(16));
        out = concat(out.subarray(0, at), insert, out.subarray(at));
        steps.push(`insert${insert.length}@${at}`);
        break;
      }
      case 3: {
        const len = rng.int(Math.max(1, out.length - at) + 1);
        out = concat(out.subarray(0, at), out.subarray(at + len));
        steps.push(`delete${len}@${at}`);
        break;
      }
      case 4: {
        const len = 1 + rng.int(Math.max(1, out.length - at));
        out = concat(out, out.subarray(at, at + len));
        steps.push(`dup${len}@${at}`);
        break;
      }
      case 5:
        out = out.subarray(0, at);
        steps.push(`truncate@${at}`);
        break;
      default: {
        // An unknown field, a length that lies, a varint that never ends.
        const junk = rng.pick([
          Uint8Array.of(0xfa, 0xff, 0xff, 0xff, 0x0f, 0x05, 0x41),
          Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f),
          Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
          Uint8Array.of(0x0b, 0x0c),
        ]);
        out = concat(out, junk);
        steps.push("junk");
      }
    }
  }
  return { bytes: out, how: steps.join(",") };
}

/** What a played case asserts about its outcome. */
export type Expectation =
  | { readonly kind: "any" }
  | { readonly kind: "status"; readonly statuses: readonly number[] }
  | { readonly kind: "httpStatus"; readonly statuses: readonly number[] };

/** A generated case: what to play, against which listener, and what must come back. */
export interface FuzzCase {
  readonly id: number;
  readonly listener: string;
  readonly describe: string;
  /** Cases that hold a stream or connection open are played in the background. */
  readonly background: boolean;
  readonly play: (ctx: PlayContext) => Promise<void>;
}

/** What playing needs: sessions per listener, and a bound on how long anything may take. */
export interface PlayContext {
  /** A live shared session to the listener (replaced when the server closed it). */
  session(listener: FuzzListener): ClientHttp2Session;
  /** A session of its own, closed by the case. */
  fresh(listener: FuzzListener): ClientHttp2Session;
  readonly listeners: ReadonlyMap<string, FuzzListener>;
}

const G = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

/** Rejects when `promise` does not settle within `ms`. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Every request, answered or reset, must close within this bound (requestTimeoutMs is 10 s). */
const CASE_BOUND_MS = 45_000;

/** How long a streaming-request call may go unanswered before the client gives up on it. */
const HOLD_MS = 10_000;

/**
 * What a run saw besides failures. `held`: streaming-request calls (reflection, Raft) the server
 * left open after the client half-closed. @grpc/grpc-js 1.14.3 never finishes a bidi call whose
 * handler writes an answer per message when an undecodable message follows two good ones
 * (docs/grpc.md); the guard's `streamIdleMs` frees such a stream, so these are reported, not
 * failed.
 */
export const FUZZ_STATS = { held: [] as string[] };

const GOAWAYS = new WeakMap<ClientHttp2Session, string>();
export function watchGoaway(session: ClientHttp2Session): void {
  session.on("goaway", (code, last) => GOAWAYS.set(session, `${code}/${last}`));
  session.on("error", (e: Error) => GOAWAYS.set(session, `error ${e.message}`));
}

function check(outcome: RawOutcome, expect: Expectation, what: string): void {
  // An untyped error from a handler ("internal error") is a bug whatever the input.
  if (outcome.status === G.INTERNAL && outcome.message === "internal error") {
    throw new Error(`${what}: a handler failed with an untyped error`);
  }
  if (expect.kind === "status" && !expect.statuses.includes(outcome.status ?? -1)) {
    throw new Error(
      `${what}: status ${outcome.status} (${outcome.message}), rst ${outcome.rstCode}; expected ${expect.statuses.join(" or ")}`,
    );
  }
  if (expect.kind === "httpStatus" && !expect.statuses.includes(outcome.httpStatus ?? -1)) {
    throw new Error(
      `${what}: HTTP ${outcome.httpStatus}; expected ${expect.statuses.join(" or ")}`,
    );
  }
}

async function call(
  ctx: PlayContext,
  listener: FuzzListener,
  headers: Parameters<typeof rawCall>[1],
  body: Uint8Array | undefined,
  expect: Expectation,
  what: string,
  options: { fresh?: boolean; end?: boolean; endless?: boolean; mayHold?: boolean } = {},
): Promise<void> {
  const session = options.fresh === true ? ctx.fresh(listener) : ctx.session(listener);
  try {
    let played: ReturnType<typeof rawCall>;
    try {
      played = rawCall(session, headers, body, options.end ?? true);
    } catch (error) {
      // The shared session was closed by the server (GOAWAY) between cases: replay on a new one.
      if (options.fresh !== true && (session.closed || session.destroyed)) {
        return call(ctx, listener, headers, body, expect, what, { ...options, fresh: true });
      }
      throw error;
    }
    const { stream, done } = played;
    // A server-streaming call that was accepted (a health Watch) stays open by design: hang up
    // a moment after its answer started.
    let hangUp: NodeJS.Timeout | undefined;
    if (options.endless === true) {
      stream.once("response", () => {
        hangUp = setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), 1000);
      });
    }
    let outcome: RawOutcome;
    try {
      if (options.mayHold === true) {
        const held = await Promise.race([
          done,
          new Promise<"held">((resolve) => setTimeout(() => resolve("held"), HOLD_MS)),
        ]);
        if (held === "held") {
          // See FUZZ_STATS.held: grpc-js leaves some broken bidi streams open; the server's
          // streamIdleMs frees them. The client gives up here.
          FUZZ_STATS.held.push(what);
          stream.close(constants.NGHTTP2_CANCEL);
          await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 1000))]);
          stream.destroy();
          return;
        }
        outcome = held;
      } else {
        outcome = await within(CASE_BOUND_MS, what, done);
      }
    } finally {
      clearTimeout(hangUp);
    }
    // No status and no reset: the stream went down with its session. A shared session may have
    // been closed because of another case (Node answers a flood of resets with GOAWAY); replay
    // this one on a session of its own, where that answer would have to be about it.
    if (
      outcome.status === undefined &&
      outcome.rstCode === 0 &&
      options.fresh !== true &&
      (session.closed || session.destroyed)
    ) {
      return call(ctx, listener, headers, body, expect, what, { ...options, fresh: true });
    }
    check(
      outcome,
      expect,
      `${what} [session closed=${session.closed} destroyed=${session.destroyed} goaway=${GOAWAYS.get(session) ?? "-"} headers=${JSON.stringify(outcome.headers)}]`,
    );
  } finally {
    if (options.fresh === true) session.destroy();
  }
}

/** Raw bytes on a new connection; resolves when the server closes it (or `ms` passes: throws). */
function rawConnection(
  listener: FuzzListener,
  send: readonly Uint8Array[],
  ms: number,
  what: string,
  hangUpAfterMs?: number,
): Promise<void> {
  return within(
    ms,
    what,
    new Promise<void>((resolve) => {
      const target = listener.target;
      let socket: Socket;
      if ("socket" in target) socket = netConnect(target.socket);
      else if (target.tls !== undefined)
        socket = tlsConnect({
          host: "127.0.0.1",
          port: target.port,
          ca: target.tls.ca,
          ...(target.tls.cert === undefined ? {} : { cert: target.tls.cert, key: target.tls.key }),
          ALPNProtocols: ["h2"],
        });
      else socket = netConnect(target.port, "127.0.0.1");
      socket.on("error", () => {});
      socket.resume();
      const hangUp =
        hangUpAfterMs === undefined ? undefined : setTimeout(() => socket.destroy(), hangUpAfterMs);
      socket.once("close", () => {
        clearTimeout(hangUp);
        resolve();
      });
      for (const chunk of send) socket.write(chunk);
    }),
  );
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** An HTTP/2 frame: 9-byte header and payload. */
function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(9);
  header[0] = (payload.length >> 16) & 0xff;
  header[1] = (payload.length >> 8) & 0xff;
  header[2] = payload.length & 0xff;
  header[3] = type;
  header[4] = flags;
  new DataView(header.buffer).setUint32(5, stream & 0x7fffffff);
  return concat(header, payload);
}

function grpcCase(rng: Rng, id: number, listener: FuzzListener): FuzzCase {
  const method = rng.pick(listener.methods);
  const path = method.path;
  const streamingRequest = method.kind === "client_streaming" || method.kind === "bidi_streaming";
  const base = method.template ?? rng.bytes(rng.int(64));
  const tag = `${listener.name} ${path}`;
  const endless = method.kind === "server_streaming";
  const mayHold = streamingRequest;
  const roll = rng.int(100);

  if (roll < 30) {
    const frames = 1 + (streamingRequest ? rng.int(3) : 0);
    const parts: Uint8Array[] = [];
    const hows: string[] = [];
    for (let i = 0; i < frames; i++) {
      const m =
        method.template === undefined
          ? { bytes: rng.bytes(rng.int(128)), how: "random" }
          : mutate(rng, base);
      parts.push(grpcFrame(m.bytes));
      hows.push(m.how);
    }
    const what = `#${id} mutated ${tag} [${hows.join(" | ")}]`;
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: (ctx) =>
        call(ctx, listener, grpcHeaders(path), concat(...parts), { kind: "any" }, what, {
          endless,
          mayHold,
        }),
    };
  }
  if (roll < 40 && method.oversized !== undefined) {
    const oversized = method.oversized;
    const payload = oversized(rng);
    const what = `#${id} oversized ${tag} (${payload.byteLength} bytes)`;
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: (ctx) =>
        call(
          ctx,
          listener,
          grpcHeaders(path),
          grpcFrame(payload),
          {
            kind: "status",
            // A request of megabytes that cannot arrive within requestTimeoutMs on a busy
            // machine is cut off with DEADLINE_EXCEEDED: that is the bound working too.
            statuses:
              payload.byteLength >= 1 << 20
                ? [G.INVALID_ARGUMENT, G.RESOURCE_EXHAUSTED, G.DEADLINE_EXCEEDED]
                : [G.INVALID_ARGUMENT, G.RESOURCE_EXHAUSTED],
          },
          what,
          { endless, mayHold },
        ),
    };
  }
  if (roll < 50) {
    const encoding = rng.pick(["gzip", "deflate", "snappy", "x-garbage", "GZIP", "identity"]);
    const body = rng.chance(0.5) ? rng.bytes(rng.int(256)) : base;
    const what = `#${id} compressed ${tag} grpc-encoding=${encoding}`;
    const expect: Expectation =
      encoding === "identity" ? { kind: "any" } : { kind: "status", statuses: [G.UNIMPLEMENTED] };
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: (ctx) =>
        call(
          ctx,
          listener,
          grpcHeaders(path, { "grpc-encoding": encoding }),
          grpcFrame(body, true),
          expect,
          what,
          { endless, mayHold },
        ),
    };
  }
  if (roll < 62) {
    const variant = rng.int(6);
    let body: Uint8Array;
    switch (variant) {
      case 0:
        body = grpcFrame(base, false, base.length + 1 + rng.int(1000)); // declared longer
        break;
      case 1:
        body = concat(grpcFrame(base), rng.bytes(1 + rng.int(4))); // trailing partial header
        break;
      case 2:
        body = concat(grpcFrame(base), grpcFrame(base)); // two messages on a unary call
        break;
      case 3: {
        const frame = grpcFrame(base);
        frame[0] = 2 + rng.int(254); // a flag byte that means nothing
        body = frame;
        break;
      }
      case 4:
        body = grpcFrame(base).subarray(0, rng.int(5)); // less than a header
        break;
      default:
        body = grpcFrame(new Uint8Array(0)); // an empty message
    }
    const what = `#${id} framing${variant} ${tag}`;
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: (ctx) =>
        call(ctx, listener, grpcHeaders(path), body, { kind: "any" }, what, { endless, mayHold }),
    };
  }
  if (roll < 66) {
    const what = `#${id} declared-size ${tag}`;
    const declared = rng.pick([0xffffffff, 0x7fffffff, 65 << 20]);
    const payload = rng.bytes(16);
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: (ctx) =>
        call(
          ctx,
          listener,
          grpcHeaders(path),
          grpcFrame(payload, false, declared),
          { kind: "status", statuses: [G.RESOURCE_EXHAUSTED] },
          what,
          { endless, mayHold },
        ),
    };
  }
  if (roll < 76) {
    const variant = rng.int(7);
    const what = `#${id} headers${variant} ${tag}`;
    const cases: Array<[Parameters<typeof rawCall>[1], Expectation, boolean]> = [
      [
        rng.chance(0.5)
          ? { ...grpcHeaders(path), "content-type": rng.pick(["text/plain", "application/json"]) }
          : Object.fromEntries(
              Object.entries(grpcHeaders(path)).filter(([k]) => k !== "content-type"),
            ),
        { kind: "httpStatus", statuses: [415] },
        false,
      ],
      [
        grpcHeaders(`/${Buffer.from(rng.bytes(8)).toString("hex")}/${path.slice(1)}`),
        { kind: "status", statuses: [G.UNIMPLEMENTED] },
        false,
      ],
      [
        grpcHeaders(path, {
          "grpc-timeout": rng.pick(["abc", "1", "99999999H", "-5S", "1S1S", ""]),
        }),
        { kind: "any" },
        false,
      ],
      [
        grpcHeaders(path, { "x-huge": "h".repeat(20_000 + rng.int(40_000)) }),
        { kind: "any" },
        true,
      ],
      [
        grpcHeaders(
          path,
          Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, "v"])),
        ),
        { kind: "any" },
        true,
      ],
      [{ ...grpcHeaders(path), ":method": "GET" }, { kind: "any" }, false],
      [
        grpcHeaders(path, { "grpc-accept-encoding": Buffer.from(rng.bytes(64)).toString("hex") }),
        { kind: "any" },
        false,
      ],
    ];
    const [headers, expect, fresh] = cases[variant] as (typeof cases)[number];
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: (ctx) =>
        call(ctx, listener, headers, grpcFrame(base), expect, what, { fresh, endless, mayHold }),
    };
  }
  if (roll < 80) {
    // Slowloris: a request that never finishes. Unary and server-streaming ones must be answered
    // DEADLINE_EXCEEDED (limits.requestTimeoutMs); streaming requests are the client's to end.
    const partial = rng.chance(0.5) ? grpcFrame(base).subarray(0, 1 + rng.int(5)) : undefined;
    const cancelAfterMs = 200 + rng.int(2000);
    const what = `#${id} slowloris ${tag}${partial === undefined ? " (headers only)" : ` (${partial.length} bytes)`}`;
    return {
      id,
      listener: listener.name,
      describe: what,
      background: true,
      play: async (ctx) => {
        const session = ctx.fresh(listener);
        try {
          const { stream, done } = rawCall(session, grpcHeaders(path), partial, false);
          if (streamingRequest) {
            setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), cancelAfterMs);
            await within(CASE_BOUND_MS, what, done);
            return;
          }
          const outcome = await within(CASE_BOUND_MS, what, done);
          check(outcome, { kind: "status", statuses: [G.DEADLINE_EXCEEDED] }, what);
        } finally {
          session.destroy();
        }
      },
    };
  }
  if (roll < 88) {
    const what = `#${id} reset ${tag}`;
    const afterBytes = rng.chance(0.5);
    const code = rng.pick([
      constants.NGHTTP2_CANCEL,
      constants.NGHTTP2_INTERNAL_ERROR,
      constants.NGHTTP2_NO_ERROR,
    ]);
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: async (ctx) => {
        const session = ctx.session(listener);
        let played: ReturnType<typeof rawCall>;
        try {
          played = rawCall(
            session,
            grpcHeaders(path),
            afterBytes ? grpcFrame(base).subarray(0, 3) : undefined,
            false,
          );
        } catch {
          return; // the shared session is gone (GOAWAY): nothing to reset
        }
        played.stream.close(code);
        // The server's side of the reset is what matters; the client's stream is let go.
        await Promise.race([played.done, new Promise((resolve) => setTimeout(resolve, 2000))]);
        played.stream.destroy();
      },
    };
  }
  if (roll < 90) {
    const count = 200 + rng.int(800);
    const what = `#${id} rapid-reset ${listener.name} x${count}`;
    return {
      id,
      listener: listener.name,
      describe: what,
      background: false,
      play: async (ctx) => {
        const session = ctx.fresh(listener);
        try {
          const streams = [];
          for (let i = 0; i < count && !session.destroyed && !session.closed; i++) {
            try {
              const { stream, done } = rawCall(session, grpcHeaders(path), undefined, false);
              stream.close(constants.NGHTTP2_CANCEL);
              streams.push(done);
            } catch {
              break; // the server sent GOAWAY: that is an allowed answer
            }
          }
          await within(CASE_BOUND_MS, what, Promise.all(streams));
        } finally {
          session.destroy();
        }
      },
    };
  }
  if (roll < 95) {
    const variant = rng.int(4);
    const what = `#${id} raw-bytes${variant} ${listener.name}`;
    const send: Uint8Array[] =
      variant === 0
        ? [rng.bytes(1 + rng.int(512))]
        : variant === 1
          ? [PREFACE, rng.bytes(1 + rng.int(512))]
          : variant === 2
            ? [
                PREFACE,
                h2Frame(4, 0, 0, new Uint8Array(0)),
                h2Frame(rng.int(10), rng.int(256), 1 + 2 * rng.int(50), rng.bytes(rng.int(64))),
              ]
            : [PREFACE.subarray(0, 1 + rng.int(PREFACE.length - 1))];
    // A connection that stops mid-preface is closed after handshakeTimeoutMs (10 s); one that
    // sent a whole preface and SETTINGS may stay until connectionIdleMs: the case hangs up.
    return {
      id,
      listener: listener.name,
      describe: what,
      background: variant === 1 || variant === 3,
      play: () =>
        rawConnection(listener, send, CASE_BOUND_MS, what, variant === 2 ? 1000 : undefined),
    };
  }
  // A valid request, unmutated: the baseline the daemon must answer sensibly (never "internal error").
  const what = `#${id} valid ${tag}`;
  return {
    id,
    listener: listener.name,
    describe: what,
    background: false,
    play: (ctx) =>
      call(ctx, listener, grpcHeaders(path), grpcFrame(base), { kind: "any" }, what, {
        endless,
        mayHold,
      }),
  };
}

/** A metrics HTTP listener: an address. */
export interface HttpListener {
  readonly name: string;
  readonly port: number;
}

function httpCase(rng: Rng, id: number, listener: HttpListener): FuzzCase {
  const variant = rng.int(8);
  const path = rng.pick([
    "/metrics",
    "/readyz",
    "/healthz",
    "/",
    "/%00",
    `/${"a".repeat(rng.int(9000))}`,
  ]);
  const requests: Array<[string, boolean]> = [
    [
      `${rng.pick(["GET", "POST", "HEAD", "DELETE", "BREW", "G\u0000T"])} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`,
      false,
    ],
    [
      `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(9000 + rng.int(60_000))}\r\n\r\n`,
      false,
    ],
    [`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: a`, true], // never finishes its headers
    [`POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc`, true], // never finishes its body
    [Buffer.from(rng.bytes(1 + rng.int(300))).toString("latin1"), false],
    [`${"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1 + rng.int(200))}`, false], // pipelined
    [PREFACE.toString("latin1"), false], // HTTP/2 to an HTTP/1.1 server
    [
      `GET /metrics HTTP/1.1\r\n${Array.from({ length: 200 }, (_, i) => `X-H${i}: v\r\n`).join("")}Host: x\r\nConnection: close\r\n\r\n`,
      false,
    ],
  ];
  const [text, slow] = requests[variant] as [string, boolean];
  const what = `#${id} http${variant} ${listener.name}`;
  return {
    id,
    listener: listener.name,
    describe: what,
    background: slow,
    play: () =>
      within(
        CASE_BOUND_MS,
        what,
        new Promise<void>((resolve) => {
          const socket = netConnect(listener.port, "127.0.0.1");
          socket.on("error", () => {});
          socket.resume();
          // Keep-alive connections are closed by the server after 5 s idle; do not wait for it.
          const timer = slow ? undefined : setTimeout(() => socket.destroy(), 6000);
          socket.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          socket.write(Buffer.from(text, "latin1"));
        }),
      ),
  };
}

/** The cases of a run: `count` of them, drawn from `seed` over the listeners. */
export function generateCases(
  seed: number,
  count: number,
  grpc: readonly FuzzListener[],
  http: readonly HttpListener[],
): FuzzCase[] {
  const rng = new Rng(seed);
  const out: FuzzCase[] = [];
  for (let id = 0; id < count; id++) {
    if (rng.chance(0.08)) out.push(httpCase(rng, id, rng.pick(http)));
    else out.push(grpcCase(rng, id, rng.pick(grpc)));
  }
  return out;
}

export { rawSession };
