import type { Message } from "@ipam/raft";
import type { RaftMessageCodec } from "../../src/raft-transport.js";

// Interim codec for tests only (JSON with base64 byte fields), until @ipam/raft ships its
// binary message codec. The transport treats encoded messages as opaque bytes either way.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const jsonRaftCodec: RaftMessageCodec = {
  encode: (message) =>
    encoder.encode(
      JSON.stringify(message, (_key, value: unknown) =>
        value instanceof Uint8Array ? { $b64: Buffer.from(value).toString("base64") } : value,
      ),
    ),
  decode: (bytes) =>
    JSON.parse(decoder.decode(bytes), (_key, value: unknown) =>
      typeof value === "object" && value !== null && "$b64" in value
        ? new Uint8Array(Buffer.from(String((value as { $b64: string }).$b64), "base64"))
        : value,
    ) as Message,
};
