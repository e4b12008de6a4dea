import { RaftError } from "../core/raft-error.js";
import type {
  ConfState,
  Entry,
  EntryType,
  Message,
  MessageType,
  NodeId,
  SnapshotMeta,
} from "../types.js";
import { ByteReader } from "./byte-reader.js";
import { ByteWriter } from "./byte-writer.js";

/**
 * Binary wire format of message batches (used by network transports such as the gRPC one).
 *
 * Layout: magic `0x52 0x46` ("RF"), format version (1 byte, currently 1), varint message count,
 * then each message: a 1-byte type tag, `from`, `to` (length-prefixed UTF-8), `term` (varint),
 * then the fields of its type in declaration order. Integers are unsigned LEB128 varints, bytes
 * and strings are length-prefixed, booleans one byte (0/1). Entries of an append carry term,
 * type and data only: their index is implied (`prevIndex + 1 + i`), so contiguity holds by
 * construction. A decoder rejects unknown versions: a new layout gets a new version number.
 */
export const MESSAGE_CODEC_VERSION = 1;

const MAGIC0 = 0x52;
const MAGIC1 = 0x46;

const TAGS = {
  append: 1,
  "append-response": 2,
  vote: 3,
  "vote-response": 4,
  prevote: 5,
  "prevote-response": 6,
  heartbeat: 7,
  "heartbeat-response": 8,
  snapshot: 9,
  "snapshot-response": 10,
  "timeout-now": 11,
  "read-index": 12,
  "read-index-response": 13,
} as const satisfies Record<MessageType, number>;

const TYPE_BY_TAG: readonly (MessageType | undefined)[] = (() => {
  const out: (MessageType | undefined)[] = [];
  for (const [type, tag] of Object.entries(TAGS)) out[tag] = type as MessageType;
  return out;
})();

const ENTRY_TYPES: readonly EntryType[] = ["normal", "config", "noop"];
const ENTRY_TAG: Readonly<Record<EntryType, number>> = { normal: 0, config: 1, noop: 2 };

function checkUint(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RaftError(
      "INVALID_ARGUMENT",
      `${field}: ${String(value)} is not a non-negative integer`,
      {
        details: {
          field,
        },
      },
    );
  }
  return value;
}

function writeUint(w: ByteWriter, value: number, field: string): void {
  w.varint(checkUint(value, field));
}

function writeIds(w: ByteWriter, ids: readonly NodeId[]): void {
  w.varint(ids.length);
  for (const id of ids) w.string(id);
}

function writeConf(w: ByteWriter, conf: ConfState): void {
  writeIds(w, conf.voters);
  writeIds(w, conf.learners);
  const addresses = conf.addresses;
  if (addresses === undefined) {
    w.u8(0);
    return;
  }
  const keys = Object.keys(addresses).sort();
  w.u8(1);
  w.varint(keys.length);
  for (const k of keys) {
    w.string(k);
    w.string(addresses[k] ?? "");
  }
}

function writeMeta(w: ByteWriter, meta: SnapshotMeta, field: string): void {
  writeUint(w, meta.index, `${field}.index`);
  writeUint(w, meta.term, `${field}.term`);
  writeConf(w, meta.conf);
}

function writeEntry(w: ByteWriter, e: Entry, field: string, withIndex: boolean): void {
  if (withIndex) writeUint(w, e.index, `${field}.index`);
  writeUint(w, e.term, `${field}.term`);
  const tag = ENTRY_TAG[e.type];
  if (tag === undefined) {
    throw new RaftError("INVALID_ARGUMENT", `${field}.type: unknown entry type`, {
      details: { field },
    });
  }
  w.u8(tag);
  w.bytes(e.data);
}

