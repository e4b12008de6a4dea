import {
  type ClusterCommand,
  ClusterState,
  type CommandResult,
  decodeCommand,
  encodeCommand,
} from "@ipam/subnet-pool";
import { IpamdError } from "../ipamd-error.js";

const ENTRY_VERSION = 1;
const SNAPSHOT_MAGIC = [0x49, 0x50, 0x45, 0x53]; // "IPES"
const SNAPSHOT_VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** How many applied command ids the replica remembers to drop a command appended twice. */
export const DEDUP_WINDOW = 10_000;

/** One command of a log entry: the proposer's unique id and the command. */
export interface LogEntry {
  readonly id: string;
  readonly command: ClusterCommand;
}

/** One command ready to be written: its id and `encodeCommand`'s bytes. */
export interface EncodedCommand {
  readonly id: string;
  readonly bytes: Uint8Array;
}

/** The bytes of one command of a log entry (its id and encoded command) beside the framing. */
export function encodedSize(item: EncodedCommand): number {
  return 5 + encoder.encode(item.id).length + item.bytes.length;
}

/**
 * The value of a log key: a version byte, a 2-byte count, then per command its id (1-byte
 * length, UTF-8) and its `encodeCommand` bytes (4-byte big-endian length). One key holds the
 * commands one server proposed together (group commit); they apply in this order. The array is
 * the caller's. @throws IpamdError INVALID_ARGUMENT for no command, more than 65,535, or an id
 * longer than 255 bytes.
 */
export function encodeEntries(items: readonly EncodedCommand[]): Uint8Array {
  if (items.length === 0 || items.length > 0xffff) {
    throw new IpamdError("INVALID_ARGUMENT", "log entry: 1 to 65535 commands");
  }
  const ids = items.map((i) => encoder.encode(i.id));
  if (ids.some((id) => id.length > 255)) {
    throw new IpamdError("INVALID_ARGUMENT", "entry id: at most 255 bytes");
  }
  let size = 3;
  items.forEach((item, k) => {
    size += 5 + (ids[k] as Uint8Array).length + item.bytes.length;
  });
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = ENTRY_VERSION;
  view.setUint16(1, items.length);
  let at = 3;
  items.forEach((item, k) => {
    const id = ids[k] as Uint8Array;
    out[at] = id.length;
    out.set(id, at + 1);
    at += 1 + id.length;
    view.setUint32(at, item.bytes.length);
    out.set(item.bytes, at + 4);
    at += 4 + item.bytes.length;
  });
  return out;
}

/** A log value holding one command (see {@link encodeEntries}). */
export function encodeEntry(id: string, command: ClusterCommand): Uint8Array {
  return encodeEntries([{ id, bytes: encodeCommand(command) }]);
}

/**
 * Decodes {@link encodeEntries}'s output; each command's envelope is checked by
 * `decodeCommand`. @throws IpamdError INVALID_ARGUMENT (cause: the decoding error) when the
 * value is not an entry this build reads.
 */
export function decodeEntries(value: Uint8Array): LogEntry[] {
  try {
    if (value[0] !== ENTRY_VERSION)
      throw new Error(`entry version ${value[0]} is not ${ENTRY_VERSION}`);
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const count = view.getUint16(1);
    const out: LogEntry[] = [];
    let at = 3;
    for (let k = 0; k < count; k++) {
      const n = value[at] ?? 0;
      const id = decoder.decode(value.subarray(at + 1, at + 1 + n));
      at += 1 + n;
      const length = view.getUint32(at);
      if (at + 4 + length > value.length) throw new Error("truncated");
      out.push({ id, command: decodeCommand(value.subarray(at + 4, at + 4 + length)) });
      at += 4 + length;
    }
    if (at !== value.length) throw new Error("trailing bytes");
    return out;
  } catch (cause) {
    throw new IpamdError("INVALID_ARGUMENT", `log entry: ${(cause as Error).message}`, { cause });
  }
}

/** What applying one entry did. */
export type ApplyOutcome =
  | { readonly kind: "applied"; readonly id: string; readonly result: CommandResult }
  /** The id was applied before (a proposal appended twice): the state was not touched. */
  | { readonly kind: "duplicate"; readonly id: string }
  /** The value is not an entry this build reads: skipped (by every replica alike). */
  | { readonly kind: "unreadable"; readonly error: IpamdError };

/**
 * The state an etcd-backed server applies the log to: {@link ClusterState} plus what the log
 * needs beside it, all deterministic from the log (every replica that applied the same entries
 * holds the same bytes in {@link snapshot}):
 * - `revision`: every log entry with a mod revision up to it is applied (etcd revisions are not
 *   contiguous: other keys, and other users of etcd, take revisions too).
 * - the ids of the last {@link DEDUP_WINDOW} applied entries, so an entry appended twice (a
 *   proposer that retried after its first write's answer was lost) is applied once.
 */
