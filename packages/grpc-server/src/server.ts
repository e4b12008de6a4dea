import { readFile, unlink } from "node:fs/promises";
import { type ChannelOptions, Server, ServerCredentials } from "@grpc/grpc-js";
import { GrpcError } from "@ipam/grpc-client";
import { type AuthorizationOptions, authorizationInterceptor } from "./call-authorization.js";
import type { ServerHooks } from "./call-hooks.js";
import { guardGrpcServer, type MethodKinds } from "./http2-guard.js";
import { fileDescriptorSet } from "./reflection-descriptors.js";
import { grpcServerOptions, resolveServerLimits, type ServerLimits } from "./server-limits.js";
import { grpcServiceDefinition, methodPath } from "./service-definition.js";
import { createIpamService, type IpamHandlers } from "./services.js";
import { hostPort, isLoopbackHost } from "./tcp-address.js";
import type { ServiceBinding } from "./unary-service.js";
import { prepareUnixSocket, setSocketMode } from "./unix-socket.js";

/** PEM material for TLS: file contents, not paths (see {@link readTlsFiles}). */
export interface TlsOptions {
  /** Certificate chain, PEM. */
  readonly cert: string | Uint8Array;
  /** Private key, PEM. */
  readonly key: string | Uint8Array;
  /** CA bundle used to verify client certificates (server) or the server (client), PEM. */
  readonly ca?: string | Uint8Array;
  /** Server only: reject clients without a certificate signed by `ca` (mutual TLS). */
  readonly requireClientCert?: boolean;
}

/** Read PEM files into {@link TlsOptions}. */
export async function readTlsFiles(paths: {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
  readonly requireClientCert?: boolean;
}): Promise<TlsOptions> {
  const [cert, key, ca] = await Promise.all([
    readFile(paths.certFile),
    readFile(paths.keyFile),
    paths.caFile === undefined ? undefined : readFile(paths.caFile),
  ]);
  return {
    cert,
    key,
    ...(ca === undefined ? {} : { ca }),
    ...(paths.requireClientCert === undefined
      ? {}
      : { requireClientCert: paths.requireClientCert }),
  };
}

/** Health status of a service as `grpc.health.v1` reports it. */
export type ServingStatus = "SERVING" | "NOT_SERVING";

/** Options of {@link startGrpcServer}. At least one of `unixSocket` and `tcp` is required. */
export interface GrpcServerOptions extends ServerHooks {
  /** Listen on a unix socket: its folder is created, a stale socket replaced. */
  readonly unixSocket?: {
    readonly path: string;
    /** Permission bits of the socket file; default 0o660. */
    readonly mode?: number;
  };
  /** Listen on TCP. Port 0 picks a free port (see {@link GrpcServer.tcpPort}). */
  readonly tcp?: {
    readonly host: string;
    readonly port: number;
    readonly tls?: TlsOptions;
    /** Allow a non-loopback listener without TLS. Off by default: cleartext is refused. */
    readonly insecure?: boolean;
  };
  /** The services to serve (from `createIpamService`, `createClusterService`, the Raft transport). */
  readonly services: readonly ServiceBinding[];
  /** Largest request message accepted, bytes; default 4 MiB. Larger ones fail RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageLength?: number;
  /** Largest response message sent, bytes; default 16 MiB. */
  readonly maxSendMessageLength?: number;
  /** Serve `grpc.reflection.v1` and `v1alpha`; default true. */
  readonly reflection?: boolean;
  /**
   * Bounds on connections, streams, headers and time that hold on every listener; each one not
   * given keeps its value from `DEFAULT_SERVER_LIMITS` (see docs/grpc.md).
   */
  readonly limits?: Partial<ServerLimits>;
  /** Extra @grpc/grpc-js channel options; they override those `limits` sets. */
  readonly channelOptions?: ChannelOptions;
  /**
   * Authorise every call of the TCP listener from its client certificate (see
   * {@link authorizationInterceptor}); requires `tcp.tls` with `requireClientCert`. Calls on the
   * unix socket carry no certificate and are not checked.
   */
  readonly authorization?: AuthorizationOptions;
}

