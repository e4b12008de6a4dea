// HPACK's static Huffman code (RFC 7541 §5.2, Appendix B), decode side only: the lean client
// never Huffman-encodes what it sends (plain literals are always valid), but servers such as
// nghttp2 (node:http2, hence grpc-js) Huffman-encode most header strings they send.
//
// The code is canonical: ordering the 257 symbols (256 octets + EOS) by (code length, symbol)
// and counting upwards gives every code. So the table is just the code length of each symbol,
// written here one base-36 digit per symbol, symbol 0 first and EOS (256) last.

const CODE_LENGTHS =
  "dnsssssssoussussssssssusssssssss6aacd68baa8b8666555666666678f6cad677777777777777777777778" +
  "78djde6f56565666577666567655677777fbedskmkkmmmnmnnnnnonoomnonnnnlmnmnnomlkmmnnlnmmolmnnll" +
  "mlnmnnkmmmnmmnqqkjmnmpqqqrrqopjlqrrqrollqqsrrrkoklmllnmmppooqnqrqqrrrrrsrrrrrqu";

const EOS = 256;
const MIN_LENGTH = 5;
const MAX_LENGTH = 30;

/** A base-36 digit of CODE_LENGTHS as a number (cheaper than parseInt at every process start). */
function digit(index: number): number {
  const c = CODE_LENGTHS.charCodeAt(index);
  return c <= 57 ? c - 48 : c - 87;
}

/** `array[index]`, for indexes known to be in range. */
function at(array: Int32Array, index: number): number {
  return array[index] as number;
}

interface CanonicalTable {
  /** Symbols ordered by (code length, symbol). */
  readonly symbols: Uint16Array;
  /** For each length: one past the last code of that length (a code below it has that length). */
  readonly limit: Int32Array;
  /** For each length: first code minus the position of its first symbol in `symbols`. */
  readonly offset: Int32Array;
}

/** Build the canonical decoding table from the code lengths (once, on first use). */
function canonicalTable(): CanonicalTable {
  const count = new Int32Array(MAX_LENGTH + 1);
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const length = digit(symbol);
    count[length] = at(count, length) + 1;
  }
  const limit = new Int32Array(MAX_LENGTH + 1);
  const offset = new Int32Array(MAX_LENGTH + 1);
  const next = new Int32Array(MAX_LENGTH + 1);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= MAX_LENGTH; length++) {
    code = (code + at(count, length - 1)) << 1;
    limit[length] = code + at(count, length);
    offset[length] = code - index;
    next[length] = index;
    index += at(count, length);
  }
  const symbols = new Uint16Array(EOS + 1);
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const length = digit(symbol);
    symbols[at(next, length)] = symbol;
    next[length] = at(next, length) + 1;
  }
  return { symbols, limit, offset };
}

/** The code length of every symbol, 0..256 (tests and diagnostics). */
export function huffmanCodeLengths(): number[] {
  return Array.from({ length: EOS + 1 }, (_, symbol) => digit(symbol));
}

let table: CanonicalTable | undefined;

/** The code of a symbol (tests and diagnostics; decoding does not need it). */
export function huffmanCode(symbol: number): { code: number; length: number } {
  table ??= canonicalTable();
  const length = digit(symbol);
  const code = table.symbols.indexOf(symbol) + (table.offset[length] ?? 0);
  return { code, length };
}

/** Raised for a string that is not a valid Huffman encoding (a COMPRESSION_ERROR). */
export class HuffmanError extends Error {}

/**
 * Decode a Huffman-encoded HPACK string into a latin1 string (one char per octet). Rejects an
 * encoded EOS, padding longer than 7 bits and padding that is not the EOS prefix (all ones), as
 * RFC 7541 §5.2 requires.
 */
export function huffmanDecode(input: Uint8Array): string {
  table ??= canonicalTable();
  const { symbols, limit, offset } = table;
  // Every symbol is at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let written = 0;
  let code = 0;
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const octet = input[i] as number;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((octet >> bit) & 1);
      // No code is shorter than 5 bits; canonical order makes one comparison per length enough.
      if (++length < MIN_LENGTH) continue;
      if (code < (limit[length] as number)) {
        const symbol = symbols[code - (offset[length] as number)] as number;
        if (symbol === EOS) throw new HuffmanError("Huffman string contains EOS");
        out[written++] = symbol;
        code = 0;
        length = 0;
      } else if (length >= MAX_LENGTH) {
        throw new HuffmanError("invalid Huffman code");
      }
    }
  }
  if (length > 7) throw new HuffmanError("Huffman padding longer than 7 bits");
  if (code !== (1 << length) - 1) throw new HuffmanError("Huffman padding is not EOS");
  return out.toString("latin1", 0, written);
}
