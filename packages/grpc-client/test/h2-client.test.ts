// The lean client's HTTP/2 connection and HPACK decoder against a real HTTP/2 implementation:
// node:http2 (nghttp2) as the server, which Huffman-encodes and indexes what it sends.

import { mkdtempSync, rmSync } from "node:fs";
import {
  createServer as createHttp2Server,
  type Http2Server,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import {
  connect,
  createServer as createNetServer,
  type Server as NetServer,
  Socket as NetSocket,
  type Socket,
} from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { H2_ERROR, H2ClientConnection, type H2StreamError } from "../src/h2/client-connection.js";
import { encodeHeaders, type HeaderField, HpackDecoder, HpackError } from "../src/h2/hpack.js";
import { huffmanCode, huffmanCodeLengths, huffmanDecode } from "../src/h2/huffman.js";
import { type ByteStream, connectUnixStream, usesLibuvPipe } from "../src/h2/unix-stream.js";
import { waitFor } from "./support/temp.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** TCP on loopback, and a unix socket reached through libuv's pipe handle or through node:net. */
type Transport = "tcp" | "unix (libuv pipe)" | "unix (node:net)";
const TRANSPORTS: Transport[] = ["tcp", "unix (libuv pipe)", "unix (node:net)"];

/** Where a test server listens: a loopback port or a socket path. */
interface Endpoint {
  readonly transport: Transport;
  readonly port: number;
  readonly path: string;
}

let socketDir: string | undefined;
let sockets = 0;

/** A fresh socket path in this file's own temporary folder. */
function socketPath(): string {
  if (socketDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "h2-client-"));
    socketDir = dir;
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      socketDir = undefined;
    });
  }
  return join(socketDir, `s${sockets++}.sock`);
}

async function listen(
  transport: Transport,
  onStream: (stream: ServerHttp2Stream, headers: Record<string, unknown>) => void,
  settings: { maxConcurrentStreams?: number } = {},
): Promise<{ server: Http2Server; endpoint: Endpoint }> {
  const server = createHttp2Server({ settings });
  server.on("stream", onStream);
  // Destroyed at cleanup: a server session that sent GOAWAY may outlive its client's socket.
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (session) => sessions.add(session));
  return { server, endpoint: await listenOn(transport, server, sessions) };
}

/** Listens on 127.0.0.1 (any port) or a fresh socket path; at cleanup destroys `connections`. */
async function listenOn(
  transport: Transport,
  server: NetServer,
  connections: ReadonlySet<{ destroy(): void }>,
): Promise<Endpoint> {
  const path = transport === "tcp" ? "" : socketPath();
  await new Promise<void>((resolve) =>
    transport === "tcp" ? server.listen(0, "127.0.0.1", resolve) : server.listen(path, resolve),
  );
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const connection of connections) connection.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { transport, port, path };
}

/** A raw server that runs `onFirstData` once the client has sent something. */
async function rawServer(
  transport: Transport,
  onFirstData: (socket: Socket) => void,
): Promise<Endpoint> {
  const sockets = new Set<Socket>();
  const raw = createNetServer((socket: Socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.once("data", () => onFirstData(socket));
  });
  return listenOn(transport, raw, sockets);
}

function connectTo(endpoint: Endpoint): ByteStream {
  if (endpoint.transport === "tcp") return connect({ host: "127.0.0.1", port: endpoint.port });
  return connectUnixStream(
    endpoint.path,
    endpoint.transport === "unix (node:net)" ? "net" : "auto",
  );
}

function client(endpoint: Endpoint): H2ClientConnection {
  const connection = new H2ClientConnection(connectTo(endpoint), "localhost");
  cleanups.push(() => connection.close());
  return connection;
}

interface Outcome {
  headers: HeaderField[][];
  body: Buffer;
  error?: H2StreamError;
}

/** One request; resolves when the stream ends or fails. */
function exchange(
  connection: H2ClientConnection,
  path: string,
  body: Buffer,
  extra: HeaderField[] = [],
): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers: HeaderField[][] = [];
    const chunks: Buffer[] = [];
    connection.request([[":method", "POST"], [":path", path], ...extra], body, {
      onHeaders: (fields) => headers.push(fields),
      onData: (chunk) => chunks.push(Buffer.from(chunk)),
      onEnd: () => resolve({ headers, body: Buffer.concat(chunks) }),
      onError: (error) => resolve({ headers, body: Buffer.concat(chunks), error }),
    });
  });
}