/** A running server. */
export interface GrpcServer {
  /** The unix socket path, when listening on one. */
  readonly unixSocketPath: string | undefined;
  /** The bound TCP port, when listening on TCP. */
  readonly tcpPort: number | undefined;
  /** The underlying @grpc/grpc-js server (for adding services the package does not know). */
  readonly server: Server;
  /**
   * Set the health status of a service (its full name, `ipam.v1.Ipam`) or of the whole server
   * (`""`). Watchers are notified.
   */
  setServingStatus(service: string, status: ServingStatus): void;
  /**
   * Stop accepting calls, mark every service NOT_SERVING, let running calls finish for up to
   * `graceMs` (default 10 000), then cancel what remains. Idempotent; resolves when closed.
   */
  shutdown(graceMs?: number): Promise<void>;
}

const DEFAULT_MAX_RECEIVE = 4 * 1024 * 1024;
const DEFAULT_MAX_SEND = 16 * 1024 * 1024;

/** Streaming methods of the services every server adds (health, reflection). */
const BUILT_IN_STREAMING: ReadonlyArray<readonly [string, "server_streaming" | "bidi_streaming"]> =
  [
    ["/grpc.health.v1.Health/Watch", "server_streaming"],
    ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "bidi_streaming"],
    ["/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "bidi_streaming"],
  ];

function methodKinds(services: readonly ServiceBinding[]): MethodKinds {
  const kinds = new Map<
    string,
    "unary" | "server_streaming" | "client_streaming" | "bidi_streaming"
  >(BUILT_IN_STREAMING);
  for (const binding of services) {
    for (const method of binding.service.methods) kinds.set(methodPath(method), method.methodKind);
  }
  return kinds;
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => {
      if (error === null) resolve(port);
      else reject(new GrpcError("UNAVAILABLE", `cannot listen on ${address}: ${error.message}`));
    });
  });
}

function tcpCredentials(tcp: NonNullable<GrpcServerOptions["tcp"]>): ServerCredentials {
  if (tcp.tls === undefined) {
    if (!isLoopbackHost(tcp.host) && tcp.insecure !== true) {
      throw new GrpcError(
        "INSECURE_LISTENER",
        `tcp.host: ${tcp.host} is not a loopback address; configure tcp.tls or set tcp.insecure: true`,
        { details: { host: tcp.host } },
      );
    }
    return ServerCredentials.createInsecure();
  }
  const tls = tcp.tls;
  if (tls.requireClientCert === true && tls.ca === undefined) {
    throw new GrpcError("INVALID_ARGUMENT", "tcp.tls.ca: required when requireClientCert is set");
  }
  return ServerCredentials.createSsl(
    tls.ca === undefined ? null : Buffer.from(tls.ca),
    [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }],
    tls.requireClientCert === true,
  );
}