function writeMessage(w: ByteWriter, m: Message, field: string): void {
  const tag = TAGS[m.type];
  if (tag === undefined) {
    throw new RaftError("INVALID_ARGUMENT", `${field}.type: unknown message type`, {
      details: { field },
    });
  }
  w.u8(tag);
  w.string(m.from);
  w.string(m.to);
  writeUint(w, m.term, `${field}.term`);
  switch (m.type) {
    case "append": {
      writeUint(w, m.prevIndex, `${field}.prevIndex`);
      writeUint(w, m.prevTerm, `${field}.prevTerm`);
      writeUint(w, m.commit, `${field}.commit`);
      w.varint(m.entries.length);
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i]!;
        if (e.index !== m.prevIndex + 1 + i) {
          throw new RaftError(
            "INVALID_ARGUMENT",
            `${field}.entries[${i}].index: ${e.index} is not prevIndex + ${1 + i}`,
            { details: { field: `${field}.entries[${i}].index` } },
          );
        }
        writeEntry(w, e, `${field}.entries[${i}]`, false);
      }
      break;
    }
    case "append-response":
      w.u8(m.reject ? 1 : 0);
      writeUint(w, m.index, `${field}.index`);
      if (m.rejectHint === undefined) {
        w.u8(0);
      } else {
        w.u8(1);
        writeUint(w, m.rejectHint.index, `${field}.rejectHint.index`);
        writeUint(w, m.rejectHint.term, `${field}.rejectHint.term`);
      }
      break;
    case "vote":
    case "prevote":
      writeUint(w, m.lastIndex, `${field}.lastIndex`);
      writeUint(w, m.lastTerm, `${field}.lastTerm`);
      w.u8(m.transfer ? 1 : 0);
      break;
    case "vote-response":
    case "prevote-response":
      w.u8(m.reject ? 1 : 0);
      break;
    case "heartbeat":
      writeUint(w, m.commit, `${field}.commit`);
      w.bytes(m.context);
      break;
    case "heartbeat-response":
    case "read-index":
      w.bytes(m.context);
      break;
    case "snapshot":
      writeMeta(w, m.meta, `${field}.meta`);
      writeUint(w, m.offset, `${field}.offset`);
      writeUint(w, m.total, `${field}.total`);
      w.u8(m.done ? 1 : 0);
      w.bytes(m.data);
      break;
    case "snapshot-response":
      writeUint(w, m.index, `${field}.index`);
      writeUint(w, m.offset, `${field}.offset`);
      w.u8(m.reject ? 1 : 0);
      w.u8(m.done ? 1 : 0);
      break;
    case "timeout-now":
      break;
    case "read-index-response":
      writeUint(w, m.index, `${field}.index`);
      w.bytes(m.context);
      w.u8(m.reject ? 1 : 0);
      break;
  }
}

/**
 * Encode a batch of messages (any mix of types and recipients) into one buffer.
 * Throws `RaftError` `INVALID_ARGUMENT` naming the field (`messages[3].term`) when a number is
 * not a non-negative safe integer or an append's entries are not contiguous. The result is a
 * fresh buffer owned by the caller.
 */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  const w = new ByteWriter(64 + messages.length * 48);
  w.u8(MAGIC0);
  w.u8(MAGIC1);
  w.u8(MESSAGE_CODEC_VERSION);
  w.varint(messages.length);
  for (let i = 0; i < messages.length; i++) writeMessage(w, messages[i]!, `messages[${i}]`);
  return w.finish();
}

function readIds(r: ByteReader, what: string): NodeId[] {
  const n = r.count(`${what} count`, 1);
  const out: NodeId[] = [];
  for (let i = 0; i < n; i++) out.push(r.string(what));
  return out;
}

function readConf(r: ByteReader): ConfState {
  const voters = readIds(r, "voters");
  const learners = readIds(r, "learners");
  if (!r.bool("addresses flag")) return { voters, learners };
  const n = r.count("addresses count", 2);
  const addresses: Record<NodeId, string> = {};
  for (let i = 0; i < n; i++) {
    const k = r.string("address key");
    addresses[k] = r.string("address");
  }
  return { voters, learners, addresses };
}

function readEntryType(r: ByteReader): EntryType {
  const t = ENTRY_TYPES[r.u8("entry type")];
  return t ?? r.fail("unknown entry type");
}

