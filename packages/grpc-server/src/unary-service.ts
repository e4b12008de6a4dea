import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  type handleUnaryCall,
  Metadata,
  type MethodDefinition,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { encodeError, GRPC_STATUS, GrpcError, grpcStatusName } from "@ipam/grpc-client";
import { ErrorInfoSchema, StatusSchema } from "@ipam/grpc-client/messages";
import { type ServerHooks, safeHook } from "./call-hooks.js";
import { checkMessage, type MessageLimits } from "./field-rules.js";
import { encodeFlat, type WireEncoder } from "./flat-writer.js";
import { grpcServiceDefinition, methodLabel } from "./service-definition.js";

/** What a handler knows about the call it serves. */
export interface CallContext {
  /**
   * Aborted when the client cancels, the deadline passes or the server force-stops. The
   * reason is a GrpcError (`CANCELLED` or `TIMEOUT`). Pass it to anything slow.
   */
  readonly signal: AbortSignal;
  /**
   * The call's deadline in ms since the epoch (`Date.now()` scale): the client's, or the server's
   * default (`ServicePolicy.defaultDeadlineMs`) when the client set none.
   */
  readonly deadline: number;
  /** Request metadata (headers). */
  readonly metadata: Metadata;
  /** The peer address as gRPC reports it (`unix:...`, `ipv4:1.2.3.4:5678`). */
  readonly peer: string;
  /** The method, `ipam.v1.Ipam/Allocate`. */
  readonly method: string;
}

/** A handler of a unary method: the request message in, the response (or its init shape) out. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** Handlers for every unary method of a generated service, by method local name. */
export type UnaryHandlers<M extends GenServiceMethods> = {
  [K in keyof M]: M[K] extends {
    methodKind: "unary";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  }
    ? UnaryHandler<I, O>
    : never;
};

/** What a server imposes on every call of the services it serves. */
export interface ServicePolicy {
  /**
   * Deadline of a call whose client sent no `grpc-timeout`, ms. When it passes, the handler's
   * signal aborts (`TIMEOUT`) and the call is answered DEADLINE_EXCEEDED at once.
   */
  readonly defaultDeadlineMs: number;
}

/**
 * A service ready to be added to a server: its descriptor and a factory that builds the
 * @grpc/grpc-js implementation with the server's hooks and policy.
 */
export interface ServiceBinding {
  readonly service: DescService;
  readonly implement: (hooks: ServerHooks, policy: ServicePolicy) => UntypedServiceImplementation;
  /**
   * The @grpc/grpc-js definition `implement` is written for; without it the server uses
   * `grpcServiceDefinition(service)` (complete messages in and out).
   */
  readonly definition?: () => ServiceDefinition;
}

/** Options of {@link createUnaryService}. */
export interface UnaryServiceOptions {
  /**
   * Request limits by method local name, checked before the handler: a request out of them fails
   * INVALID_ARGUMENT naming the field and the limit, and the handler never sees it.
   */
  readonly limits?: Readonly<Record<string, MessageLimits>>;
  /**
   * Wire codecs by method local name (generated ones, e.g. `IPAM_SERVER_METHODS` of
   * `@ipam/grpc-client/messages`); a method without one uses protobuf-es's reflection runtime.
   */
  readonly codecs?: Readonly<Record<string, MethodCodec>>;
}

const ERROR_DOMAIN = "ipam.v1";

function trailersFor(error: unknown, method: string, hooks: ServerHooks): ServerErrorResponse {
  const encoded = encodeError(error);
  if (encoded.untyped) safeHook(hooks.onInternalError, method, error);
  const metadata = new Metadata();
  for (const [name, value] of encoded.trailers) {
    metadata.set(name, typeof value === "string" ? value : Buffer.from(value));
  }
  const info: Record<string, string> = {};
  for (const [key, value] of Object.entries(encoded.details)) {
    info[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  const status = create(StatusSchema, {
    code: encoded.status,
    message: encoded.message,
    details: [
      anyPack(
        ErrorInfoSchema,
        create(ErrorInfoSchema, { reason: encoded.code, domain: ERROR_DOMAIN, metadata: info }),
      ),
    ],
  });
  metadata.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, status)));
  return Object.assign(new Error(encoded.message), {
    code: encoded.status,
    details: encoded.message,
    metadata,
  });
}

