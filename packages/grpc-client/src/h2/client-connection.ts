// A minimal HTTP/2 client connection (RFC 9113) over one socket (a `ByteStream`), for the lean gRPC
// client. `node:http2` costs ~17 ms of process start here (it loads tls, crypto and more), which
// is a third of `node -e 0`; the CNI plugin pays it on every pod. This speaks just what a gRPC
// unary call needs: the preface and SETTINGS, HEADERS/CONTINUATION with HPACK, DATA with flow
// control in both directions, RST_STREAM, PING, GOAWAY, and the peer's stream limit. No server
// push (disabled in our SETTINGS), no priorities, no TLS (unix sockets and loopback only).

import { encodeHeaders, type HeaderField, HpackDecoder, HpackError } from "./hpack.js";
import type { ByteStream } from "./unix-stream.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const FRAME_HEADER = 9;

enum FrameType {
  Data = 0x0,
  Headers = 0x1,
  RstStream = 0x3,
  Settings = 0x4,
  PushPromise = 0x5,
  Ping = 0x6,
  GoAway = 0x7,
  WindowUpdate = 0x8,
  Continuation = 0x9,
}

/** Frame flags; END_STREAM and ACK share a bit (on different frame types). */
const Flag = {
  EndStream: 0x1,
  Ack: 0x1,
  EndHeaders: 0x4,
  Padded: 0x8,
  Priority: 0x20,
} as const;

enum Setting {
  HeaderTableSize = 0x1,
  EnablePush = 0x2,
  MaxConcurrentStreams = 0x3,
  InitialWindowSize = 0x4,
  MaxFrameSize = 0x5,
}

/** HTTP/2 error codes (RFC 9113 §7) this client sends or names. */
export const H2_ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  FLOW_CONTROL_ERROR: 0x3,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

/** Our receive window per stream and for the connection: large enough for any response. */
const RECEIVE_WINDOW = 16 * 1024 * 1024;
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** The largest frame we accept: we never raise SETTINGS_MAX_FRAME_SIZE above the default. */
const MAX_RECEIVE_FRAME = 16_384;
/**
 * The largest header block (HEADERS + CONTINUATIONs, compressed) accepted: far above any gRPC
 * response's, and a bound on what an endless CONTINUATION chain can make us buffer.
 */
const MAX_HEADER_BLOCK = 256 * 1024;

/** Why a stream failed. `refused` is true when the server never processed the request. */
export interface H2StreamError {
  readonly message: string;
  /** The RST_STREAM or GOAWAY error code, when the peer sent one. */
  readonly h2Code?: number;
  readonly refused: boolean;
  readonly cause?: unknown;
}

/** What the lean client hears about one request. Exactly one of `onEnd` and `onError`. */
export interface H2StreamHandler {
  /** Response headers (first block) and trailers (a later block); `endStream` on the last. */
  onHeaders(fields: HeaderField[], endStream: boolean): void;
  onData(chunk: Buffer): void;
  /** The server closed its side normally (END_STREAM). */
  onEnd(): void;
  onError(error: H2StreamError): void;
}

/** A request in flight; `cancel` resets it (RST_STREAM CANCEL) if it is still open. */
export interface H2Stream {
  cancel(): void;
}

interface StreamState {
  id: number;
  readonly handler: H2StreamHandler;
  readonly headerBlock: Buffer;
  body: Buffer;
  sent: number;
  endSent: boolean;
  sendWindow: number;
  unacknowledged: number;
  done: boolean;
}

interface PendingBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly chunks: Buffer[];
  bytes: number;
}

function frame(type: FrameType, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.byteLength ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER + length);
  out.writeUIntBE(length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & MAX_WINDOW, 5);
  if (payload !== undefined) out.set(payload, FRAME_HEADER);
  return out;
}

function uint32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

/**
 * One HTTP/2 connection, client side. Requests may be made before the socket connects; they are
 * written once it does. When the connection fails or the server sends GOAWAY the connection is
 * `usable === false` and the caller makes a new one.
 */
