import {
  create,
  type DescMessage,
  type DescMethod,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type ChannelCredentials,
  Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { methodPath } from "@ipam/grpc-server";
import { Auth, KV, Lease, Maintenance, type Watch } from "../gen/etcdserverpb/rpc_pb.js";
import { IpamdError } from "../ipamd-error.js";
import { etcdError, etcdFailure } from "./etcd-errors.js";

/** TLS towards etcd (PEM contents): the CA that signed the members' certificates, and for client-certificate authentication our certificate and key. */
export interface EtcdTls {
  readonly ca?: string | Uint8Array;
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
}

/** Options of {@link EtcdClient}. */
export interface EtcdClientOptions {
  /** Members as `host:port`, tried in turn (the first that answers is used until it fails). */
  readonly endpoints: readonly string[];
  /** TLS to every member; cleartext when absent. */
  readonly tls?: EtcdTls;
  /** etcd user name and password (etcd auth); none when absent. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Deadline of one unary call in ms; default 5 000. */
  readonly callTimeoutMs?: number;
  /** Largest response accepted, bytes; default 64 MiB (range pages, snapshot chunks). */
  readonly maxReceiveBytes?: number;
}

/** Options of one unary call. */
export interface EtcdCallOptions {
  /** Deadline in ms (default: the client's `callTimeoutMs`). */
  readonly timeoutMs?: number;
  /**
   * Safe to send again when the outcome is unknown (reads, revokes): the call is then tried on
   * each member in turn until one answers or the deadline passes. Default false: a write is sent
   * once and its failure is the caller's to handle.
   */
  readonly retry?: boolean;
}

/** A request message init for a method's input. */
type In<M extends DescMethod> = MessageInitShape<M["input"]>;
/** A method's output message. */
type Out<M extends DescMethod> = MessageShape<M["output"]>;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function channelCredentials(tls: EtcdTls | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  const buf = (v: string | Uint8Array | undefined) => (v === undefined ? null : Buffer.from(v));
  return credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A small etcd v3 client on @grpc/grpc-js over the vendored API protos (`proto/`): the KV,
 * Watch, Lease, Maintenance.Status and Auth.Authenticate calls ipamd needs, nothing else.
 *
 * Contracts:
 * - One member is "current"; a call that fails with a transport error, "no leader", "leader
 *   changed" or an etcd timeout moves the current member to the next endpoint, so the next call
 *   goes elsewhere. Writes are never sent twice by the client (`retry` only for reads/revokes).
 * - Every error is an IpamdError made by {@link etcdError} (`details.etcd` tells the kind).
 * - With `auth`, the first call authenticates; an expired token is renewed once per call.
 * - Responses are fresh messages owned by the caller; int64 fields are `bigint`.
 */
export class EtcdClient {
  readonly #options: EtcdClientOptions;
  readonly #clients = new Map<string, Client>();
  #current = 0;
  #token: string | undefined;
  #authenticating: Promise<string> | undefined;
  #closed = false;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        "--etcd-endpoints: at least one endpoint is required",
      );
    }
    this.#options = options;
  }

  /** The member calls currently go to (`host:port`). */
  get endpoint(): string {
    return this.#options.endpoints[this.#current % this.#options.endpoints.length] ?? "";
  }

  /** Every configured member (`host:port`). */
  get endpoints(): readonly string[] {
    return this.#options.endpoints;
  }

  /** Moves calls to the next member (after a failure of the current one). */
  rotate(from: string): void {
    if (this.endpoint === from)
      this.#current = (this.#current + 1) % this.#options.endpoints.length;
  }

  #client(endpoint: string): Client {
    let client = this.#clients.get(endpoint);
    if (client === undefined) {
      client = new Client(endpoint, channelCredentials(this.#options.tls), {
        "grpc.max_receive_message_length": this.#options.maxReceiveBytes ?? 64 * 1024 * 1024,
        // Find a restarted member again quickly.
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 2000,
        // Pings only while streams run (etcd refuses pings without one unless configured to
        // allow them); the watch and keep-alive streams always run on a server.
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
      });
      this.#clients.set(endpoint, client);
    }
    return client;
  }

  async #metadata(): Promise<Metadata> {
    const metadata = new Metadata();
    if (this.#options.auth !== undefined) metadata.set("token", await this.#authToken());
    return metadata;
  }

  #authToken(): Promise<string> {
    if (this.#token !== undefined) return Promise.resolve(this.#token);
    if (this.#authenticating === undefined) {
      const auth = this.#options.auth;
      if (auth === undefined) return Promise.resolve("");
      this.#authenticating = this.#rawUnary(
        Auth.method.authenticate,
        { name: auth.username, password: auth.password },
        new Metadata(),
        { retry: true },
      )
        .then(
          (r) => {
            this.#token = r.token;
            return r.token;
          },
          (err: unknown) => {
            if (etcdFailure(err) === "unreachable") throw err;
            throw new IpamdError(
              "UNAVAILABLE",
              `etcd authentication as ${auth.username} failed: ${(err as Error).message} (check --etcd-username and the password)`,
              { cause: err, details: { etcd: "denied" } },
            );
          },
        )
        .finally(() => {
          this.#authenticating = undefined;
        });
    }
    return this.#authenticating;
  }

  #once<M extends DescMethod>(
    endpoint: string,
    method: M,
    request: MessageShape<M["input"]>,
    metadata: Metadata,
    timeoutMs: number,
  ): Promise<Out<M>> {
    const output = method.output as DescMessage;
    return new Promise((resolve, reject) => {
      this.#client(endpoint).makeUnaryRequest(
        methodPath(method),
        (value: MessageShape<DescMessage>) => asBuffer(toBinary(method.input, value)),
        (bytes: Buffer) => fromBinary(output, bytes),
        request,
        metadata,
        { deadline: new Date(Date.now() + timeoutMs) },
        (error: ServiceError | null, value?: MessageShape<DescMessage>) => {
          if (error === null && value !== undefined) resolve(value as Out<M>);
          else
            reject(error ?? Object.assign(new Error("empty response"), { code: status.INTERNAL }));
        },
      );
    });
  }

  async #rawUnary<M extends DescMethod>(
    method: M,
    init: In<M>,
    metadata: Metadata,
    options: EtcdCallOptions,
  ): Promise<Out<M>> {
    if (this.#closed) throw new IpamdError("SHUTTING_DOWN", "etcd client closed");
    const request = create(method.input, init as never) as MessageShape<M["input"]>;
    const timeoutMs = options.timeoutMs ?? this.#options.callTimeoutMs ?? 5000;
    const until = Date.now() + timeoutMs;
    const attempts = options.retry === true ? this.#options.endpoints.length : 1;
    let last: IpamdError | undefined;
    for (let i = 0; i < attempts; i++) {
      const endpoint = this.endpoint;
      const left = until - Date.now();
      if (left <= 0) break;
      try {
        return await this.#once(endpoint, method, request, metadata, left);
      } catch (err) {
        last = etcdError(err, method.name, endpoint);
        const kind = etcdFailure(last);
        if (kind !== "unreachable") throw last;
        this.rotate(endpoint);
        if (i + 1 < attempts) await sleep(20);
      }
    }
    throw last ?? new IpamdError("TIMEOUT", `${method.name}: etcd call timed out`);
  }

  /**
   * One unary call (see {@link EtcdCallOptions}); an expired auth token is renewed and the call
   * sent again once (the member refused it before any effect).
   */
  async unary<M extends DescMethod>(
    method: M,
    init: In<M>,
    options: EtcdCallOptions = {},
  ): Promise<Out<M>> {
    try {
      return await this.#rawUnary(method, init, await this.#metadata(), options);
    } catch (err) {
      if (etcdFailure(err) !== "auth-token" || this.#options.auth === undefined) throw err;
      this.#token = undefined;
      return this.#rawUnary(method, init, await this.#metadata(), options);
    }
  }

  range(init: In<typeof KV.method.range>, options?: EtcdCallOptions) {
    return this.unary(KV.method.range, init, { retry: true, ...options });
  }

  txn(init: In<typeof KV.method.txn>, options?: EtcdCallOptions) {
    return this.unary(KV.method.txn, init, options);
  }

  put(init: In<typeof KV.method.put>, options?: EtcdCallOptions) {
    return this.unary(KV.method.put, init, options);
  }

  deleteRange(init: In<typeof KV.method.deleteRange>, options?: EtcdCallOptions) {
    return this.unary(KV.method.deleteRange, init, options);
  }

  compact(revision: bigint, options?: EtcdCallOptions) {
    return this.unary(KV.method.compact, { revision }, options);
  }

  leaseGrant(ttlSeconds: number, options?: EtcdCallOptions) {
    return this.unary(Lease.method.leaseGrant, { TTL: BigInt(ttlSeconds) }, options);
  }

  leaseRevoke(id: bigint, options?: EtcdCallOptions) {
    return this.unary(Lease.method.leaseRevoke, { ID: id }, { retry: true, ...options });
  }

  /** Maintenance.Status of one member (not rotated): its id, the leader it knows, its db size. */
  async status(endpoint: string, timeoutMs = 2000) {
    const metadata = await this.#metadata();
    try {
      return await this.#once(
        endpoint,
        Maintenance.method.status,
        create(Maintenance.method.status.input, {}),
        metadata,
        timeoutMs,
      );
    } catch (err) {
      throw etcdError(err, "Status", endpoint);
    }
  }

  /**
   * Opens a bidirectional stream of `method` (Watch or LeaseKeepAlive) on the current member.
   * The caller owns it (end or cancel it); errors arrive as raw gRPC errors on the stream (see
   * {@link etcdError}). With `requireLeader` the member ends the stream when it loses its
   * leader (etcd's `hasleader` metadata) instead of going silent.
   */
  async stream<M extends typeof Watch.method.watch | typeof Lease.method.leaseKeepAlive>(
    method: M,
    options: { readonly requireLeader?: boolean } = {},
  ): Promise<{ endpoint: string; call: ClientDuplexStream<MessageShape<M["input"]>, Out<M>> }> {
    if (this.#closed) throw new IpamdError("SHUTTING_DOWN", "etcd client closed");
    const endpoint = this.endpoint;
    const metadata = await this.#metadata();
    if (options.requireLeader === true) metadata.set("hasleader", "true");
    const output = method.output as DescMessage;
    const call = this.#client(endpoint).makeBidiStreamRequest(
      methodPath(method),
      (value: MessageShape<M["input"]>) => asBuffer(toBinary(method.input, value)),
      (bytes: Buffer) => fromBinary(output, bytes) as Out<M>,
      metadata,
      {},
    );
    return { endpoint, call };
  }

  /** Forgets the auth token (after a stream was refused for it): the next call authenticates. */
  dropToken(): void {
    this.#token = undefined;
  }

  close(): void {
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
