// Hand-made gRPC requests over node:http2 (client side) for tests that must send what no gRPC
// client would: compressed flags, broken frames, unfinished requests, odd headers.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { connect as netConnect } from "node:net";

/** A session to a unix socket path or a TCP port on 127.0.0.1. */
export function rawSession(target: { readonly socket: string } | { readonly port: number }) {
  const session =
    "socket" in target
      ? connect("http://localhost", { createConnection: () => netConnect(target.socket) })
      : connect(`http://127.0.0.1:${target.port}`);
  session.on("error", () => {}); // a session the server closes on us is an expected outcome
  return session;
}

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, payload. */
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

/** How a raw call ended, as the client saw it. */
export interface RawOutcome {
  /** `grpc-status` from the trailers or a trailers-only answer; undefined when none came. */
  readonly status: number | undefined;
  /** `grpc-message`, percent-decoded. */
  readonly message: string;
  /** Response headers (or the trailers-only block). */
  readonly headers: IncomingHttpHeaders;
  /** Trailers, when a separate block came. */
  readonly trailers: IncomingHttpHeaders;
  /** Bytes of response body. */
  readonly bodyBytes: number;
  /** The RST_STREAM code the stream closed with (0 = NO_ERROR). */
  readonly rstCode: number;
}

/** The request headers of a gRPC call to `path` (`/ipam.v1.Ipam/Allocate`), plus `extra`. */
export function grpcHeaders(path: string, extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  return {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...extra,
  };
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
      resolve({
        status: raw === undefined ? undefined : Number(raw),
        message: safeDecode(message),
        headers,
        trailers,
        bodyBytes,
        rstCode: stream.rstCode ?? 0,
      });
    });
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * One call: headers, then `body` (if any), then END_STREAM unless `end` is false. Resolves with
 * the outcome when the stream closes.
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
