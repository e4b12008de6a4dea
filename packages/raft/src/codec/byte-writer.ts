const encoder = new TextEncoder();

/**
 * A growable little-endian byte buffer for the binary codec. Integers are unsigned LEB128
 * varints; values up to `Number.MAX_SAFE_INTEGER` are supported (written with arithmetic, not
 * 32-bit bit operations).
 */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /** Unsigned varint of a non-negative safe integer (the caller validated it). */
  varint(value: number): void {
    this.ensure(8);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  string(value: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    const max = value.length * 3;
    this.ensure(max + 8);
    if (max < 0x80) {
      const start = this.pos + 1;
      const { written } = encoder.encodeInto(value, this.buf.subarray(start));
      this.buf[this.pos] = written;
      this.pos = start + written;
      return;
    }
    this.bytes(encoder.encode(value));
  }

  /** The bytes written so far (a copy sized exactly; the writer may be reused). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
