import { createHash, randomUUID } from "node:crypto";
import type { EtcdClient } from "../etcd/etcd-client.js";
import { bytes, type EtcdKeys, prefixEnd, text } from "../etcd/etcd-keys.js";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  type RequestOp,
} from "../gen/etcdserverpb/rpc_pb.js";
import { IpamdError } from "../ipamd-error.js";

/**
 * Largest snapshot chunk, bytes: below etcd's default request limit (`--max-request-bytes`,
 * 1.5 MiB) with room for the key and the request's framing.
 */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** Deletes per transaction when truncating the log (etcd's default `--max-txn-ops` is 128). */
const DELETES_PER_TXN = 100;
/** Chunks per range call when reading a snapshot (bounds one response to ~8 MiB). */
const CHUNKS_PER_READ = 8;

/** `<prefix>/snapshot/meta`: the current snapshot. */
export interface SnapshotMeta {
  /** Names the chunk keys `<prefix>/snapshot/data/<id>/<index>`. */
  readonly id: string;
  /** Every log entry with a mod revision up to this one is in the snapshot. */
  readonly revision: bigint;
  readonly chunks: number;
  readonly bytes: number;
  /** SHA-256 of the whole snapshot, hex. */
  readonly sha256: string;
  /** Which server wrote it, and when (its clock, ms since the epoch): for operators. */
  readonly writer: string;
  readonly writtenAt: number;
}

/** The meta as stored (revision as a decimal string). */
function encodeMeta(meta: SnapshotMeta): Uint8Array {
  return bytes(JSON.stringify({ ...meta, revision: meta.revision.toString() }));
}

/** @throws IpamdError INVALID_ARGUMENT for a value that is not a snapshot meta. */
export function decodeMeta(value: Uint8Array): SnapshotMeta {
  try {
    const v = JSON.parse(text(value)) as Record<string, unknown>;
    const ok =
      typeof v.id === "string" &&
      typeof v.revision === "string" &&
      typeof v.chunks === "number" &&
      typeof v.bytes === "number" &&
      typeof v.sha256 === "string";
    if (!ok) throw new Error("missing fields");
    return {
      id: v.id as string,
      revision: BigInt(v.revision as string),
      chunks: v.chunks as number,
      bytes: v.bytes as number,
      sha256: v.sha256 as string,
      writer: typeof v.writer === "string" ? v.writer : "",
      writtenAt: typeof v.writtenAt === "number" ? v.writtenAt : 0,
    };
  } catch (cause) {
    throw new IpamdError("INVALID_ARGUMENT", `etcd snapshot meta: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Reads the chunks of `meta` as of etcd revision `atRevision` (the revision the meta was read
 * at, so a newer snapshot that replaced these chunks meanwhile cannot mix in) and checks their
 * count, size and SHA-256.
 * @throws IpamdError UNAVAILABLE (etcd) or INTERNAL when the chunks do not add up.
 */
export async function readSnapshotData(
  client: EtcdClient,
  keys: EtcdKeys,
  meta: SnapshotMeta,
  atRevision: bigint,
): Promise<Uint8Array> {
  const start = bytes(keys.snapshotData(meta.id));
  const end = prefixEnd(start);
  const parts: Uint8Array[] = [];
  let from = start;
  for (;;) {
    const r = await client.range({
      key: from,
      rangeEnd: end,
      revision: atRevision,
      limit: BigInt(CHUNKS_PER_READ),
    });
    for (const kv of r.kvs) parts.push(kv.value);
    const last = r.kvs[r.kvs.length - 1];
    if (!r.more || last === undefined) break;
    from = new Uint8Array([...last.key, 0]);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  const sha = createHash("sha256").update(data).digest("hex");
  if (parts.length !== meta.chunks || total !== meta.bytes || sha !== meta.sha256) {
    throw new IpamdError(
      "INTERNAL",
      `etcd snapshot ${meta.id}: ${parts.length}/${meta.chunks} chunks, ${total}/${meta.bytes} bytes, sha256 ${sha === meta.sha256 ? "ok" : "mismatch"}`,
    );
  }
  return data;
}

/** The current snapshot meta and the revisions it was read at, or undefined meta when none. */
export async function readMeta(
  client: EtcdClient,
  keys: EtcdKeys,
): Promise<{ meta: SnapshotMeta | undefined; modRevision: bigint; revision: bigint }> {
  const r = await client.range({ key: bytes(keys.snapshotMeta) });
  const kv = r.kvs[0];
  return {
    meta: kv === undefined ? undefined : decodeMeta(kv.value),
    modRevision: kv?.modRevision ?? 0n,
    revision: r.header?.revision ?? 0n,
  };
}

/**
 * Writes `data` as the new current snapshot covering the log up to `revision`: the chunks
 * first (one put each), then the meta in a transaction that succeeds only while the meta is
 * still the one seen at `previousModRevision` (two writers cannot both install one), then the
 * previous snapshot's chunks are deleted. A writer that lost the race deletes its chunks and
 * gets undefined.
 */
export async function writeSnapshot(
  client: EtcdClient,
  keys: EtcdKeys,
  input: {
    readonly data: Uint8Array;
    readonly revision: bigint;
    readonly writer: string;
    readonly now: number;
    readonly previous: SnapshotMeta | undefined;
    readonly previousModRevision: bigint;
    /** Also require that no command was ever written (an import into an unused prefix). */
    readonly requireNoLog?: boolean;
  },
): Promise<SnapshotMeta | undefined> {
  const id = randomUUID();
  const { data } = input;
  const chunks = Math.max(1, Math.ceil(data.length / SNAPSHOT_CHUNK_BYTES));
  for (let i = 0; i < chunks; i++) {
    const part = data.subarray(i * SNAPSHOT_CHUNK_BYTES, (i + 1) * SNAPSHOT_CHUNK_BYTES);
    await client.put({ key: bytes(keys.snapshotChunk(id, i)), value: part });
  }
  const meta: SnapshotMeta = {
    id,
    revision: input.revision,
    chunks,
    bytes: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
    writer: input.writer,
    writtenAt: input.now,
  };
  const metaKey = bytes(keys.snapshotMeta);
  const r = await client.txn({
    compare: [
      {
        key: metaKey,
        target: Compare_CompareTarget.MOD,
        result: Compare_CompareResult.EQUAL,
        targetUnion: { case: "modRevision", value: input.previousModRevision },
      },
      ...(input.requireNoLog === true
        ? [
            {
              key: bytes(keys.head),
              target: Compare_CompareTarget.CREATE,
              result: Compare_CompareResult.EQUAL,
              targetUnion: { case: "createRevision" as const, value: 0n },
            },
          ]
        : []),
    ],
    success: [
      { request: { case: "requestPut", value: { key: metaKey, value: encodeMeta(meta) } } },
    ],
  });
  const drop = async (which: string) => {
    const key = bytes(keys.snapshotData(which));
    await client.deleteRange({ key, rangeEnd: prefixEnd(key) });
  };
  if (!r.succeeded) {
    await drop(id);
    return undefined;
  }
  if (input.previous !== undefined) await drop(input.previous.id);
  return meta;
}

/**
 * Deletes the log entries whose mod revision is at most `upTo` (they are in a snapshot), in
 * transactions of at most 100 deletes. Returns how many were deleted.
 */
export async function truncateLog(
  client: EtcdClient,
  keys: EtcdKeys,
  upTo: bigint,
): Promise<number> {
  const start = bytes(keys.log);
  const end = prefixEnd(start);
  let deleted = 0;
  for (;;) {
    const r = await client.range({
      key: start,
      rangeEnd: end,
      keysOnly: true,
      maxModRevision: upTo,
      limit: 1000n,
    });
    if (r.kvs.length === 0) return deleted;
    for (let i = 0; i < r.kvs.length; i += DELETES_PER_TXN) {
      const ops: RequestOp[] = r.kvs.slice(i, i + DELETES_PER_TXN).map(
        (kv) =>
          ({
            request: { case: "requestDeleteRange", value: { key: kv.key } },
          }) as unknown as RequestOp,
      );
      await client.txn({ success: ops });
      deleted += ops.length;
    }
    if (!r.more) return deleted;
  }
}