function readAll(stream: ServerHttp2Stream): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

describe("Huffman code (RFC 7541 Appendix B)", () => {
  it("is a complete prefix code: the Kraft sum of its 257 lengths is exactly 1", () => {
    const lengths = huffmanCodeLengths();
    expect(lengths).toHaveLength(257);
    const sum = lengths.reduce((total, length) => total + 2 ** (30 - length), 0);
    expect(sum).toBe(2 ** 30);
  });

  it("gives the codes of the RFC for a few symbols, EOS included", () => {
    expect(huffmanCode("0".charCodeAt(0))).toEqual({ code: 0x0, length: 5 });
    expect(huffmanCode("a".charCodeAt(0))).toEqual({ code: 0x3, length: 5 });
    expect(huffmanCode(" ".charCodeAt(0))).toEqual({ code: 0x14, length: 6 });
    expect(huffmanCode(256)).toEqual({ code: 0x3fffffff, length: 30 });
  });

  it("rejects padding that is too long or not all ones, and an encoded EOS", () => {
    // "a" is 00011; padded with 111 it is 0x1f.
    expect(huffmanDecode(Buffer.from([0x1f]))).toBe("a");
    expect(() => huffmanDecode(Buffer.from([0x18]))).toThrow(/padding/);
    expect(() => huffmanDecode(Buffer.from([0xff]))).toThrow(/padding/);
    expect(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/EOS/);
  });
});

describe("HpackDecoder against nghttp2's encoder", () => {
  it("decodes every header value nghttp2 sends, Huffman-coded and indexed, every allowed octet", async () => {
    // Header values may hold TAB, 0x20-0x7e and 0x80-0xff. Each is embedded in a run of common
    // characters so that nghttp2 chooses the Huffman form for it.
    const octets = [0x09];
    for (let octet = 0x20; octet <= 0xff; octet++) if (octet !== 0x7f) octets.push(octet);
    const values = octets.map((octet) => `aeiou${String.fromCharCode(octet)}0123456789aeiou`);
    // nghttp2 on the client side encodes the request headers; a raw socket server decodes them.
    const decoded: HeaderField[][] = [];
    const raw = createNetServer((socket) => {
      const decoder = new HpackDecoder();
      let input = Buffer.alloc(0);
      let prefaceSeen = false;
      socket.on("data", (chunk: Buffer) => {
        input = Buffer.concat([input, chunk]);
        if (!prefaceSeen) {
          if (input.length < 24) return;
          input = input.subarray(24);
          prefaceSeen = true;
          // An empty SETTINGS frame so the client proceeds.
          socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
        }
        while (input.length >= 9) {
          const length = input.readUIntBE(0, 3);
          if (input.length < 9 + length) break;
          if (input[3] === 1) decoded.push(decoder.decode(input.subarray(9, 9 + length)));
          input = input.subarray(9 + length);
        }
      });
    });
    const { port } = await listenOn("tcp", raw, new Set());
    const { connect: connectHttp2 } = await import("node:http2");
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    cleanups.push(() => {
      session.destroy();
    });
    session.on("error", () => undefined);
    // Two requests with the same values: the second reuses nghttp2's dynamic table entries.
    for (let round = 0; round < 2; round++) {
      const headers: Record<string, string> = { ":path": `/round${round}` };
      values.forEach((value, index) => {
        headers[`x-value-${index}`] = value;
      });
      session.request(headers).on("error", () => undefined);
    }
    await waitFor(() => decoded.length >= 2, 60_000, "both requests decoded");
    expect(decoded).toHaveLength(2);
    for (const [round, fields] of decoded.entries()) {
      const map = new Map(fields);
      expect(map.get(":path")).toBe(`/round${round}`);
      values.forEach((value, index) => {
        expect(map.get(`x-value-${index}`)).toBe(value);
      });
    }
  });

  it("rejects an index past both tables and a size update above the announced limit", () => {
    expect(() => new HpackDecoder().decode(Buffer.from([0x80 | 70]))).toThrow(HpackError);
    // 001xxxxx with 5-bit prefix 31 then 0xe2 0x1f: 31 + 98 + 31*128 = 4097 > 4096.
    expect(() => new HpackDecoder().decode(Buffer.from([0x3f, 0xe2, 0x1f]))).toThrow(/4097/);
  });

  it("reads back what encodeHeaders writes", () => {
    const fields: HeaderField[] = [
      [":path", "/ipam.v1.Ipam/Allocate"],
      ["grpc-timeout", "10000m"],
      ["x-long", "v".repeat(300)],
    ];
    expect(new HpackDecoder().decode(encodeHeaders(fields))).toEqual(fields);
  });
});

