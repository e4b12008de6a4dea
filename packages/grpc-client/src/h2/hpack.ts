// HPACK (RFC 7541) for the lean HTTP/2 client: a complete decoder (static and dynamic table,
// size updates, Huffman strings) and a minimal encoder that writes every field as a literal
// without indexing, so the encoder keeps no state and never touches the peer's dynamic table.

import { HuffmanError, huffmanDecode } from "./huffman.js";

/** A decoded header field; names and values are octet strings read as latin1. */
export type HeaderField = readonly [name: string, value: string];

/** Raised for a header block that cannot be decoded (HTTP/2 COMPRESSION_ERROR). */
export class HpackError extends Error {}

const STATIC_TABLE: readonly HeaderField[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** Per-entry overhead of the dynamic table (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

/** The decoding side of one connection: its dynamic table lives as long as the connection. */
export class HpackDecoder {
  /** Newest first: index 62 is `dynamic[0]`. */
  readonly #dynamic: HeaderField[] = [];
  #size = 0;
  #maxSize: number;
  readonly #limit: number;

  /** @param maxTableSize the SETTINGS_HEADER_TABLE_SIZE this side announced (default 4096). */
  constructor(maxTableSize = 4096) {
    this.#maxSize = maxTableSize;
    this.#limit = maxTableSize;
  }

  /** Decode one complete header block (HEADERS plus its CONTINUATIONs). */
  decode(block: Uint8Array): HeaderField[] {
    const fields: HeaderField[] = [];
    let pos = 0;
    const integer = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let value = (block[pos++] ?? 0) & mask;
      if (value < mask) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) throw new HpackError("truncated integer");
        const octet = block[pos++] ?? 0;
        value += (octet & 0x7f) * 2 ** shift;
        shift += 7;
        if (value > 0xffffffff) throw new HpackError("integer overflow");
        if ((octet & 0x80) === 0) return value;
      }
    };
    const string = (): string => {
      if (pos >= block.length) throw new HpackError("truncated string");
      const huffman = ((block[pos] ?? 0) & 0x80) !== 0;
      const length = integer(7);
      if (pos + length > block.length) throw new HpackError("truncated string");
      const raw = block.subarray(pos, pos + length);
      pos += length;
      try {
        return huffman
          ? huffmanDecode(raw)
          : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
      } catch (error) {
        if (error instanceof HuffmanError) throw new HpackError(error.message);
        throw error;
      }
    };
    let sawField = false;
    while (pos < block.length) {
      const first = block[pos] ?? 0;
      if (first & 0x80) {
        fields.push(this.#field(integer(7)));
        sawField = true;
      } else if (first & 0x40) {
        const index = integer(6);
        const name = index === 0 ? string() : this.#field(index)[0];
        const field: HeaderField = [name, string()];
        this.#insert(field);
        fields.push(field);
        sawField = true;
      } else if (first & 0x20) {
        // A table size update must come first in a block (RFC 7541 §4.2).
        if (sawField) throw new HpackError("table size update after a header field");
        const size = integer(5);
        if (size > this.#limit) throw new HpackError(`table size ${size} above ${this.#limit}`);
        this.#maxSize = size;
        this.#evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001): not added to the table.
        const index = integer(4);
        const name = index === 0 ? string() : this.#field(index)[0];
        fields.push([name, string()]);
        sawField = true;
      }
    }
    return fields;
  }

  #field(index: number): HeaderField {
    if (index === 0) throw new HpackError("header index 0");
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1] as HeaderField;
    const field = this.#dynamic[index - STATIC_TABLE.length - 1];
    if (field === undefined) throw new HpackError(`header index ${index} out of range`);
    return field;
  }

  #insert(field: HeaderField): void {
    const size = entrySize(field);
    this.#evict(size);
    // An entry larger than the whole table empties it and is not added (RFC 7541 §4.4).
    if (size <= this.#maxSize) {
      this.#dynamic.unshift(field);
      this.#size += size;
    }
  }

  #evict(room: number): void {
    while (this.#size + room > this.#maxSize && this.#dynamic.length > 0) {
      this.#size -= entrySize(this.#dynamic.pop() as HeaderField);
    }
  }
}

function entrySize([name, value]: HeaderField): number {
  return Buffer.byteLength(name, "latin1") + Buffer.byteLength(value, "latin1") + ENTRY_OVERHEAD;
}

/** Writes an HPACK integer with a `prefixBits`-bit prefix at `at`; returns the next offset. */
function writeInteger(out: Buffer, at: number, value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[at] = value;
    return at + 1;
  }
  out[at++] = max;
  let rest = value - max;
  while (rest >= 0x80) {
    out[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[at] = rest;
  return at + 1;
}

/**
 * Encode header fields as literals without indexing with a literal name (RFC 7541 §6.2.2),
 * no Huffman: valid for any decoder state and costs a few bytes more than the best encoding,
 * which does not matter for the handful of short headers of a gRPC request. Header text is
 * latin1 (one octet per char), as HTTP/2 field values are octets.
 */
export function encodeHeaders(fields: readonly HeaderField[]): Buffer {
  // Each string: up to 5 octets of length prefix (lengths stay far below 2^28), then its octets.
  let size = 0;
  for (const [name, value] of fields) size += 11 + name.length + value.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [name, value] of fields) {
    out[at++] = 0;
    at = writeInteger(out, at, name.length, 7);
    at += out.write(name, at, "latin1");
    at = writeInteger(out, at, value.length, 7);
    at += out.write(value, at, "latin1");
  }
  return out.subarray(0, at);
}
