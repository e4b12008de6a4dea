import {
  create,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  type handleUnaryCall,
  Metadata,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { encodeError, GRPC_STATUS, GrpcError, grpcStatusName } from "@ipam/grpc-client";
import { ErrorInfoSchema, StatusSchema } from "@ipam/grpc-client/messages";
import { type ServerHooks, safeHook } from "./call-hooks.js";
import { checkMessage, type MessageLimits } from "./field-rules.js";
import { methodLabel } from "./service-definition.js";

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
}

/** Options of {@link createUnaryService}. */
export interface UnaryServiceOptions {
  /**
   * Request limits by method local name, checked before the handler: a request out of them fails
   * INVALID_ARGUMENT naming the field and the limit, and the handler never sees it.
   */
  readonly limits?: Readonly<Record<string, MessageLimits>>;
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

function unaryMethod(
  service: DescService,
  localName: string,
  handler: UnaryHandler<DescMessage, DescMessage> | undefined,
  limits: MessageLimits | undefined,
  hooks: ServerHooks,
  policy: ServicePolicy,
): handleUnaryCall<unknown, unknown> {
  const method = service.methods.find((m) => m.localName === localName);
  if (method === undefined) throw new GrpcError("INTERNAL", `no method ${localName}`);
  const label = methodLabel(method);
  const output = method.output;
  return (call: ServerUnaryCall<unknown, unknown>, callback) => {
    const started = performance.now();
    // The AbortController is made only when a handler reads `signal` (~5 µs a call otherwise,
    // measured under load); cancellation and the deadline are recorded either way.
    let controller: AbortController | undefined;
    let aborted: GrpcError | undefined;
    const abort = (reason: GrpcError): void => {
      if (aborted !== undefined) return;
      aborted = reason;
      controller?.abort(reason);
    };
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const onCancelled = (): void => {
      abort(new GrpcError("CANCELLED", `${label}: call cancelled by the client`));
    };
    call.once("cancelled", onCancelled);
    const rawDeadline = call.getDeadline();
    const clientDeadline =
      rawDeadline instanceof Date
        ? rawDeadline.getTime()
        : Number.isFinite(rawDeadline)
          ? rawDeadline
          : undefined;
    const deadline = clientDeadline ?? Date.now() + policy.defaultDeadlineMs;
    // The error (and its stack trace) is built only when the deadline really passes. At the
    // client's deadline grpc-js answers DEADLINE_EXCEEDED itself; at the server's default one,
    // this does.
    timer = setTimeout(
      () => {
        const reason = new GrpcError(
          "TIMEOUT",
          clientDeadline === undefined
            ? `${label}: no answer within the server's default deadline of ${policy.defaultDeadlineMs} ms (the call set none)`
            : `${label}: deadline exceeded`,
        );
        abort(reason);
        if (clientDeadline === undefined) {
          const failure = trailersFor(reason, label, hooks);
          finish(failure.code ?? GRPC_STATUS.DEADLINE_EXCEEDED, failure);
        }
      },
      Math.max(0, deadline - Date.now()),
    );
    const finish = (code: number, error: ServerErrorResponse | null, value?: unknown): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      call.removeListener("cancelled", onCancelled);
      const reported =
        aborted !== undefined && code !== GRPC_STATUS.OK
          ? aborted.code === "TIMEOUT"
            ? GRPC_STATUS.DEADLINE_EXCEEDED
            : GRPC_STATUS.CANCELLED
          : code;
      safeHook(hooks.onCall, label, grpcStatusName(reported), (performance.now() - started) / 1000);
      if (error === null) callback(null, value);
      else callback(error);
    };
    if (handler === undefined) {
      finish(GRPC_STATUS.UNIMPLEMENTED, {
        name: "GrpcError",
        message: `${label} is not implemented by this server`,
        code: GRPC_STATUS.UNIMPLEMENTED,
        details: `${label} is not implemented by this server`,
      });
      return;
    }
    const context: CallContext = {
      get signal(): AbortSignal {
        if (controller === undefined) {
          controller = new AbortController();
          if (aborted !== undefined) controller.abort(aborted);
        }
        return controller.signal;
      },
      deadline,
      metadata: call.metadata,
      peer: call.getPeer(),
      method: label,
    };
    Promise.resolve()
      .then(() => {
        const request = call.request as MessageShape<DescMessage>;
        if (limits !== undefined) checkMessage(limits, request);
        return handler(request, context);
      })
      // A malformed result fails the call as INTERNAL instead of escaping as a rejection.
      .then((result) => create(output, result as never))
      .then(
        (response) => finish(GRPC_STATUS.OK, null, response),
        (error: unknown) => {
          const failure = trailersFor(error, label, hooks);
          finish(failure.code ?? GRPC_STATUS.INTERNAL, failure);
        },
      );
  };
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
    implement: (hooks, policy) => {
      const implementation: UntypedServiceImplementation = {};
      for (const method of service.methods) {
        implementation[method.localName] = unaryMethod(
          service,
          method.localName,
          table[method.localName],
          options.limits?.[method.localName],
          hooks,
          policy,
        );
      }
      return implementation;
    },
  };
}