describe.each(TRANSPORTS)("H2ClientConnection over %s against node:http2", (transport) => {
  if (transport === "unix (libuv pipe)") {
    it("really uses the libuv pipe handle on this Node (no silent fallback to node:net)", () => {
      expect(usesLibuvPipe()).toBe(true);
      const socket = connectTo({ transport, port: 0, path: socketPath() });
      socket.on("error", () => undefined);
      socket.destroy();
      expect(socket).not.toBeInstanceOf(NetSocket);
    });
  }

  it("sends a request body far larger than the initial windows and reads a large response", async () => {
    const { endpoint } = await listen(transport, (stream) => {
      void readAll(stream).then((body) => {
        stream.respond({ ":status": 200, "x-got": String(body.length) });
        // Echo it back twice: many DATA frames, more than the default 64 KiB window.
        stream.end(Buffer.concat([body, body]));
      });
    });
    const body = Buffer.alloc(300_000, 7);
    const outcome = await exchange(client(endpoint), "/echo", body);
    expect(outcome.error).toBeUndefined();
    expect(new Map(outcome.headers[0]).get("x-got")).toBe("300000");
    expect(outcome.body.equals(Buffer.concat([body, body]))).toBe(true);
  });

  it("delivers response headers and trailers as two blocks", async () => {
    const { endpoint } = await listen(transport, (stream) => {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc" },
        {
          waitForTrailers: true,
        },
      );
      stream.on("wantTrailers", () =>
        stream.sendTrailers({ "grpc-status": "0", "grpc-message": "OK" }),
      );
      stream.end(Buffer.from("payload"));
    });
    const outcome = await exchange(client(endpoint), "/x", Buffer.alloc(0));
    expect(outcome.headers).toHaveLength(2);
    expect(new Map(outcome.headers[0]).get(":status")).toBe("200");
    expect(new Map(outcome.headers[1]).get("grpc-status")).toBe("0");
    expect(outcome.body.toString()).toBe("payload");
  });

  it("queues requests beyond the server's concurrent stream limit and runs them all", async () => {
    let open = 0;
    let most = 0;
    let arrived = 0;
    const held: (() => void)[] = [];
    const { endpoint } = await listen(
      transport,
      (stream, headers) => {
        const path = String(headers[":path"]);
        const answer = () => {
          open--;
          stream.respond({ ":status": 200 });
          stream.end(path);
        };
        open++;
        most = Math.max(most, open);
        if (path === "/warm") return answer();
        arrived++;
        held.push(answer);
        // Hold each stream until the limit is reached, so the client must queue the others;
        // answer everything once the last one is in.
        if (arrived === 7) for (let next = held.shift(); next; next = held.shift()) next();
        else if (open === 2) held.shift()?.();
      },
      { maxConcurrentStreams: 2 },
    );
    const connection = client(endpoint);
    // Let the server's SETTINGS (the limit) arrive first.
    await exchange(connection, "/warm", Buffer.alloc(0));
    const outcomes = await Promise.all(
      Array.from({ length: 7 }, (_, i) => exchange(connection, `/r${i}`, Buffer.from("x"))),
    );
    expect(outcomes.map((o) => o.body.toString())).toEqual(
      Array.from({ length: 7 }, (_, i) => `/r${i}`),
    );
    expect(most).toBe(2);
  });

  it("reports a stream the server resets, and keeps the connection for the next request", async () => {
    const { endpoint } = await listen(transport, (stream, headers) => {
      stream.on("error", () => undefined);
      if (headers[":path"] === "/reset") stream.close(H2_ERROR.ENHANCE_YOUR_CALM);
      else {
        stream.respond({ ":status": 200 });
        stream.end("fine");
      }
    });
    const connection = client(endpoint);
    const reset = await exchange(connection, "/reset", Buffer.from("x"));
    expect(reset.error).toMatchObject({ h2Code: H2_ERROR.ENHANCE_YOUR_CALM, refused: false });
    expect(connection.usable).toBe(true);
    const next = await exchange(connection, "/ok", Buffer.from("x"));
    expect(next.body.toString()).toBe("fine");
  });

  it("finishes the streams the server kept after GOAWAY and refuses new ones", async () => {
    const { endpoint } = await listen(transport, (stream) => {
      stream.session?.goaway(H2_ERROR.NO_ERROR);
      setTimeout(() => {
        stream.respond({ ":status": 200 });
        stream.end("answered");
      }, 50);
    });
    const connection = client(endpoint);
    const kept = await exchange(connection, "/kept", Buffer.from("x"));
    expect(kept.body.toString()).toBe("answered");
    expect(connection.usable).toBe(false);
    const refused = await exchange(connection, "/late", Buffer.from("x"));
    expect(refused.error).toMatchObject({ refused: true });
  });

  it("fails as refused the streams above GOAWAY's last stream id", async () => {
    // A raw server: SETTINGS, then GOAWAY with last stream id 0 (nothing was processed).
    const endpoint = await rawServer(transport, (socket) => {
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      socket.write(Buffer.from([0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    });
    const connection = client(endpoint);
    const outcome = await exchange(connection, "/", Buffer.from("x"));
    expect(outcome.error).toMatchObject({ refused: true, h2Code: H2_ERROR.NO_ERROR });
    expect(connection.usable).toBe(false);
  });

  it("answers the server's PING", async () => {
    let session: ServerHttp2Session | undefined;
    const { server, endpoint } = await listen(transport, (stream) => {
      stream.respond({ ":status": 200 });
      stream.end();
    });
    server.on("session", (s) => {
      session = s;
    });
    const connection = client(endpoint);
    await exchange(connection, "/", Buffer.alloc(0));
    const rtt = await new Promise<number>((resolve, reject) => {
      session?.ping((error, duration) => (error === null ? resolve(duration) : reject(error)));
    });
    expect(rtt).toBeGreaterThanOrEqual(0);
  });

  it("fails its streams as refused when nothing listens", async () => {
    let nowhere: Endpoint;
    if (transport === "tcp") {
      // A port that was just free: connect to a closed listener.
      const probe = createNetServer();
      const { port } = await listenOn(transport, probe, new Set());
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      nowhere = { transport, port, path: "" };
    } else {
      nowhere = { transport, port: 0, path: socketPath() };
    }
    const outcome = await exchange(client(nowhere), "/", Buffer.from("x"));
    expect(outcome.error).toMatchObject({ refused: true });
    expect(outcome.error?.message).toMatch(transport === "tcp" ? /ECONNREFUSED/ : /ENOENT/);
  });

  it("closes the connection when a header block grows without end (CONTINUATION flood)", async () => {
    const endpoint = await rawServer(transport, (socket) => {
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      // HEADERS without END_HEADERS, then 16 KiB CONTINUATIONs that never end the block.
      const fragment = Buffer.alloc(16_384, 0x40);
      const frameOf = (type: number) =>
        Buffer.concat([Buffer.from([0, 0x40, 0, type, 0, 0, 0, 0, 1]), fragment]);
      socket.write(frameOf(1));
      for (let i = 0; i < 40 && !socket.destroyed; i++) socket.write(frameOf(9));
    });
    const connection = client(endpoint);
    const outcome = await exchange(connection, "/", Buffer.from("x"));
    expect(outcome.error).toMatchObject({ h2Code: H2_ERROR.ENHANCE_YOUR_CALM });
    expect(connection.usable).toBe(false);
  });

  it("closes the connection with COMPRESSION_ERROR on an undecodable header block", async () => {
    // A raw server that sends a HEADERS frame holding an invalid index.
    const endpoint = await rawServer(transport, (socket) => {
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      socket.write(Buffer.from([0, 0, 1, 1, 5, 0, 0, 0, 1, 0x80 | 100]));
    });
    const connection = client(endpoint);
    const outcome = await exchange(connection, "/", Buffer.from("x"));
    expect(outcome.error).toMatchObject({ h2Code: H2_ERROR.COMPRESSION_ERROR });
    expect(connection.usable).toBe(false);
  });
});
