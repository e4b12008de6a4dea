import { protoInt64 } from "@bufbuild/protobuf";
import type { BinaryWriter } from "@bufbuild/protobuf/wire";

// A protobuf wire writer that writes straight into one growing byte buffer, for the server's
// responses. @bufbuild/protobuf's BinaryWriter (which the generated encoders are written
// against) pushes every byte into a JavaScript array and every string into its own Uint8Array,
// then concatenates them: most of a small response's encoding time and garbage.

const UINT32_MAX = 0xffffffff;
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;
/** Strings up to this many UTF-16 units fit in 127 UTF-8 bytes: a one-byte length prefix. */
const SHORT_STRING = 42;

function asNumber(value: unknown, kind: string): number {
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number") throw new Error(`invalid ${kind}: ${typeof value}`);
  return n;
}

/**
 * Writes the same bytes as @bufbuild/protobuf's `BinaryWriter` for the operations the generated
 * encoders of @ipam/grpc-client use (`tag`, `string`, `bytes`, `bool`, `int32`, `uint32`,
 * `int64`, `uint64`, `fork`/`join`), and throws for the same invalid values (`invalid uint32:
 * …`). Nested messages reserve one length byte and move their bytes when the length needs more.
 * Not reentrant: one encoding at a time per writer (see {@link encodeFlat}).
 */
export class FlatWriter {
  #buf: Buffer;
  #pos = 0;
  readonly #forks: number[] = [];

  constructor(initialBytes = 4096) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Forget what was written (the buffer is kept for the next message). */
  reset(): void {
    this.#pos = 0;
    this.#forks.length = 0;
  }

  /** A copy of what was written since the last reset, the caller's to keep. */
  take(): Buffer {
    if (this.#forks.length !== 0) throw new Error("invalid state, fork stack not empty");
    const out = Buffer.allocUnsafe(this.#pos);
    this.#buf.copy(out, 0, 0, this.#pos);
    return out;
  }

  #room(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #varint(value: number): void {
    this.#room(5);
    const buf = this.#buf;
    let pos = this.#pos;
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.#pos = pos;
  }

  #varint64(lo: number, hi: number): void {
    this.#room(10);
    const buf = this.#buf;
    let pos = this.#pos;
    lo >>>= 0;
    hi >>>= 0;
    while (hi !== 0 || lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.#pos = pos;
  }

  tag(fieldNo: number, type: number): this {
    this.#varint(((fieldNo << 3) | type) >>> 0);
    return this;
  }

  uint32(value: number): this {
    const n = asNumber(value, "uint32");
    if (!Number.isInteger(n) || n > UINT32_MAX || n < 0) throw new Error(`invalid uint32: ${n}`);
    this.#varint(n);
    return this;
  }

  int32(value: number): this {
    const n = asNumber(value, "int32");
    if (!Number.isInteger(n) || n > INT32_MAX || n < INT32_MIN) {
      throw new Error(`invalid int32: ${n}`);
    }
    // A negative int32 is sign-extended to ten bytes, as every protobuf runtime writes it.
    if (n >= 0) this.#varint(n);
    else this.#varint64(n, -1);
    return this;
  }

  int64(value: bigint | string | number): this {
    const { lo, hi } = protoInt64.enc(value);
    this.#varint64(lo, hi);
    return this;
  }

  uint64(value: bigint | string | number): this {
    const { lo, hi } = protoInt64.uEnc(value);
    this.#varint64(lo, hi);
    return this;
  }

  bool(value: boolean): this {
    this.#room(1);
    this.#buf[this.#pos++] = value ? 1 : 0;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.#varint(value.byteLength);
    this.#room(value.byteLength);
    this.#buf.set(value, this.#pos);
    this.#pos += value.byteLength;
    return this;
  }

  string(value: string): this {
    if (typeof value !== "string") throw new Error(`invalid string: ${typeof value}`);
    if (value.length <= SHORT_STRING) {
      // At most 3 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units): <= 126.
      this.#room(1 + value.length * 3);
      const written = this.#buf.write(value, this.#pos + 1, "utf8");
      this.#buf[this.#pos] = written;
      this.#pos += 1 + written;
      return this;
    }
    const length = Buffer.byteLength(value, "utf8");
    this.#varint(length);
    this.#room(length);
    this.#pos += this.#buf.write(value, this.#pos, length, "utf8");
    return this;
  }

  /** Start a length-delimited nested message (after its tag). */
  fork(): this {
    this.#room(1);
    this.#forks.push(this.#pos);
    this.#pos += 1;
    return this;
  }

  /** End the nested message started by the last `fork`, writing its length before it. */
  join(): this {
    const start = this.#forks.pop();
    if (start === undefined) throw new Error("invalid state, fork stack empty");
    const length = this.#pos - start - 1;
    if (length < 0x80) {
      this.#buf[start] = length;
      return this;
    }
    let extra = 0;
    for (let v = length >>> 7; v > 0; v >>>= 7) extra++;
    this.#room(extra);
    this.#buf.copy(this.#buf, start + 1 + extra, start + 1, this.#pos);
    const end = this.#pos + extra;
    this.#pos = start;
    this.#varint(length);
    this.#pos = end;
    return this;
  }
}

/** An encoder of the generated codec: writes message `m` to `w`. */
export type WireEncoder<T> = (m: T, w: BinaryWriter) => unknown;

let shared: FlatWriter | undefined;

/**
 * Encode `message` with a generated encoder into a buffer the caller owns. Uses one writer per
 * process, or a fresh one when that writer is busy (an encoding started from inside another,
 * e.g. by a getter on the message).
 */
export function encodeFlat<T>(encode: WireEncoder<T>, message: T): Buffer {
  let writer = shared;
  shared = undefined;
  writer ??= new FlatWriter(256);
  try {
    writer.reset();
    // The generated encoders are typed against BinaryWriter; FlatWriter has the same methods
    // with the same output for everything they call (flat-writer.test.ts proves it).
    encode(message, writer as unknown as BinaryWriter);
    return writer.take();
  } finally {
    shared = writer;
  }
}
