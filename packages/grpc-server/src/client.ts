import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  credentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import type { CallOptions, ServiceClient } from "@ipam/grpc-client";
import { decodeError, GrpcError } from "@ipam/grpc-client";
import { Cluster, Ipam } from "@ipam/grpc-client/messages";
import { clusterChannelOptions } from "./cluster-links.js";
import { methodPath } from "./service-definition.js";
import { withoutIpServerName } from "./tls-server-name.js";

/** TLS settings of a client: the CA to trust and, for mutual TLS, our certificate and key. */
export interface ClientTlsOptions {
  /** CA bundle that signed the server certificate, PEM; the system roots when absent. */
  readonly ca?: string | Uint8Array;
  /** Client certificate chain for mutual TLS, PEM. */
  readonly cert?: string | Uint8Array;
  /** Client private key for mutual TLS, PEM. */
  readonly key?: string | Uint8Array;
  /** Expect this name in the server certificate instead of the address's host. */
  readonly serverName?: string;
}

/** Options of {@link createIpamClient} and {@link createClusterClient}. */
export interface GrpcClientOptions {
  /**
   * Server addresses, tried in order: `unix:/run/ipamd/ipamd.sock` or `host:port`. A cluster
   * client rotates through them on UNAVAILABLE and follows NOT_LEADER redirections.
   */
  readonly addresses: readonly string[];
  /** TLS for TCP addresses; cleartext when absent. Ignored for unix sockets. */
  readonly tls?: ClientTlsOptions;
  /** Per-call deadline in ms covering all attempts; default 10 000. */
  readonly deadlineMs?: number;
  /** Attempts per call including redirections and retries; default 5. */
  readonly maxAttempts?: number;
  /** Backoff between retries: first delay and cap, ms; defaults 50 and 1 000. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Jitter source in [0, 1); default Math.random. Inject a seeded one for determinism. */
  readonly random?: () => number;
  /**
   * The Raft election timeout of the servers, ms (default 1000): a cluster client's channels
   * reconnect and keep alive at a pace fitted to it ({@link clusterChannelOptions}). Ignored by
   * the node API client.
   */
  readonly electionMs?: number;
  /** Extra @grpc/grpc-js channel options (over the cluster link defaults). */
  readonly channelOptions?: ChannelOptions;
}

type MethodsOf<S> = S extends GenService<infer M extends GenServiceMethods> ? M : never;

/** Client of the node API. */
export type IpamClient = ServiceClient<MethodsOf<typeof Ipam>>;
/** Client of the cluster API with leader redirection. */
export type ClusterClient = ServiceClient<MethodsOf<typeof Cluster>>;

/**
 * Credentials for a target: cleartext for unix sockets or without TLS options. An IP host is
 * not sent as the TLS server name (see {@link withoutIpServerName}).
 */
export function channelCredentials(
  address: string,
  tls: ClientTlsOptions | undefined,
): ChannelCredentials {
  if (tls === undefined || address.startsWith("unix:")) return credentials.createInsecure();
  const buf = (value: string | Uint8Array | undefined): Buffer | null =>
    value === undefined ? null : Buffer.from(value);
  return withoutIpServerName(credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert)));
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** Decides per call whether a retry after UNAVAILABLE is safe. */
type IdempotencyRule = (method: DescMethod, request: unknown) => boolean;

class UnaryCaller {
  readonly #options: GrpcClientOptions;
  readonly #clients = new Map<string, Client>();
  readonly #addresses: string[];
  readonly #idempotent: IdempotencyRule;
  readonly #followLeader: boolean;
  readonly #channelOptions: ChannelOptions;
  #current = 0;
  #closed = false;

  constructor(
    options: GrpcClientOptions,
    idempotent: IdempotencyRule,
    followLeader: boolean,
    channelOptions: ChannelOptions,
  ) {
    if (options.addresses.length === 0) {
      throw new GrpcError("INVALID_ARGUMENT", "addresses: at least one server address is required");
    }
    this.#options = options;
    this.#addresses = [...options.addresses];
    this.#idempotent = idempotent;
    this.#followLeader = followLeader;
    this.#channelOptions = channelOptions;
  }

