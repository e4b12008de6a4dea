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
const MAX_LENGTH = 30;

interface CanonicalTable {
  /** Symbols ordered by (code length, symbol). */
  readonly symbols: Uint16Array;
  /** For each length: the first code of that length, and where its symbols start. */
  readonly firstCode: Int32Array;
  readonly firstIndex: Int32Array;
  readonly count: Int32Array;
}

/** Build the canonical decoding table from code lengths. */
function canonicalTable(lengths: readonly number[]): CanonicalTable {
  const count = new Int32Array(MAX_LENGTH + 1);
  for (const length of lengths) count[length] = (count[length] ?? 0) + 1;
  const firstCode = new Int32Array(MAX_LENGTH + 1);
  const firstIndex = new Int32Array(MAX_LENGTH + 1);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= MAX_LENGTH; length++) {
    code = (code + (count[length - 1] ?? 0)) << 1;
    firstCode[length] = code;
    firstIndex[length] = index;
    index += count[length] ?? 0;
  }
  const symbols = new Uint16Array(lengths.length);
  const next = Int32Array.from(firstIndex);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const length = lengths[symbol] ?? 0;
    symbols[next[length] ?? 0] = symbol;
    next[length] = (next[length] ?? 0) + 1;
  }
  return { symbols, firstCode, firstIndex, count };
}

/** The code length of every symbol, 0..256. */
export const HUFFMAN_CODE_LENGTHS: readonly number[] = Array.from(CODE_LENGTHS, (digit) =>
  Number.parseInt(digit, 36),
);

let table: CanonicalTable | undefined;

/** The code of a symbol (tests and diagnostics; decoding does not need it). */
export function huffmanCode(symbol: number): { code: number; length: number } {
  table ??= canonicalTable(HUFFMAN_CODE_LENGTHS);
  const length = HUFFMAN_CODE_LENGTHS[symbol] ?? 0;
  const position = table.symbols.indexOf(symbol) - (table.firstIndex[length] ?? 0);
  return { code: (table.firstCode[length] ?? 0) + position, length };
}

/** Raised for a string that is not a valid Huffman encoding (a COMPRESSION_ERROR). */
export class HuffmanError extends Error {}

/**
 * Decode a Huffman-encoded HPACK string into octets. Rejects an encoded EOS, padding longer
 * than 7 bits and padding that is not the EOS prefix (all ones), as RFC 7541 §5.2 requires.
 */
export function huffmanDecode(input: Uint8Array): Buffer {
  table ??= canonicalTable(HUFFMAN_CODE_LENGTHS);
  const { symbols, firstCode, firstIndex, count } = table;
  // Every symbol is at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let written = 0;
  let code = 0;
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const octet = input[i] ?? 0;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((octet >> bit) & 1);
      length++;
      const offset = code - (firstCode[length] ?? 0);
      if (offset >= 0 && offset < (count[length] ?? 0)) {
        const symbol = symbols[(firstIndex[length] ?? 0) + offset] ?? EOS;
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
  return out.subarray(0, written);
}
