import { create } from "@bufbuild/protobuf";
import {
  type ChannelOptions,
  Client,
  type ClientDuplexStream,
  type ClientWritableStream,
  Metadata as GrpcMetadata,
  type ServerDuplexStream,
  type ServerReadableStream,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { GrpcError } from "@ipam/grpc-client";
import {
  Raft,
  type RaftBatch,
  RaftBatchSchema,
  type SnapshotAck,
  SnapshotAckSchema,
  type SnapshotChunk,
  SnapshotChunkSchema,
} from "@ipam/grpc-client/messages";
import {
  decodeMessages,
  encodeMessages,
  type Message,
  type SnapshotMessage,
  type Transport,
} from "@ipam/raft";
import { type ClientTlsOptions, channelCredentials } from "./client.js";
import { clusterChannelOptions, clusterReconnect, DEFAULT_ELECTION_MS } from "./cluster-links.js";
import { grpcServiceDefinition } from "./service-definition.js";
import type { ServiceBinding } from "./unary-service.js";

/**
 * Turns Raft messages into bytes and back. The daemon passes @ipam/raft's binary codec; the
 * transport never looks inside a message except for its `type`, `to` and snapshot fields.
 */
export interface RaftMessageCodec {
  encode(message: Message): Uint8Array;
  /** @throws on bytes that are not a message (the batch is dropped and `onError` told). */
  decode(bytes: Uint8Array): Message;
}

/**
 * The default codec: @ipam/raft's binary message format, one message per item of a batch.
 * `decode` throws `RaftError` `CORRUPT` on garbage and `GrpcError` `PROTOCOL_ERROR` when an
 * item holds other than exactly one message.
 */
export const raftMessageCodec: RaftMessageCodec = {
  encode: (message) => encodeMessages([message]),
  decode: (bytes) => {
    const messages = decodeMessages(bytes);
    const [message] = messages;
    if (message === undefined || messages.length !== 1) {
      throw new GrpcError(
        "PROTOCOL_ERROR",
        `raft batch item holds ${messages.length} messages, not 1`,
      );
    }
    return message;
  },
};

/** Counters of a transport, for metrics and tests. All are totals since creation. */
export interface RaftTransportStats {
  /** Bidirectional streams opened to peers (1 per peer unless links broke). */
  readonly streamsOpened: number;
  /** Snapshot uploads started (InstallSnapshot calls). */
  readonly snapshotStreams: number;
  /** Batches written to peers. */
  readonly batchesSent: number;
  /** Messages written to peers (in batches or snapshot chunks). */
  readonly messagesSent: number;
  /** Messages dropped: queue full, peer unknown or transport closed. */
  readonly messagesDropped: number;
  /** Messages received from peers and handed to the handler. */
  readonly messagesReceived: number;
  /** Link failures that scheduled a reconnect. */
  readonly reconnects: number;
}

/**
 * A receiving server's refusal of a sender that is not a member of its configuration
 * ({@link GrpcRaftTransportOptions.checkSender}).
 */
export interface NotMemberRefusal {
  /**
   * The log index of the refusing server's configuration (the one that does not list the
   * sender). A sender whose own configuration is newer was added after it: the refusal is stale.
   */
  readonly configIndex: number;
  /** Why, for the sender's log. */
  readonly reason: string;
}

/** A refusal as the sender's transport reports it ({@link GrpcRaftTransportOptions.onRefused}). */
export interface PeerRefusal extends NotMemberRefusal {
  /** The peer that refused. */
  readonly peer: NodeId;
}

/** Request metadata/trailer names of a {@link NotMemberRefusal} on the wire. */
const NOT_MEMBER = "NOT_MEMBER";
const CONFIG_INDEX_TRAILER = "ipam-config-index";

/** Options of {@link GrpcRaftTransport}. */
export interface GrpcRaftTransportOptions {
  /** This server's Raft id. */
  readonly id: NodeId;
  /** Cluster id; batches and chunks from another cluster are refused. */
  readonly clusterId: string;
  /** Peer Raft ids → cluster API addresses (`host:port`). Update with `setPeers`. */
  readonly peers: Readonly<Record<NodeId, string>>;
  /** Message codec; default {@link raftMessageCodec} (@ipam/raft's binary format). */
  readonly codec?: RaftMessageCodec;
  /** TLS towards peers (they serve the Raft service on the TLS cluster port). */
  readonly tls?: ClientTlsOptions;
  /**
   * The Raft election timeout, ms (default 1000). The links' reconnect backoff (stream and
   * channel) and keepalive are fitted to it ({@link clusterReconnect},
   * {@link clusterChannelOptions}), so that a link to a restarted peer is back well within one
   * election timeout.
   */
  readonly electionMs?: number;
  /** Stream reconnect backoff: first delay and cap in ms; default `clusterReconnect(electionMs)`. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Extra @grpc/grpc-js channel options, over `clusterChannelOptions` and the message limits. */
  readonly channelOptions?: ChannelOptions;
  /** Jitter source in [0, 1): each delay is scaled by 0.5 + random() / 2. Required for determinism. */
  readonly random: () => number;
  /** Timer seam for reconnects; defaults to the global timers. */
  readonly setTimeout?: (callback: () => void, ms: number) => unknown;
  readonly clearTimeout?: (handle: unknown) => void;
  /** Messages per RaftBatch; default 512. */
  readonly maxBatchMessages?: number;
  /**
   * Encoded bytes per RaftBatch; default 1 MiB. A single larger message still travels alone:
   * the receiving server's `maxReceiveMessageLength` must exceed the largest Raft message.
   */
  readonly maxBatchBytes?: number;
  /** Messages queued per disconnected peer before new ones are dropped; default 10 000. */
  readonly maxQueuedMessages?: number;
  /** Told about transport-level failures (broken links, bad batches); never throws back. */
  readonly onError?: (error: GrpcError) => void;
  /**
   * Asked for every received batch: a refusal drops the batch and ends the sender's stream
   * with gRPC FAILED_PRECONDITION, trailer `ipam-error-code: NOT_MEMBER` and the refusal's
   * `ipam-config-index`, which the sender's transport reports through `onRefused`. Called on the
   * hot path: answer from a cached member set. Must not throw (a throw admits the batch).
   */
  readonly checkSender?: (
    from: NodeId,
    messages: readonly Message[],
  ) => NotMemberRefusal | undefined;
  /** Told when a peer refused this server's messages because it is not a member there. */
  readonly onRefused?: (refusal: PeerRefusal) => void;
}

interface SnapshotUpload {
  readonly index: number;
  readonly stream: ClientWritableStream<SnapshotChunk>;
  expectedOffset: number;
}

interface PeerLink {
  address: string;
  client: Client | undefined;
  stream: ClientDuplexStream<RaftBatch, RaftBatch> | undefined;
  /** True once the peer answered the stream's headers; batches are written only then. */
  ready: boolean;
  queue: Message[];
  flushScheduled: boolean;
  waitingForDrain: boolean;
  attempt: number;
  retryTimer: unknown;
  snapshot: SnapshotUpload | undefined;
}

/** A Raft member id (`NodeId` of @ipam/raft). */
type NodeId = string;

const EMPTY = new Uint8Array(0);

/**
 * Raft's {@link Transport} over gRPC: one long-lived `ipam.raft.v1.Raft/Stream` per peer
 * carrying batches (all messages sent in the same tick go in one batch), snapshot chunks over
 * `InstallSnapshot`, reconnection with exponential backoff and jitter. Like every Raft
 * transport it is best effort: messages queued for a broken link are delivered after
 * reconnection, messages in flight when a link breaks may be lost.
 *
 * Serve the receiving side by adding {@link GrpcRaftTransport.service} to a server.
 */
export class GrpcRaftTransport implements Transport {
  readonly #options: GrpcRaftTransportOptions;
  readonly #codec: RaftMessageCodec;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #inbound = new Set<ServerDuplexStream<RaftBatch, RaftBatch>>();
  #peers: Record<NodeId, string>;
  #handler: ((messages: readonly Message[]) => void) | undefined;
  #closed = false;
  #stats = {
    streamsOpened: 0,
    snapshotStreams: 0,
    batchesSent: 0,
    messagesSent: 0,
    messagesDropped: 0,
    messagesReceived: 0,
    reconnects: 0,
  };

  constructor(options: GrpcRaftTransportOptions) {
    this.#options = options;
    this.#codec = options.codec ?? raftMessageCodec;
    this.#peers = { ...options.peers };
  }

  /** Totals since creation (a copy). */
  stats(): RaftTransportStats {
    return { ...this.#stats };
  }

  /**
   * Replace the peer address book (after a membership change). Links to removed peers or
   * peers whose address changed are closed; their queued messages are dropped.
   */
  setPeers(peers: Readonly<Record<NodeId, string>>): void {
    this.#peers = { ...peers };
    for (const [id, link] of this.#links) {
      if (this.#peers[id] !== link.address) {
        this.#dropLink(id, link);
      }
    }
  }

  onReceive(handler: (messages: readonly Message[]) => void): void {
    this.#handler = handler;
  }

  send(to: NodeId, messages: readonly Message[]): void {
    if (this.#closed) {
      this.#stats.messagesDropped += messages.length;
      return;
    }
    const link = this.#link(to);
    if (link === undefined) {
      this.#stats.messagesDropped += messages.length;
      return;
    }
    const max = this.#options.maxQueuedMessages ?? 10_000;
    for (const message of messages) {
      if (message.type === "snapshot") {
        this.#sendSnapshotChunk(to, link, message);
      } else if (link.queue.length >= max) {
        this.#stats.messagesDropped++;
      } else {
        link.queue.push(message);
      }
    }
    if (!link.flushScheduled && link.queue.length > 0) {
      link.flushScheduled = true;
      // Everything sent in this tick leaves in the same batch.
      queueMicrotask(() => {
        link.flushScheduled = false;
        this.#flush(to, link);
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, link] of this.#links) this.#dropLink(id, link);
    for (const call of this.#inbound) call.end();
    this.#inbound.clear();
  }

  /** The receiving side: add it to a server's `services`. */
  service(): ServiceBinding {
    return {
      service: Raft,
      implement: () => ({
        stream: (call: ServerDuplexStream<RaftBatch, RaftBatch>) => this.#serveStream(call),
        installSnapshot: (
          call: ServerReadableStream<SnapshotChunk, SnapshotAck>,
          callback: sendUnaryData<SnapshotAck>,
        ) => this.#serveSnapshot(call, callback),
      }),
    };
  }

  #report(code: string, message: string, cause?: unknown): void {
    const error = new GrpcError(code, message, cause === undefined ? {} : { cause });
    try {
      this.#options.onError?.(error);
    } catch {
      // A failing error hook must not break the transport.
    }
  }

  #link(to: NodeId): PeerLink | undefined {
    const existing = this.#links.get(to);
    if (existing !== undefined) return existing;
    const address = this.#peers[to];
    if (address === undefined) return undefined;
    const link: PeerLink = {
      address,
      client: undefined,
      stream: undefined,
      ready: false,
      queue: [],
      flushScheduled: false,
      waitingForDrain: false,
      attempt: 0,
      retryTimer: undefined,
      snapshot: undefined,
    };
    this.#links.set(to, link);
    return link;
  }

  #client(link: PeerLink): Client {
    link.client ??= new Client(link.address, channelCredentials(link.address, this.#options.tls), {
      ...clusterChannelOptions({
        electionMs: this.#options.electionMs ?? DEFAULT_ELECTION_MS,
        keepaliveWithoutCalls: true,
      }),
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      ...this.#options.channelOptions,
    });
    return link.client;
  }

  #dropLink(id: NodeId, link: PeerLink): void {
    this.#stats.messagesDropped += link.queue.length;
    link.queue = [];
    if (link.retryTimer !== undefined) {
      (this.#options.clearTimeout ?? clearTimeout)(link.retryTimer as NodeJS.Timeout);
      link.retryTimer = undefined;
    }
    link.stream?.cancel();
    link.stream = undefined;
    link.ready = false;
    link.snapshot?.stream.cancel();
    link.snapshot = undefined;
    link.client?.close();
    link.client = undefined;
    this.#links.delete(id);
  }

  #openStream(to: NodeId, link: PeerLink): ClientDuplexStream<RaftBatch, RaftBatch> {
    const definition = grpcServiceDefinition(Raft).stream;
    if (definition === undefined) throw new GrpcError("INTERNAL", "Raft.Stream is missing");
    const stream = this.#client(link).makeBidiStreamRequest(
      definition.path,
      definition.requestSerialize as (value: RaftBatch) => Buffer,
      definition.responseDeserialize as (bytes: Buffer) => RaftBatch,
      new GrpcMetadata(),
      {},
    );
    this.#stats.streamsOpened++;
    link.stream = stream;
    stream.on("metadata", () => {
      // The peer accepted the stream: the link is healthy again. Until now batches stayed
      // queued, so a peer that is down loses nothing that was sent while it was away.
      if (link.stream !== stream) return;
      link.attempt = 0;
      link.ready = true;
      this.#flush(to, link);
    });
    stream.on("data", (batch: RaftBatch) => {
      this.#deliver(batch, "response stream");
    });
    stream.on("drain", () => {
      link.waitingForDrain = false;
      this.#flush(to, link);
    });
    const broken = (error?: Error): void => {
      if (link.stream !== stream) return;
      link.stream = undefined;
      link.ready = false;
      link.waitingForDrain = false;
      if (this.#closed || this.#links.get(to) !== link) return;
      if (error !== undefined) {
        const refusal = notMemberRefusal(error);
        if (refusal !== undefined) {
          try {
            this.#options.onRefused?.({ ...refusal, peer: to });
          } catch (hookError) {
            this.#report("INTERNAL", "onRefused threw", hookError);
          }
        }
        this.#report(
          refusal === undefined ? "UNAVAILABLE" : "FAILED_PRECONDITION",
          `raft link to ${to} (${link.address}) broke: ${error.message}`,
          error,
        );
      }
      this.#scheduleReconnect(to, link);
    };
    stream.on("error", (error: Error) => broken(error));
    stream.on("end", () => broken());
    return stream;
  }

  #scheduleReconnect(to: NodeId, link: PeerLink): void {
    if (link.retryTimer !== undefined) return;
    this.#stats.reconnects++;
    const fitted = clusterReconnect(this.#options.electionMs ?? DEFAULT_ELECTION_MS);
    const initial = this.#options.backoff?.initialMs ?? fitted.initialMs;
    const max = this.#options.backoff?.maxMs ?? fitted.maxMs;
    const delay = Math.min(max, initial * 2 ** link.attempt) * (0.5 + this.#options.random() / 2);
    link.attempt = Math.min(link.attempt + 1, 30);
    const set = this.#options.setTimeout ?? ((callback, ms) => setTimeout(callback, ms));
    link.retryTimer = set(() => {
      link.retryTimer = undefined;
      if (this.#closed || this.#links.get(to) !== link) return;
      this.#openStream(to, link);
    }, delay);
  }

  #flush(to: NodeId, link: PeerLink): void {
    if (this.#closed || link.queue.length === 0 || link.waitingForDrain) return;
    if (link.retryTimer !== undefined) return; // waiting to reconnect: keep queuing
    if (link.stream === undefined) this.#openStream(to, link);
    const stream = link.stream;
    if (stream === undefined || !link.ready) return; // flushed again on "metadata"
    const perBatch = this.#options.maxBatchMessages ?? 512;
    const maxBytes = this.#options.maxBatchBytes ?? 1024 * 1024;
    while (link.queue.length > 0) {
      const encoded: Uint8Array[] = [];
      let bytes = 0;
      while (link.queue.length > 0 && encoded.length < perBatch) {
        const next = this.#codec.encode(link.queue[0] as Message);
        if (encoded.length > 0 && bytes + next.byteLength > maxBytes) break;
        link.queue.shift();
        encoded.push(next);
        bytes += next.byteLength;
      }
      const batch = create(RaftBatchSchema, {
        clusterId: this.#options.clusterId,
        from: this.#options.id,
        to,
        messages: encoded,
      });
      this.#stats.batchesSent++;
      this.#stats.messagesSent += encoded.length;
      if (!stream.write(batch)) {
        link.waitingForDrain = true;
        return;
      }
    }
  }

  #sendSnapshotChunk(to: NodeId, link: PeerLink, message: SnapshotMessage): void {
    let upload = link.snapshot;
    if (
      upload === undefined ||
      upload.index !== message.meta.index ||
      upload.expectedOffset !== message.offset
    ) {
      upload?.stream.cancel();
      const definition = grpcServiceDefinition(Raft).installSnapshot;
      if (definition === undefined)
        throw new GrpcError("INTERNAL", "Raft.InstallSnapshot is missing");
      const stream = this.#client(link).makeClientStreamRequest(
        definition.path,
        definition.requestSerialize as (value: SnapshotChunk) => Buffer,
        definition.responseDeserialize as (bytes: Buffer) => SnapshotAck,
        new GrpcMetadata(),
        {},
        (error) => {
          if (error !== null && error.code !== status.CANCELLED) {
            this.#report("UNAVAILABLE", `snapshot upload to ${to} failed: ${error.details}`, error);
          }
          if (link.snapshot?.stream === stream) link.snapshot = undefined;
        },
      );
      this.#stats.snapshotStreams++;
      upload = { index: message.meta.index, stream, expectedOffset: message.offset };
      link.snapshot = upload;
    }
    upload.stream.write(
      create(SnapshotChunkSchema, {
        clusterId: this.#options.clusterId,
        from: this.#options.id,
        to,
        message: this.#codec.encode({ ...message, data: EMPTY }),
        offset: BigInt(message.offset),
        data: message.data,
        totalSize: BigInt(message.total),
        done: message.done,
      }),
    );
    this.#stats.messagesSent++;
    upload.expectedOffset = message.offset + message.data.byteLength;
    if (message.done) {
      upload.stream.end();
      link.snapshot = undefined;
    }
  }

  /**
   * Hands a received batch to the handler. Returns the reason to end the stream it came on
   * (another cluster, or a sender that is not a member), undefined when it was taken (or
   * dropped without ending the stream).
   */
  #deliver(batch: RaftBatch, origin: string): StreamRefusal | undefined {
    if (batch.clusterId !== this.#options.clusterId) {
      this.#report(
        "CONFLICT",
        `raft batch from ${batch.from} (${origin}) is for cluster ${batch.clusterId}, not ${this.#options.clusterId}`,
      );
      return {
        code: status.FAILED_PRECONDITION,
        details: `cluster id mismatch: this server belongs to ${this.#options.clusterId}`,
        metadata: errorMetadata("CONFLICT"),
      };
    }
    if (batch.to !== this.#options.id) {
      // A stale address book on the sender (a member moved): never feed another node's mail
      // to this one.
      this.#stats.messagesDropped += batch.messages.length;
      this.#report(
        "CONFLICT",
        `raft batch from ${batch.from} is addressed to ${batch.to}, but this server is ${this.#options.id}`,
      );
      return undefined;
    }
    let messages: Message[];
    try {
      messages = batch.messages.map((bytes) => this.#codec.decode(bytes));
    } catch (error) {
      this.#report("INVALID_ARGUMENT", `undecodable raft batch from ${batch.from}`, error);
      return undefined;
    }
    let refusal: NotMemberRefusal | undefined;
    try {
      refusal = this.#options.checkSender?.(batch.from, messages);
    } catch (error) {
      this.#report("INTERNAL", "checkSender threw; batch admitted", error);
    }
    if (refusal !== undefined) {
      this.#stats.messagesDropped += messages.length;
      this.#report(
        "FAILED_PRECONDITION",
        `raft batch from ${batch.from} refused: ${refusal.reason}`,
      );
      const metadata = errorMetadata(NOT_MEMBER);
      metadata.set(CONFIG_INDEX_TRAILER, String(refusal.configIndex));
      return { code: status.FAILED_PRECONDITION, details: refusal.reason, metadata };
    }
    this.#hand(messages);
    return undefined;
  }

  #hand(messages: readonly Message[]): void {
    if (this.#closed || messages.length === 0) return;
    this.#stats.messagesReceived += messages.length;
    try {
      this.#handler?.(messages);
    } catch (error) {
      this.#report("INTERNAL", "raft receive handler threw", error);
    }
  }

  #serveStream(call: ServerDuplexStream<RaftBatch, RaftBatch>): void {
    if (this.#closed) {
      call.emit("error", { code: status.UNAVAILABLE, details: "raft transport is closed" });
      return;
    }
    this.#inbound.add(call);
    call.sendMetadata(new GrpcMetadata());
    let refused = false;
    call.on("data", (batch: RaftBatch) => {
      if (refused) return;
      const refusal = this.#deliver(batch, "stream");
      if (refusal !== undefined) {
        refused = true;
        this.#inbound.delete(call);
        call.emit("error", refusal);
      }
    });
    call.on("end", () => {
      this.#inbound.delete(call);
      call.end();
    });
    call.on("error", () => this.#inbound.delete(call));
    call.on("cancelled", () => this.#inbound.delete(call));
  }

  #serveSnapshot(
    call: ServerReadableStream<SnapshotChunk, SnapshotAck>,
    callback: sendUnaryData<SnapshotAck>,
  ): void {
    let received = 0n;
    let failed = false;
    call.on("data", (chunk: SnapshotChunk) => {
      if (failed) return;
      if (chunk.clusterId !== this.#options.clusterId) {
        failed = true;
        callback({
          code: status.FAILED_PRECONDITION,
          details: `cluster id mismatch: this server belongs to ${this.#options.clusterId}`,
          metadata: errorMetadata("CONFLICT"),
        });
        return;
      }
      let header: Message;
      try {
        header = this.#codec.decode(chunk.message);
      } catch (error) {
        failed = true;
        this.#report("INVALID_ARGUMENT", `undecodable snapshot chunk from ${chunk.from}`, error);
        callback({ code: status.INVALID_ARGUMENT, details: "undecodable snapshot chunk" });
        return;
      }
      if (header.type !== "snapshot") {
        failed = true;
        callback({
          code: status.INVALID_ARGUMENT,
          details: "chunk does not carry a snapshot message",
        });
        return;
      }
      if (chunk.to !== this.#options.id) {
        failed = true;
        callback({
          code: status.FAILED_PRECONDITION,
          details: `snapshot for ${chunk.to} sent to ${this.#options.id}`,
          metadata: errorMetadata("CONFLICT"),
        });
        return;
      }
      received += BigInt(chunk.data.byteLength);
      this.#hand([{ ...header, data: chunk.data }]);
    });
    call.on("end", () => {
      if (!failed)
        callback(null, create(SnapshotAckSchema, { bytesReceived: received, accepted: true }));
    });
  }
}

/** How a server ends a Raft stream it refuses (a gRPC status with ipamd trailers). */
interface StreamRefusal {
  readonly code: status;
  readonly details: string;
  readonly metadata: GrpcMetadata;
}

/** The NOT_MEMBER refusal a peer ended our stream with, if that is what `error` is. */
function notMemberRefusal(error: Error): NotMemberRefusal | undefined {
  const metadata = (error as { metadata?: GrpcMetadata }).metadata;
  if (!(metadata instanceof GrpcMetadata)) return undefined;
  if (metadata.get("ipam-error-code")[0] !== NOT_MEMBER) return undefined;
  const configIndex = Number(metadata.get(CONFIG_INDEX_TRAILER)[0] ?? Number.NaN);
  if (!Number.isSafeInteger(configIndex) || configIndex < 0) return undefined;
  return { configIndex, reason: (error as { details?: string }).details ?? error.message };
}

function errorMetadata(code: string): GrpcMetadata {
  const metadata = new GrpcMetadata();
  metadata.set("ipam-error-code", code);
  return metadata;
}
