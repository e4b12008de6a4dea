import { RaftError } from "../core/raft-error.js";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Bounds-checked reader over bytes produced by `ByteWriter`. Every method throws `RaftError`
 * `CORRUPT` (details: `offset`, `what`) instead of reading past the end or accepting a value
 * that cannot have been written by the encoder.
 */
export class ByteReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(what: string): never {
    throw new RaftError("CORRUPT", `corrupt message batch: ${what} at byte ${this.pos}`, {
      details: {
        what,
        offset: this.pos,
      },
    });
  }

  u8(what: string): number {
    const v = this.buf[this.pos];
    if (v === undefined) this.fail(`truncated ${what}`);
    this.pos++;
    return v;
  }

  bool(what: string): boolean {
    const v = this.u8(what);
    if (v > 1) this.fail(`${what} is not a boolean`);
    return v === 1;
  }

  /** A varint that is a safe integer (at most 8 bytes: 7 × 8 = 56 bits ≥ 53). */
  varint(what: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8(what);
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail(`${what} is not a safe integer`);
        return result;
      }
      scale *= 0x80;
    }
    return this.fail(`${what} varint is too long`);
  }

  /** A length-prefixed byte string, as a view into the input (no copy). */
  bytes(what: string): Uint8Array {
    const len = this.varint(`${what} length`);
    if (len > this.remaining) this.fail(`truncated ${what}`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(what: string): string {
    const raw = this.bytes(what);
    try {
      return decoder.decode(raw);
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }

  /** A count of items that each take at least `minItemBytes` (rejects absurd counts early). */
  count(what: string, minItemBytes: number): number {
    const n = this.varint(what);
    if (n * minItemBytes > this.remaining) this.fail(`${what} exceeds the remaining bytes`);
    return n;
  }
}