/** How one method's messages cross the wire: a request decoder and a response encoder. */
export interface MethodCodec {
  /** The request from its bytes (a complete message; unknown fields may be dropped). */
  readonly decode: (bytes: Uint8Array) => unknown;
  /** The response (a message or its init shape) written to `w`; throws on an invalid value. */
  readonly encode: WireEncoder<never>;
}

/** Everything a method's calls share, built once per method and server. */
interface MethodRuntime {
  readonly label: string;
  readonly handler: UnaryHandler<DescMessage, DescMessage> | undefined;
  readonly limits: MessageLimits | undefined;
  readonly hooks: ServerHooks;
  readonly defaultDeadlineMs: number;
  /** The response's bytes, the caller's to keep; throws on a malformed response. */
  readonly encode: (response: unknown) => Buffer;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** The server's default deadline passed: abort the handler and answer DEADLINE_EXCEEDED. */
function onDeadline(call: UnaryCall): void {
  call.deadlinePassed();
}

/**
 * One call: its context (what the handler sees), its deadline timer and its one answer. A class
 * rather than closures: one object per call instead of a dozen, and no promise chain around a
 * handler that answers synchronously.
 */
class UnaryCall implements CallContext {
  readonly deadline: number;
  readonly method: string;
  readonly #runtime: MethodRuntime;
  readonly #call: ServerUnaryCall<unknown, unknown>;
  readonly #callback: sendUnaryData<unknown>;
  readonly #started: number;
  readonly #clientDeadline: boolean;
  // The AbortController is made only when a handler reads `signal` (~5 µs a call otherwise,
  // measured under load); cancellation and the deadline are recorded either way.
  #controller: AbortController | undefined;
  #aborted: GrpcError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #finished = false;
  readonly #onCancelled = (): void => {
    this.#abort(new GrpcError("CANCELLED", `${this.method}: call cancelled by the client`));
  };