/**
 * Start a gRPC server with the given services plus `grpc.health.v1` (every service and `""`
 * start SERVING) and server reflection.
 *
 * @throws GrpcError `INVALID_ARGUMENT` (no listener, bad options), `INSECURE_LISTENER`,
 *   `SOCKET_IN_USE`, `UNAVAILABLE` (bind failed). Nothing keeps listening after a throw.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  if (options.unixSocket === undefined && options.tcp === undefined) {
    throw new GrpcError("INVALID_ARGUMENT", "startGrpcServer: give unixSocket, tcp or both");
  }
  const tcpCreds = options.tcp === undefined ? undefined : tcpCredentials(options.tcp);
  if (options.authorization !== undefined && options.tcp?.tls?.requireClientCert !== true) {
    throw new GrpcError(
      "INVALID_ARGUMENT",
      "authorization: needs tcp.tls with requireClientCert (identities come from client certificates)",
    );
  }
  const limits = resolveServerLimits(options.limits);
  const server = new Server({
    "grpc.max_receive_message_length": options.maxReceiveMessageLength ?? DEFAULT_MAX_RECEIVE,
    "grpc.max_send_message_length": options.maxSendMessageLength ?? DEFAULT_MAX_SEND,
    ...grpcServerOptions(limits),
    ...options.channelOptions,
    ...(options.authorization === undefined
      ? {}
      : { interceptors: [authorizationInterceptor(options.authorization)] }),
  });
  guardGrpcServer(server, {
    limits,
    methodKinds: methodKinds(options.services),
    ...(options.onRefused === undefined ? {} : { onRefused: options.onRefused }),
  });
  const hooks: ServerHooks = {
    ...(options.onCall === undefined ? {} : { onCall: options.onCall }),
    ...(options.onInternalError === undefined ? {} : { onInternalError: options.onInternalError }),
  };
  const policy = { defaultDeadlineMs: limits.defaultDeadlineMs };
  for (const binding of options.services) {
    const definition = binding.definition?.() ?? grpcServiceDefinition(binding.service);
    server.addService(definition, binding.implement(hooks, policy));
  }

  // Loaded here, not at import: health and reflection parse their .proto files when loaded.
  const { HealthImplementation } = await import("grpc-health-check");
  const serviceNames = options.services.map((binding) => binding.service.typeName);
  const health = new HealthImplementation(
    Object.fromEntries(["", ...serviceNames].map((name) => [name, "SERVING" as const])),
  );
  health.addToServer(server);
  if (options.reflection !== false && options.services.length > 0) {
    const [{ ReflectionService }, protoLoader] = await Promise.all([
      import("@grpc/reflection"),
      import("@grpc/proto-loader"),
    ]);
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(
      Buffer.from(fileDescriptorSet(options.services.map((binding) => binding.service))),
    );
    new ReflectionService(definition).addToServer(server);
  }

  let unixSocketPath: string | undefined;
  let tcpPort: number | undefined;
  try {
    if (options.unixSocket !== undefined) {
      await prepareUnixSocket(options.unixSocket.path);
      await bind(server, `unix:${options.unixSocket.path}`, ServerCredentials.createInsecure());
      await setSocketMode(options.unixSocket.path, options.unixSocket.mode ?? 0o660);
      unixSocketPath = options.unixSocket.path;
    }
    if (options.tcp !== undefined && tcpCreds !== undefined) {
      tcpPort = await bind(server, hostPort(options.tcp.host, options.tcp.port), tcpCreds);
    }
  } catch (error) {
    server.forceShutdown();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const shutdown = (graceMs = 10_000): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const name of ["", ...serviceNames]) health.setStatus(name, "NOT_SERVING");
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        // grpc-js leaves the socket file behind; remove it so the next start finds none.
        const path = unixSocketPath;
        if (path === undefined) resolve();
        else unlink(path).then(resolve, () => resolve());
      });
    });
    return closing;
  };
  return {
    unixSocketPath,
    tcpPort,
    server,
    setServingStatus: (service, status) => health.setStatus(service, status),
    shutdown,
  };
}

/** Options of {@link createIpamServer}: a server options minus `services`, plus the handlers. */
export type IpamServerOptions = Omit<GrpcServerOptions, "services"> & {
  /** The node API implementation; methods left out answer UNIMPLEMENTED. */
  readonly handlers: Partial<IpamHandlers>;
  /** Extra services to serve beside `ipam.v1.Ipam`. */
  readonly services?: readonly ServiceBinding[];
};

/**
 * The node API server in one call: `startGrpcServer` with `createIpamService(handlers)` (plus
 * health and reflection). Same errors as {@link startGrpcServer}.
 */
export function createIpamServer(options: IpamServerOptions): Promise<GrpcServer> {
  const { handlers, services = [], ...rest } = options;
  return startGrpcServer({ ...rest, services: [createIpamService(handlers), ...services] });
}
