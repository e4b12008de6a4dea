// A minimal protobuf wire-format writer for fuzz templates: tests build valid requests field by
// field (and then break them) without a code generator. Field numbers are those of the protos in
// packages/grpc-server/proto.

const encoder = new TextEncoder();

function varintBytes(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A tag: field number and wire type (0 varint, 2 length-delimited). */
function tag(field: number, wire: 0 | 2): number[] {
  return varintBytes((field << 3) | wire);
}

/** A varint field (int32, uint32, uint64, bool, enum). */
export function varint(field: number, value: number | bigint | boolean): Uint8Array {
  return Uint8Array.from([
    ...tag(field, 0),
    ...varintBytes(typeof value === "boolean" ? Number(value) : value),
  ]);
}

/** A length-delimited field holding raw bytes (bytes, or an encoded message). */
export function bytes(field: number, value: Uint8Array): Uint8Array {
  return concat(Uint8Array.from([...tag(field, 2), ...varintBytes(value.byteLength)]), value);
}

/** A string field (UTF-8). */
export function str(field: number, value: string): Uint8Array {
  return bytes(field, encoder.encode(value));
}

/** The fields of a message, in order. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** A `map<string, string>` entry field. */
export function mapEntry(field: number, key: string, value: string): Uint8Array {
  return bytes(field, concat(str(1, key), str(2, value)));
}