function readMessage(r: ByteReader): Message {
  const type = TYPE_BY_TAG[r.u8("message type")];
  if (type === undefined) r.fail("unknown message type");
  const from = r.string("from");
  const to = r.string("to");
  const term = r.varint("term");
  switch (type) {
    case "append": {
      const prevIndex = r.varint("prevIndex");
      const prevTerm = r.varint("prevTerm");
      const commit = r.varint("commit");
      const n = r.count("entry count", 3);
      const entries: Entry[] = [];
      for (let i = 0; i < n; i++) {
        const entryTerm = r.varint("entry term");
        const entryType = readEntryType(r);
        const data = r.bytes("entry data");
        entries.push({ index: prevIndex + 1 + i, term: entryTerm, type: entryType, data });
      }
      return { type, from, to, term, prevIndex, prevTerm, entries, commit };
    }
    case "append-response": {
      const reject = r.bool("reject");
      const index = r.varint("index");
      if (!r.bool("rejectHint flag")) return { type, from, to, term, reject, index };
      const hintIndex = r.varint("rejectHint.index");
      const hintTerm = r.varint("rejectHint.term");
      return {
        type,
        from,
        to,
        term,
        reject,
        index,
        rejectHint: { index: hintIndex, term: hintTerm },
      };
    }
    case "vote":
    case "prevote": {
      const lastIndex = r.varint("lastIndex");
      const lastTerm = r.varint("lastTerm");
      const transfer = r.bool("transfer");
      return { type, from, to, term, lastIndex, lastTerm, transfer };
    }
    case "vote-response":
    case "prevote-response":
      return { type, from, to, term, reject: r.bool("reject") };
    case "heartbeat": {
      const commit = r.varint("commit");
      return { type, from, to, term, commit, context: r.bytes("context") };
    }
    case "heartbeat-response":
    case "read-index":
      return { type, from, to, term, context: r.bytes("context") };
    case "snapshot": {
      const index = r.varint("meta.index");
      const metaTerm = r.varint("meta.term");
      const conf = readConf(r);
      const offset = r.varint("offset");
      const total = r.varint("total");
      const done = r.bool("done");
      const data = r.bytes("data");
      return {
        type,
        from,
        to,
        term,
        meta: { index, term: metaTerm, conf },
        offset,
        total,
        data,
        done,
      };
    }
    case "snapshot-response": {
      const index = r.varint("index");
      const offset = r.varint("offset");
      const reject = r.bool("reject");
      const done = r.bool("done");
      return { type, from, to, term, index, offset, reject, done };
    }
    case "timeout-now":
      return { type, from, to, term };
    case "read-index-response": {
      const index = r.varint("index");
      const context = r.bytes("context");
      const reject = r.bool("reject");
      return { type, from, to, term, index, context, reject };
    }
  }
}

function readHeader(r: ByteReader): void {
  if (r.u8("magic") !== MAGIC0 || r.u8("magic") !== MAGIC1) r.fail("bad magic");
  const version = r.u8("version");
  if (version !== MESSAGE_CODEC_VERSION) r.fail(`unsupported format version ${version}`);
}

/**
 * Decode a buffer produced by {@link encodeMessages}. Never reads out of bounds: truncated,
 * trailing or garbage input throws `RaftError` `CORRUPT` (details: `what`, `offset`). Byte
 * fields (`data`, `context`) of the result are views into `bytes`: do not reuse that buffer.
 */
export function decodeMessages(bytes: Uint8Array): Message[] {
  if (!(bytes instanceof Uint8Array)) {
    throw new RaftError("CORRUPT", "corrupt message batch: input is not a Uint8Array", {
      details: {
        what: "input",
        offset: 0,
      },
    });
  }
  const r = new ByteReader(bytes);
  readHeader(r);
  const n = r.count("message count", 4);
  const out: Message[] = [];
  for (let i = 0; i < n; i++) out.push(readMessage(r));
  if (r.remaining !== 0) r.fail("trailing bytes");
  return out;
}

/**
 * Encode log entries (any indexes, each written explicitly) with the same versioned header.
 * Throws `RaftError` `INVALID_ARGUMENT` naming the field for a bad number or type.
 */
export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  const w = new ByteWriter(32 + entries.length * 24);
  w.u8(MAGIC0);
  w.u8(MAGIC1);
  w.u8(MESSAGE_CODEC_VERSION);
  w.varint(entries.length);
  for (let i = 0; i < entries.length; i++) writeEntry(w, entries[i]!, `entries[${i}]`, true);
  return w.finish();
}

/** Decode {@link encodeEntries} output; same error contract as {@link decodeMessages}. */
export function decodeEntries(bytes: Uint8Array): Entry[] {
  const r = new ByteReader(bytes);
  readHeader(r);
  const n = r.count("entry count", 4);
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const index = r.varint("entry index");
    const term = r.varint("entry term");
    const type = readEntryType(r);
    const data = r.bytes("entry data");
    out.push({ index, term, type, data });
  }
  if (r.remaining !== 0) r.fail("trailing bytes");
  return out;
}
