// A unix socket connection for the lean client, made directly on libuv's pipe handle.
//
// `node:net` loads `node:stream` with its operators, compose and pipeline modules, and builds a
// Duplex per socket: ~7 ms of a ~60 ms process start here, measured end to end, and the CNI
// plugin pays it on every pod interface. Node's own `net.Socket` sits on the same handle
// (`pipe_wrap`) and the same stream base (`stream_wrap`); this talks to them without the stream
// layer. Those bindings are reached through `process.binding`, which Node keeps for exactly these
// modules but documents as deprecated (DEP0111): so this checks the shape it relies on, never
// runs when the process asked to hear about pending deprecations, and anywhere it cannot run
// falls back to `node:net` (loaded only then). `transport: "net"` forces the fallback.

import { EventEmitter } from "node:events";
import { getSystemErrorName } from "node:util";

/** What the HTTP/2 connection needs of its socket; `net.Socket` has it too. */
export interface ByteStream {
  /** True until the connection is made. */
  readonly connecting: boolean;
  on(event: "data", listener: (chunk: Buffer) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(event: "close", listener: () => void): this;
  once(event: "connect", listener: () => void): this;
  /** Queues `chunk` after everything written before; never drops it while open. */
  write(chunk: Buffer): boolean;
  /** Closes at once; "close" follows. */
  destroy(): void;
  /** This socket alone does not keep the process alive. */
  unref(): void;
}

/** How to reach a unix socket: the libuv pipe handle when possible, or `node:net`. */
export type UnixTransport = "auto" | "net";

interface UvRequest {
  oncomplete: (status: number) => void;
  [field: string]: unknown;
}

interface PipeHandle {
  onread: (buffer: ArrayBuffer) => void;
  connect(request: UvRequest, path: string): number;
  readStart(): number;
  writeBuffer(request: UvRequest, data: Uint8Array): number;
  close(callback: () => void): void;
  unref(): void;
}

interface Bindings {
  readonly Pipe: new (type: number) => PipeHandle;
  readonly PipeConnectWrap: new () => UvRequest;
  readonly WriteWrap: new () => UvRequest;
  readonly socketType: number;
  /** Shared with the native side: a read's byte count (or error) and its buffer offset. */
  readonly state: Int32Array;
  readonly readBytesOrError: number;
  readonly arrayBufferOffset: number;
  readonly lastWriteWasAsync: number;
}

const UV_EOF = -4095;
let bindings: Bindings | null | undefined;

function pendingDeprecationRequested(): boolean {
  const flags = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
  return process.env.NODE_PENDING_DEPRECATION === "1" || flags.includes("--pending-deprecation");
}

/** The two bindings in the shape this file uses, or null (then `node:net` is used). */
function loadBindings(): Bindings | null {
  if (bindings !== undefined) return bindings;
  bindings = null;
  const binding = (process as { binding?: (name: string) => unknown }).binding;
  if (typeof binding !== "function" || pendingDeprecationRequested()) return null;
  try {
    const pipe = binding.call(process, "pipe_wrap") as Record<string, unknown>;
    const stream = binding.call(process, "stream_wrap") as Record<string, unknown>;
    const Pipe = pipe.Pipe as Bindings["Pipe"] | undefined;
    const socketType = (pipe.constants as { SOCKET?: unknown } | undefined)?.SOCKET;
    const proto = Pipe?.prototype as Partial<Record<keyof PipeHandle, unknown>> | undefined;
    const methods = ["connect", "readStart", "writeBuffer", "close", "unref"] as const;
    const offsets = [
      stream.kReadBytesOrError,
      stream.kArrayBufferOffset,
      stream.kLastWriteWasAsync,
    ];
    if (
      typeof Pipe !== "function" ||
      typeof pipe.PipeConnectWrap !== "function" ||
      typeof stream.WriteWrap !== "function" ||
      typeof socketType !== "number" ||
      !methods.every((name) => typeof proto?.[name] === "function") ||
      !(stream.streamBaseState instanceof Int32Array) ||
      !offsets.every((offset) => typeof offset === "number")
    ) {
      return null;
    }
    bindings = {
      Pipe,
      PipeConnectWrap: pipe.PipeConnectWrap as Bindings["PipeConnectWrap"],
      WriteWrap: stream.WriteWrap as Bindings["WriteWrap"],
      socketType,
      state: stream.streamBaseState,
      readBytesOrError: offsets[0] as number,
      arrayBufferOffset: offsets[1] as number,
      lastWriteWasAsync: offsets[2] as number,
    };
  } catch {
    bindings = null;
  }
  return bindings;
}

/** An error shaped like node:net's: `connect ENOENT /run/ipamd/ipamd.sock`, with `code`. */
function uvError(status: number, syscall: string, path: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${path}`);
  error.code = code;
  error.errno = status;
  error.syscall = syscall;
  error.path = path;
  return error;
}

class PipeStream extends EventEmitter implements ByteStream {
  connecting = true;
  readonly #uv: Bindings;
  readonly #handle: PipeHandle;
  readonly #path: string;
  /** Writes made before the connection completed. */
  #pending: Buffer[] = [];
  #closed = false;

  constructor(uv: Bindings, path: string) {
    super();
    this.#uv = uv;
    this.#path = path;
    const handle = new uv.Pipe(uv.socketType);
    this.#handle = handle;
    handle.onread = (buffer) => this.#onRead(buffer);
    const request = new uv.PipeConnectWrap();
    request.oncomplete = (status) => this.#onConnect(status);
    const status = handle.connect(request, path);
    // Errors are reported after the caller has attached its listeners, as node:net does.
    if (status < 0) process.nextTick(() => this.#error(uvError(status, "connect", path)));
  }

  #onConnect(status: number): void {
    if (this.#closed) return;
    if (status < 0) {
      this.#error(uvError(status, "connect", this.#path));
      return;
    }
    this.connecting = false;
    const read = this.#handle.readStart();
    if (read < 0) {
      this.#error(uvError(read, "read", this.#path));
      return;
    }
    this.emit("connect");
    for (const chunk of this.#pending.splice(0)) this.write(chunk);
  }

  #onRead(buffer: ArrayBuffer): void {
    const { state } = this.#uv;
    const bytes = state[this.#uv.readBytesOrError] ?? 0;
    if (bytes > 0) {
      const offset = state[this.#uv.arrayBufferOffset] ?? 0;
      this.emit("data", Buffer.from(buffer, offset, bytes));
    } else if (bytes === UV_EOF) {
      this.destroy();
    } else if (bytes < 0) {
      this.#error(uvError(bytes, "read", this.#path));
    }
  }

  write(chunk: Buffer): boolean {
    if (this.#closed) return false;
    if (this.connecting) {
      this.#pending.push(chunk);
      return true;
    }
    const request = new this.#uv.WriteWrap();
    request.handle = this.#handle;
    request.oncomplete = (status) => {
      if (status < 0) this.#error(uvError(status, "write", this.#path));
    };
    // libuv writes what the kernel takes now and queues the rest in order; the request keeps
    // the bytes alive until then.
    const status = this.#handle.writeBuffer(request, chunk);
    if (this.#uv.state[this.#uv.lastWriteWasAsync]) request.buffer = chunk;
    if (status < 0) {
      this.#error(uvError(status, "write", this.#path));
      return false;
    }
    return true;
  }

  #error(error: Error): void {
    if (this.#closed) return;
    this.emit("error", error);
    this.destroy();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#handle.close(() => this.emit("close"));
  }

  unref(): void {
    this.#handle.unref();
  }
}

/** Whether `connectUnixStream(path, "auto")` uses the libuv pipe handle in this process. */
export function usesLibuvPipe(): boolean {
  return loadBindings() !== null;
}

/** Starts connecting to the unix socket at `path`. Listen for "connect" and "error". */
export function connectUnixStream(path: string, transport: UnixTransport = "auto"): ByteStream {
  const uv = transport === "auto" ? loadBindings() : null;
  if (uv !== null) return new PipeStream(uv, path);
  return netModule().connect(path);
}

/** node:net, loaded on first use only. */
export function netModule(): typeof import("node:net") {
  return process.getBuiltinModule("node:net");
}
