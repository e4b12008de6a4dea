// UTF-8 for the wire codecs of the lean entry, through Buffer. The WHATWG TextEncoder and
// TextDecoder (protobuf-es's default) give the same bytes and strings, but their first use
// loads Node's encoding module, ~7 ms of a process start here: a third of the CNI plugin's
// budget over `node -e 0`.

import { isUtf8 } from "node:buffer";

/** UTF-8 bytes of `text`; lone surrogates become U+FFFD, as with TextEncoder. */
export function encodeUtf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

/**
 * The string of UTF-8 `bytes`; invalid sequences become U+FFFD, as with a non-fatal
 * TextDecoder, or throw when `strict`.
 */
export function decodeUtf8(bytes: Uint8Array, strict?: boolean): string {
  if (strict === true && !isUtf8(bytes)) throw new Error("invalid UTF-8");
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}