export class H2ClientConnection {
  readonly #socket: ByteStream;
  readonly #authority: string;
  readonly #decoder = new HpackDecoder();
  readonly #streams = new Map<number, StreamState>();
  /** Requests waiting for the peer's concurrent stream limit. */
  readonly #queued: StreamState[] = [];
  #nextStreamId = 1;
  #input: Buffer = Buffer.alloc(0);
  #output: Buffer[] = [];
  #flushScheduled = false;
  /** The header block being assembled from HEADERS + CONTINUATION frames. */
  #pendingBlock: PendingBlock | undefined;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = 16_384;
  #peerMaxStreams = Number.POSITIVE_INFINITY;
  #connectionSendWindow = DEFAULT_WINDOW;
  #connectionUnacknowledged = 0;
  #failed: H2StreamError | undefined;
  #goingAway = false;

  /** @param socket a connecting or connected socket; this connection owns it from now on. */
  constructor(socket: ByteStream, authority: string) {
    this.#socket = socket;
    this.#authority = authority;
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    // Refused only if the connection was never made: after that the server may have acted.
    let connected = !socket.connecting;
    socket.once("connect", () => {
      connected = true;
    });
    socket.on("error", (error: Error) =>
      this.#fail({ message: error.message, refused: !connected, cause: error }),
    );
    socket.on("close", () => this.#fail({ message: "connection closed", refused: false }));
    const settings = Buffer.allocUnsafe(12);
    settings.writeUInt16BE(Setting.EnablePush, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(Setting.InitialWindowSize, 6);
    settings.writeUInt32BE(RECEIVE_WINDOW, 8);
    this.#write(PREFACE);
    this.#write(frame(FrameType.Settings, 0, 0, settings));
    this.#write(frame(FrameType.WindowUpdate, 0, 0, uint32(RECEIVE_WINDOW - DEFAULT_WINDOW)));
  }

  /** False once the connection failed, closed or was told to go away. */
  get usable(): boolean {
    return this.#failed === undefined && !this.#goingAway;
  }

  /** Keep the process alive for this connection's socket or not (the lean client never does). */
  unref(): void {
    this.#socket.unref();
  }

  /**
   * Send one request: `headers` (pseudo-headers first; `:scheme` and `:authority` are added) and
   * the whole `body`, then END_STREAM.
   */
  request(headers: readonly HeaderField[], body: Buffer, handler: H2StreamHandler): H2Stream {
    const fields: HeaderField[] = [];
    for (const field of headers) if (field[0].startsWith(":")) fields.push(field);
    fields.push([":scheme", "http"], [":authority", this.#authority]);
    for (const field of headers) if (!field[0].startsWith(":")) fields.push(field);
    const state: StreamState = {
      id: 0,
      handler,
      headerBlock: encodeHeaders(fields),
      body,
      sent: 0,
      endSent: false,
      sendWindow: 0,
      unacknowledged: 0,
      done: false,
    };
    if (this.#failed !== undefined || this.#goingAway) {
      const failure = this.#failed ?? { message: "connection is going away", refused: true };
      queueMicrotask(() => this.#finish(state, failure));
    } else if (this.#streams.size >= this.#peerMaxStreams) {
      this.#queued.push(state);
    } else {
      this.#open(state);
    }
    return { cancel: () => this.#cancel(state) };
  }

  /** Close the connection; open streams fail. */
  close(): void {
    this.#fail({ message: "connection closed by the client", refused: false });
  }

  #open(state: StreamState): void {
    state.id = this.#nextStreamId;
    this.#nextStreamId += 2;
    state.sendWindow = this.#peerInitialWindow;
    this.#streams.set(state.id, state);
    this.#writeHeaderBlock(state.id, state.headerBlock);
    this.#sendBody(state);
  }

  #writeHeaderBlock(streamId: number, block: Buffer): void {
    let offset = 0;
    let type = FrameType.Headers;
    do {
      const chunk = block.subarray(offset, offset + this.#peerMaxFrame);
      offset += chunk.byteLength;
      const last = offset >= block.byteLength;
      this.#write(frame(type, last ? Flag.EndHeaders : 0, streamId, chunk));
      type = FrameType.Continuation;
    } while (offset < block.byteLength);
  }

  /** Write as much of the body as the flow-control windows allow; END_STREAM with the last. */
  #sendBody(state: StreamState): void {
    while (!state.done && !state.endSent) {
      const remaining = state.body.byteLength - state.sent;
      const size = Math.min(
        remaining,
        this.#peerMaxFrame,
        state.sendWindow,
        this.#connectionSendWindow,
      );
      // An empty final DATA frame needs no window; anything else waits for WINDOW_UPDATE.
      if (remaining > 0 && size <= 0) return;
      const chunk = state.body.subarray(state.sent, state.sent + Math.max(0, size));
      state.sent += chunk.byteLength;
      state.sendWindow -= chunk.byteLength;
      this.#connectionSendWindow -= chunk.byteLength;
      state.endSent = state.sent === state.body.byteLength;
      this.#write(frame(FrameType.Data, state.endSent ? Flag.EndStream : 0, state.id, chunk));
    }
  }

  #cancel(state: StreamState): void {
    if (state.done) return;
    const queued = this.#queued.indexOf(state);
    if (queued >= 0) this.#queued.splice(queued, 1);
    else if (state.id !== 0 && this.#failed === undefined) {
      this.#write(frame(FrameType.RstStream, 0, state.id, uint32(H2_ERROR.CANCEL)));
    }
    this.#release(state);
  }

  #release(state: StreamState): void {
    state.done = true;
    if (state.id !== 0) this.#streams.delete(state.id);
    this.#openQueued();
    if (this.#goingAway && this.#streams.size === 0) this.#socket.destroy();
  }

  /** Open waiting requests while the peer's concurrent stream limit allows. */
  #openQueued(): void {
    while (this.usable && this.#queued.length > 0 && this.#streams.size < this.#peerMaxStreams) {
      this.#open(this.#queued.shift() as StreamState);
    }
  }

  #finish(state: StreamState, error?: H2StreamError): void {
    if (state.done) return;
    this.#release(state);
    if (error === undefined) state.handler.onEnd();
    else state.handler.onError(error);
  }

  #write(buffer: Buffer): void {
    if (this.#failed !== undefined) return;
    this.#output.push(buffer);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        if (this.#failed !== undefined || this.#output.length === 0) return;
        const out = this.#output.length === 1 ? this.#output[0] : Buffer.concat(this.#output);
        this.#output = [];
        this.#socket.write(out as Buffer);
      });
    }
  }

  #fail(error: H2StreamError): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    this.#output = [];
    const pending = [...this.#queued.splice(0), ...this.#streams.values()];
    for (const state of pending) this.#finish(state, error);
    this.#socket.destroy();
  }

  /** A connection error (RFC 9113 §5.4.1): tell the peer, fail every stream, close. */
  #connectionError(code: number, message: string): void {
    if (this.#failed !== undefined) return;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(Math.max(0, this.#nextStreamId - 2), 0);
    payload.writeUInt32BE(code, 4);
    this.#socket.write(Buffer.concat([...this.#output, frame(FrameType.GoAway, 0, 0, payload)]));
    this.#fail({ message: `HTTP/2 protocol error: ${message}`, h2Code: code, refused: false });
  }

  #receive(chunk: Buffer): void {
    this.#input = this.#input.byteLength === 0 ? chunk : Buffer.concat([this.#input, chunk]);
    let offset = 0;
    while (this.#failed === undefined && this.#input.byteLength - offset >= FRAME_HEADER) {
      const length = this.#input.readUIntBE(offset, 3);
      if (length > MAX_RECEIVE_FRAME) {
        this.#connectionError(H2_ERROR.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        return;
      }
      if (this.#input.byteLength - offset < FRAME_HEADER + length) break;
      const type = this.#input[offset + 3] ?? 0;
      const flags = this.#input[offset + 4] ?? 0;
      const streamId = this.#input.readUInt32BE(offset + 5) & MAX_WINDOW;
      const payload = this.#input.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length);
      offset += FRAME_HEADER + length;
      this.#onFrame(type, flags, streamId, payload);
    }
    this.#input = offset === 0 ? this.#input : this.#input.subarray(offset);
  }

  #onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.#pendingBlock !== undefined && type !== FrameType.Continuation) {
      this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "header block interrupted");
      return;
    }
    switch (type) {
      case FrameType.Data:
        this.#onData(flags, streamId, payload);
        return;
      case FrameType.Headers:
        this.#onHeaders(flags, streamId, payload);
        return;
      case FrameType.Continuation:
        this.#onContinuation(flags, streamId, payload);
        return;
      case FrameType.RstStream:
        this.#onReset(streamId, payload);
        return;
      case FrameType.Settings:
        this.#onSettings(flags, streamId, payload);
        return;
      case FrameType.Ping:
        if (streamId !== 0 || payload.byteLength !== 8) {
          this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "malformed PING");
        } else if ((flags & Flag.Ack) === 0) {
          this.#write(frame(FrameType.Ping, Flag.Ack, 0, payload));
        }
        return;
      case FrameType.GoAway:
        this.#onGoAway(payload);
        return;
      case FrameType.WindowUpdate:
        this.#onWindowUpdate(streamId, payload);
        return;
      case FrameType.PushPromise:
        this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled");
        return;
      default:
        // PRIORITY and unknown frame types are ignored (RFC 9113 §4.1, §5.5).
        return;
    }
  }

  /** Strip padding (and the priority block of HEADERS); undefined when malformed. */
  #unpad(flags: number, payload: Buffer, priority: boolean): Buffer | undefined {
    let start = 0;
    let end = payload.byteLength;
    if (flags & Flag.Padded) {
      if (payload.byteLength < 1) return undefined;
      end -= payload[0] ?? 0;
      start = 1;
    }
    if (priority && flags & Flag.Priority) start += 5;
    return start > end ? undefined : payload.subarray(start, end);
  }

  #onData(flags: number, streamId: number, payload: Buffer): void {
    const data = this.#unpad(flags, payload, false);
    if (streamId === 0 || data === undefined) {
      this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "malformed DATA");
      return;
    }
    // Flow control counts the whole payload, padding included, even for a stream we dropped.
    this.#connectionUnacknowledged += payload.byteLength;
    if (this.#connectionUnacknowledged >= RECEIVE_WINDOW / 2) {
      this.#write(frame(FrameType.WindowUpdate, 0, 0, uint32(this.#connectionUnacknowledged)));
      this.#connectionUnacknowledged = 0;
    }
    const state = this.#streams.get(streamId);
    if (state === undefined) return;
    state.unacknowledged += payload.byteLength;
    if (state.unacknowledged >= RECEIVE_WINDOW / 2 && (flags & Flag.EndStream) === 0) {
      this.#write(frame(FrameType.WindowUpdate, 0, streamId, uint32(state.unacknowledged)));
      state.unacknowledged = 0;
    }
    if (data.byteLength > 0) state.handler.onData(data);
    if (flags & Flag.EndStream) this.#finish(state);
  }

  #onHeaders(flags: number, streamId: number, payload: Buffer): void {
    const fragment = this.#unpad(flags, payload, true);
    if (streamId === 0 || fragment === undefined) {
      this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "malformed HEADERS");
      return;
    }
    this.#pendingBlock = {
      streamId,
      endStream: (flags & Flag.EndStream) !== 0,
      chunks: [fragment],
      bytes: fragment.byteLength,
    };
    if (flags & Flag.EndHeaders) this.#completeBlock();
  }

  #onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const pending = this.#pendingBlock;
    if (pending === undefined || pending.streamId !== streamId) {
      this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "unexpected CONTINUATION");
      return;
    }
    pending.chunks.push(payload);
    pending.bytes += payload.byteLength;
    if (pending.bytes > MAX_HEADER_BLOCK) {
      this.#connectionError(
        H2_ERROR.ENHANCE_YOUR_CALM,
        `header block above ${MAX_HEADER_BLOCK} bytes`,
      );
      return;
    }
    if (flags & Flag.EndHeaders) this.#completeBlock();
  }

  #completeBlock(): void {
    const pending = this.#pendingBlock as PendingBlock;
    this.#pendingBlock = undefined;
    let fields: HeaderField[];
    try {
      // Decoded even for a stream we dropped: the dynamic table must stay in step.
      fields = this.#decoder.decode(Buffer.concat(pending.chunks));
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      this.#connectionError(H2_ERROR.COMPRESSION_ERROR, error.message);
      return;
    }
    const state = this.#streams.get(pending.streamId);
    if (state === undefined) return;
    state.handler.onHeaders(fields, pending.endStream);
    if (pending.endStream) this.#finish(state);
  }

  #onReset(streamId: number, payload: Buffer): void {
    if (streamId === 0 || payload.byteLength !== 4) {
      this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "malformed RST_STREAM");
      return;
    }
    const state = this.#streams.get(streamId);
    if (state === undefined) return;
    const code = payload.readUInt32BE(0);
    this.#finish(state, {
      message: `stream reset by the server (HTTP/2 error ${code})`,
      h2Code: code,
      refused: code === H2_ERROR.REFUSED_STREAM,
    });
  }

  #onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0 || payload.byteLength % 6 !== 0) {
      this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "malformed SETTINGS");
      return;
    }
    if (flags & Flag.Ack) return;
    for (let offset = 0; offset < payload.byteLength; offset += 6) {
      const id = payload.readUInt16BE(offset);
      const value = payload.readUInt32BE(offset + 2);
      if (id === Setting.InitialWindowSize) {
        if (value > MAX_WINDOW) {
          this.#connectionError(H2_ERROR.FLOW_CONTROL_ERROR, "initial window too large");
          return;
        }
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const state of this.#streams.values()) state.sendWindow += delta;
      } else if (id === Setting.MaxFrameSize) {
        if (value < 16_384 || value > 16_777_215) {
          this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "invalid SETTINGS_MAX_FRAME_SIZE");
          return;
        }
        this.#peerMaxFrame = value;
      } else if (id === Setting.MaxConcurrentStreams) {
        this.#peerMaxStreams = value;
      }
      // HEADER_TABLE_SIZE concerns our encoder, which never indexes; others are ignored.
    }
    this.#write(frame(FrameType.Settings, Flag.Ack, 0));
    for (const state of [...this.#streams.values()]) this.#sendBody(state);
    this.#openQueued();
  }

  #onGoAway(payload: Buffer): void {
    if (payload.byteLength < 8) {
      this.#connectionError(H2_ERROR.PROTOCOL_ERROR, "malformed GOAWAY");
      return;
    }
    this.#goingAway = true;
    const lastStreamId = payload.readUInt32BE(0) & MAX_WINDOW;
    const code = payload.readUInt32BE(4);
    for (const state of [...this.#streams.values()]) {
      if (state.id > lastStreamId) {
        this.#finish(state, {
          message: `server is going away (HTTP/2 error ${code})`,
          h2Code: code,
          refused: true,
        });
      }
    }
    for (const state of this.#queued.splice(0)) {
      this.#finish(state, { message: "server is going away", h2Code: code, refused: true });
    }
  }

  #onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.byteLength !== 4) {
      this.#connectionError(H2_ERROR.FRAME_SIZE_ERROR, "malformed WINDOW_UPDATE");
      return;
    }
    const increment = payload.readUInt32BE(0) & MAX_WINDOW;
    if (streamId === 0) {
      this.#connectionSendWindow += increment;
      if (this.#connectionSendWindow > MAX_WINDOW) {
        this.#connectionError(H2_ERROR.FLOW_CONTROL_ERROR, "connection window overflow");
        return;
      }
      for (const state of [...this.#streams.values()]) this.#sendBody(state);
      return;
    }
    const state = this.#streams.get(streamId);
    if (state === undefined) return;
    state.sendWindow += increment;
    this.#sendBody(state);
  }
}