  #client(address: string): Client {
    let client = this.#clients.get(address);
    if (client === undefined) {
      client = new Client(address, channelCredentials(address, this.#options.tls), {
        ...this.#channelOptions,
        ...(this.#options.tls?.serverName === undefined
          ? {}
          : { "grpc.ssl_target_name_override": this.#options.tls.serverName }),
        ...this.#options.channelOptions,
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  #attempt(
    address: string,
    method: DescMethod,
    request: MessageShape<DescMessage>,
    deadline: number,
    options: CallOptions | undefined,
  ): Promise<MessageShape<DescMessage>> {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(options?.metadata ?? {})) metadata.set(key, value);
    const output = method.output;
    return new Promise((resolve, reject) => {
      const call = this.#client(address).makeUnaryRequest(
        methodPath(method),
        (value: MessageShape<DescMessage>) => asBuffer(toBinary(method.input, value)),
        (bytes: Buffer) => fromBinary(output, bytes),
        request,
        metadata,
        { deadline: new Date(deadline) },
        (error: ServiceError | null, value?: MessageShape<DescMessage>) => {
          options?.signal?.removeEventListener("abort", onAbort);
          if (error === null && value !== undefined) resolve(value);
          else if (error === null) reject(new GrpcError("PROTOCOL_ERROR", "empty response"));
          else {
            reject(
              decodeError(error.code, error.details, (name) => {
                const values = error.metadata?.get(name) ?? [];
                const first = values[0];
                return typeof first === "string" ? first : first === undefined ? undefined : first;
              }),
            );
          }
        },
      );
      const onAbort = (): void => call.cancel();
      options?.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async call(
    method: DescMethod,
    init: unknown,
    options: CallOptions | undefined,
  ): Promise<MessageShape<DescMessage>> {
    if (this.#closed) throw new GrpcError("UNAVAILABLE", "client is closed");
    const request = create(method.input, init as never);
    const deadline = Date.now() + (options?.deadlineMs ?? this.#options.deadlineMs ?? 10_000);
    const maxAttempts = Math.max(1, this.#options.maxAttempts ?? 5);
    const initialMs = this.#options.backoff?.initialMs ?? 50;
    const maxMs = this.#options.backoff?.maxMs ?? 1000;
    const random = this.#options.random ?? Math.random;
    const idempotent = this.#idempotent(method, request);
    let lastError: GrpcError | undefined;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (isAborted(options?.signal)) {
        throw new GrpcError("CANCELLED", `${method.name}: aborted by the caller`);
      }
      const address = this.#addresses[this.#current % this.#addresses.length] ?? "";
      try {
        return await this.#attempt(address, method, request, deadline, options);
      } catch (error) {
        if (!(error instanceof GrpcError)) throw error;
        lastError = error;
        if (isAborted(options?.signal)) {
          throw new GrpcError("CANCELLED", `${method.name}: aborted by the caller`, {
            cause: error,
          });
        }
        const leader = error.details?.leaderAddress;
        if (
          this.#followLeader &&
          error.code === "NOT_LEADER" &&
          typeof leader === "string" &&
          leader !== ""
        ) {
          // The request was refused before any effect: redirecting is safe for every method.
          let index = this.#addresses.indexOf(leader);
          if (index < 0) index = this.#addresses.push(leader) - 1;
          this.#current = index;
          continue;
        }
        const retriable =
          error.code === "UNAVAILABLE" ||
          error.code === "SHUTTING_DOWN" ||
          (this.#followLeader && error.code === "NOT_LEADER" && this.#addresses.length > 1);
        if (!retriable || !idempotent) throw error;
        this.#current = (this.#current + 1) % this.#addresses.length;
        const delay = Math.min(maxMs, initialMs * 2 ** attempt) * (0.5 + random() / 2);
        if (Date.now() + delay >= deadline) throw error;
        await new Promise<void>((resolve) => setTimeout(resolve, delay));
      }
    }
    throw lastError ?? new GrpcError("UNAVAILABLE", `${method.name}: no attempt made`);
  }

  close(): void {
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}

function buildClient<M extends GenServiceMethods>(
  service: GenService<M>,
  options: GrpcClientOptions,
  idempotent: IdempotencyRule,
  followLeader: boolean,
  channelOptions: ChannelOptions = {},
): ServiceClient<M> {
  const caller = new UnaryCaller(options, idempotent, followLeader, channelOptions);
  const client: Record<string, unknown> = { close: () => caller.close() };
  for (const method of (service as DescService).methods) {
    client[method.localName] = (request: unknown, callOptions?: CallOptions) =>
      caller.call(method, request, callOptions);
  }
  return client as ServiceClient<M>;
}

/**
 * A client of the node API (`ipam.v1.Ipam`). Every Ipam method is idempotent (Allocate returns
 * the key's existing addresses), so calls that fail UNAVAILABLE are retried with backoff
 * within the deadline. Failures throw {@link GrpcError} with the server's ipamd code.
 */
export function createIpamClient(options: GrpcClientOptions): IpamClient {
  return buildClient(Ipam, options, () => true, false);
}

const NON_IDEMPOTENT_CLUSTER_METHODS: ReadonlySet<string> = new Set([
  "ApplyTopology",
  "AddVoter",
  "AddLearner",
  "RemoveMember",
  "TransferLeadership",
  // A retry after a lost answer would say NOT_FOUND for a reservation the first call removed.
  "UnreserveRange",
]);

/**
 * A client of the cluster API (`ipam.v1.Cluster`) over a list of servers. On NOT_LEADER with a
 * leader address it retries on the leader (any method: the refused call had no effect). On
 * UNAVAILABLE it rotates to the next server, but only for idempotent calls: reads, the
 * idempotent writes, and LeaseBlock and CarveSubnet with a `requestId`; ApplyTopology and membership changes
 * are never retried. Its channels use {@link clusterChannelOptions} fitted to
 * `options.electionMs`, so that a restarted server is dialled again within a fraction of an
 * election timeout.
 */
export function createClusterClient(options: GrpcClientOptions): ClusterClient {
  return buildClient(
    Cluster,
    options,
    (method, request) => {
      if (NON_IDEMPOTENT_CLUSTER_METHODS.has(method.name)) return false;
      if (method.name === "LeaseBlock" || method.name === "CarveSubnet") {
        return (request as { requestId?: string }).requestId !== "";
      }
      return true;
    },
    true,
    clusterChannelOptions(
      options.electionMs === undefined ? {} : { electionMs: options.electionMs },
    ),
  );
}