  constructor(
    runtime: MethodRuntime,
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
  ) {
    this.#runtime = runtime;
    this.#call = call;
    this.#callback = callback;
    this.method = runtime.label;
    this.#started = runtime.hooks.onCall === undefined ? 0 : performance.now();
    call.on("cancelled", this.#onCancelled);
    const rawDeadline = call.getDeadline();
    const clientDeadline =
      rawDeadline instanceof Date
        ? rawDeadline.getTime()
        : Number.isFinite(rawDeadline)
          ? rawDeadline
          : undefined;
    this.#clientDeadline = clientDeadline !== undefined;
    const now = Date.now();
    this.deadline = clientDeadline ?? now + runtime.defaultDeadlineMs;
    // The error (and its stack trace) is built only when the deadline really passes. At the
    // client's deadline grpc-js answers DEADLINE_EXCEEDED itself; at the server's default one,
    // this does.
    this.#timer = setTimeout(onDeadline, Math.max(0, this.deadline - now), this);
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted !== undefined) this.#controller.abort(this.#aborted);
    }
    return this.#controller.signal;
  }

  get metadata(): Metadata {
    return this.#call.metadata;
  }

  get peer(): string {
    return this.#call.getPeer();
  }

  /** Check the request, run the handler, answer with its result or its error. */
  run(): void {
    const { handler, limits, label } = this.#runtime;
    if (handler === undefined) {
      this.#finish(GRPC_STATUS.UNIMPLEMENTED, {
        name: "GrpcError",
        message: `${label} is not implemented by this server`,
        code: GRPC_STATUS.UNIMPLEMENTED,
        details: `${label} is not implemented by this server`,
      });
      return;
    }
    let result: unknown;
    try {
      const request = this.#call.request as MessageShape<DescMessage>;
      if (limits !== undefined) checkMessage(limits, request);
      result = handler(request, this);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (response) => this.succeed(response),
        (error: unknown) => this.fail(error),
      );
    } else {
      this.succeed(result);
    }
  }

  /** Answer with `response`; a malformed one fails the call as INTERNAL instead. */
  succeed(response: unknown): void {
    if (this.#finished) return;
    let bytes: Buffer;
    try {
      bytes = this.#runtime.encode(response);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.#finish(GRPC_STATUS.OK, null, bytes);
  }

  /** Answer with `error`, mapped by its `code` (see `encodeError`). */
  fail(error: unknown): void {
    if (this.#finished) return;
    const failure = trailersFor(error, this.#runtime.label, this.#runtime.hooks);
    this.#finish(failure.code ?? GRPC_STATUS.INTERNAL, failure);
  }

  deadlinePassed(): void {
    this.#timer = undefined;
    const { label, defaultDeadlineMs } = this.#runtime;
    const reason = new GrpcError(
      "TIMEOUT",
      this.#clientDeadline
        ? `${label}: deadline exceeded`
        : `${label}: no answer within the server's default deadline of ${defaultDeadlineMs} ms (the call set none)`,
    );
    this.#abort(reason);
    if (!this.#clientDeadline) {
      const failure = trailersFor(reason, label, this.#runtime.hooks);
      this.#finish(failure.code ?? GRPC_STATUS.DEADLINE_EXCEEDED, failure);
    }
  }

  #abort(reason: GrpcError): void {
    if (this.#aborted !== undefined) return;
    this.#aborted = reason;
    this.#controller?.abort(reason);
  }

  #finish(code: number, error: ServerErrorResponse | null, value?: Buffer): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#call.removeListener("cancelled", this.#onCancelled);
    const onCall = this.#runtime.hooks.onCall;
    if (onCall !== undefined) {
      const aborted = this.#aborted;
      const reported =
        aborted !== undefined && code !== GRPC_STATUS.OK
          ? aborted.code === "TIMEOUT"
            ? GRPC_STATUS.DEADLINE_EXCEEDED
            : GRPC_STATUS.CANCELLED
          : code;
      try {
        onCall(this.method, grpcStatusName(reported), (performance.now() - this.#started) / 1000);
      } catch {
        // A hook's failure must not change the call's outcome (see ServerHooks).
      }
    }
    if (error === null) this.#callback(null, value);
    else this.#callback(error);
  }
}

function unaryMethod(runtime: MethodRuntime): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    new UnaryCall(runtime, call, callback).run();
  };
}

/**
 * The grpc-js definition of `service` for {@link createUnaryService}: requests decoded by the
 * method's codec (or protobuf-es's reflection runtime), responses passed through as the bytes
 * the call encoded itself.
 */
function unaryDefinition(
  service: DescService,
  codecs: Readonly<Record<string, MethodCodec>> | undefined,
): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const generic = grpcServiceDefinition(service);
  for (const method of service.methods) {
    const input = method.input;
    const codec = codecs?.[method.localName];
    const base = generic[method.localName] as MethodDefinition<unknown, unknown>;
    definition[method.localName] = {
      ...base,
      requestDeserialize: codec === undefined ? (bytes) => fromBinary(input, bytes) : codec.decode,
      responseSerialize: (bytes) => bytes as Buffer,
    };
  }
  return definition;
}

function responseEncoder(
  output: DescMessage,
  codec: MethodCodec | undefined,
): (response: unknown) => Buffer {
  if (codec !== undefined) {
    const encode = codec.encode as WireEncoder<unknown>;
    return (response) => encodeFlat(encode, response);
  }
  return (response) => asBuffer(toBinary(output, create(output, response as never)));
}

/**
 * Bind handlers to a generated service whose methods are all unary. Methods without a handler
 * answer UNIMPLEMENTED. Requests are checked against `options.limits` first. Handler errors are
 * mapped by their `code` (see `encodeError`).
 */
export function createUnaryService<M extends GenServiceMethods>(
  service: GenService<M>,
  handlers: Partial<UnaryHandlers<M>>,
  options: UnaryServiceOptions = {},
): ServiceBinding {
  for (const method of service.methods) {
    if (method.methodKind !== "unary") {
      throw new GrpcError(
        "INVALID_ARGUMENT",
        `${service.typeName}.${method.name} is ${method.methodKind}; createUnaryService only serves unary methods`,
      );
    }
  }
  const table = handlers as Readonly<Record<string, UnaryHandler<DescMessage, DescMessage>>>;
  return {
    service,
    definition: () => unaryDefinition(service, options.codecs),
    implement: (hooks, policy) => {
      const implementation: UntypedServiceImplementation = {};
      for (const method of service.methods) {
        implementation[method.localName] = unaryMethod({
          label: methodLabel(method),
          handler: table[method.localName],
          limits: options.limits?.[method.localName],
          hooks,
          defaultDeadlineMs: policy.defaultDeadlineMs,
          encode: responseEncoder(method.output, options.codecs?.[method.localName]),
        });
      }
      return implementation;
    },
  };
}