export class EtcdReplica {
  readonly state = new ClusterState();
  #revision = 0n;
  #window: string[] = [];
  #seen = new Set<string>();
  readonly #windowSize: number;

  constructor(windowSize = DEDUP_WINDOW) {
    this.#windowSize = windowSize;
  }

  /** Every log entry with a mod revision up to this one is applied. */
  get revision(): bigint {
    return this.#revision;
  }

  /** Whether the entry with this id was applied within the window. */
  hasApplied(id: string): boolean {
    return this.#seen.has(id);
  }

  /**
   * Applies the commands of the log entry stored at `revision` (its mod revision; greater than
   * {@link revision}, else it is ignored as already applied and nothing is returned), in order.
   * An unreadable value is skipped as a whole (one `unreadable` outcome).
   */
  apply(value: Uint8Array, revision: bigint): ApplyOutcome[] {
    if (revision <= this.#revision) return [];
    this.#revision = revision;
    let entries: LogEntry[];
    try {
      entries = decodeEntries(value);
    } catch (error) {
      return [{ kind: "unreadable", error: error as IpamdError }];
    }
    return entries.map((entry): ApplyOutcome => {
      if (this.#seen.has(entry.id)) return { kind: "duplicate", id: entry.id };
      const result = this.state.apply(entry.command);
      this.#remember(entry.id);
      return { kind: "applied", id: entry.id, result };
    });
  }

  /** Records that every entry up to `revision` is applied (after a listing at that revision). */
  advanceTo(revision: bigint): void {
    if (revision > this.#revision) this.#revision = revision;
  }

  #remember(id: string): void {
    this.#window.push(id);
    this.#seen.add(id);
    if (this.#window.length > this.#windowSize * 1.5) {
      const drop = this.#window.length - this.#windowSize;
      for (const old of this.#window.slice(0, drop)) this.#seen.delete(old);
      this.#window = this.#window.slice(drop);
    }
  }

  /**
   * The replica as bytes: `IPES`, a version byte, a 4-byte big-endian header length, the header
   * (UTF-8 JSON: revision and the id window), then the `ClusterState` snapshot. The array is the
   * caller's.
   */
  snapshot(): Uint8Array {
    const window = this.#window.slice(-this.#windowSize);
    const header = encoder.encode(
      JSON.stringify({ format: "ipamd-etcd-replica", revision: this.#revision.toString(), window }),
    );
    const state = this.state.snapshot();
    const out = new Uint8Array(9 + header.length + state.length);
    out.set(SNAPSHOT_MAGIC, 0);
    out[4] = SNAPSHOT_VERSION;
    new DataView(out.buffer).setUint32(5, header.length);
    out.set(header, 9);
    out.set(state, 9 + header.length);
    return out;
  }

  /**
   * Replaces everything with a {@link snapshot}; on failure nothing changes.
   * @throws IpamdError INVALID_ARGUMENT when the bytes are not a replica snapshot this build reads
   * (cause: the underlying error).
   */
  restore(bytes: Uint8Array): void {
    try {
      if (bytes.length < 9 || SNAPSHOT_MAGIC.some((b, i) => bytes[i] !== b)) {
        throw new Error("not an etcd replica snapshot (bad magic)");
      }
      if (bytes[4] !== SNAPSHOT_VERSION) {
        throw new Error(`replica snapshot version ${bytes[4]} is not ${SNAPSHOT_VERSION}`);
      }
      const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5);
      const header = JSON.parse(decoder.decode(bytes.subarray(9, 9 + length))) as {
        format?: unknown;
        revision?: unknown;
        window?: unknown;
      };
      if (
        header.format !== "ipamd-etcd-replica" ||
        typeof header.revision !== "string" ||
        !Array.isArray(header.window) ||
        !header.window.every((id) => typeof id === "string")
      ) {
        throw new Error("bad replica snapshot header");
      }
      const revision = BigInt(header.revision);
      // Last fallible step: ClusterState.restore leaves the state untouched when it throws.
      this.state.restore(bytes.subarray(9 + length));
      this.#revision = revision;
      this.#window = [...(header.window as string[])];
      this.#seen = new Set(this.#window);
    } catch (cause) {
      throw new IpamdError("INVALID_ARGUMENT", `etcd snapshot: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /** Replaces the cluster state with a `ClusterState` snapshot (an import); the window is emptied. */
  restoreState(stateBytes: Uint8Array, revision: bigint): void {
    this.state.restore(stateBytes);
    this.#revision = revision;
    this.#window = [];
    this.#seen = new Set();
  }
}
