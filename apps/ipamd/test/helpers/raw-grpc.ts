// Hand-made gRPC over node:http2 client sessions, for tests that send what no gRPC client would
// (compressed flags, broken frames, unfinished requests, odd headers) to a real ipamd.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { connect as netConnect } from "node:net";

/** Where to dial: a unix socket, or host:port with or without TLS. */
export type RawTarget =
  | { readonly socket: string }
  | {
      readonly port: number;
      readonly tls?: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
    };

/** A session to `target`; session errors are swallowed (the server closing on us is an outcome). */
export function rawSession(target: RawTarget): ClientHttp2Session {
  let session: ClientHttp2Session;
  if ("socket" in target) {
    session = connect("http://localhost", { createConnection: () => netConnect(target.socket) });
  } else if (target.tls !== undefined) {
    session = connect(`https://127.0.0.1:${target.port}`, {
      ca: target.tls.ca,
      ...(target.tls.cert === undefined ? {} : { cert: target.tls.cert }),
      ...(target.tls.key === undefined ? {} : { key: target.tls.key }),
    });
  } else {
    session = connect(`http://127.0.0.1:${target.port}`);
  }
  session.on("error", () => {});
  return session;
}

/** A gRPC length-prefixed message; `declaredLength` may lie about the payload's size. */
export function grpcFrame(
  payload: Uint8Array,
  compressed = false,
  declaredLength?: number,
): Buffer {
  const out = Buffer.alloc(5 + payload.byteLength);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(declaredLength ?? payload.byteLength, 1);
  out.set(payload, 5);
  return out;
}

/** The request headers of a call to `path` (`/ipam.v1.Ipam/Allocate`), plus `extra`. */
export function grpcHeaders(path: string, extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  return {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...extra,
  };
}

/** How a raw call ended, as the client saw it. */
export interface RawOutcome {
  /** `grpc-status` from the trailers or a trailers-only answer; undefined when none came. */
  readonly status: number | undefined;
  /** `grpc-message`, percent-decoded. */
  readonly message: string;
  /** `:status` of the response, when one came. */
  readonly httpStatus: number | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
  /** The RST_STREAM code the stream closed with (0 = NO_ERROR). */
  readonly rstCode: number;
}

/** Resolves with the outcome once the stream closes. */
export function outcomeOf(stream: ClientHttp2Stream): Promise<RawOutcome> {
  return new Promise((resolve) => {
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    let bodyBytes = 0;
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (chunk: Buffer) => {
      bodyBytes += chunk.byteLength;
    });
    stream.on("error", () => {});
    stream.on("close", () => {
      const raw = trailers["grpc-status"] ?? headers["grpc-status"];
      const message = String(trailers["grpc-message"] ?? headers["grpc-message"] ?? "");
      let decoded = message;
      try {
        decoded = decodeURIComponent(message);
      } catch {
        // keep it as sent
      }
      const http = headers[":status"];
      resolve({
        status: raw === undefined ? undefined : Number(raw),
        message: decoded,
        httpStatus: http === undefined ? undefined : Number(http),
        headers,
        bodyBytes,
        rstCode: stream.rstCode ?? 0,
      });
    });
  });
}

/**
 * One call: headers, then `body` (if any), then END_STREAM unless `end` is false. Resolves with
 * the outcome when the stream closes. Throws only when the session is already gone.
 */
export function rawCall(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body: Uint8Array | undefined,
  end = true,
): { readonly stream: ClientHttp2Stream; readonly done: Promise<RawOutcome> } {
  const stream = session.request(headers, { endStream: body === undefined && end });
  const done = outcomeOf(stream);
  if (body !== undefined) {
    if (end) stream.end(body);
    else stream.write(body);
  }
  return { stream, done };
}

/**
 * Resolves once a new session has the server's SETTINGS (call it right after `rawSession`, before
 * they can arrive), so the server's limits apply to what follows.
 */
export function settled(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    session.once("remoteSettings", () => setImmediate(resolve));
  });
}

/** The value of the first sample of `name` whose labels include every pair of `labels`. */
export function metricValue(
  exposition: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return Number.NaN;
}
