import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { HardState, Storage } from "@ipam/raft";
import { IpamdError } from "../ipamd-error.js";

/**
 * File in a server's data dir, beside `ipamd.db` but never part of a backup of it: the newest
 * Raft state this server is known to have had. A durable Raft log must never go backwards
 * (a server that forgets a vote may vote twice in a term; one that forgets entries it
 * acknowledged may let the cluster lose committed ones), so a start whose `ipamd.db` is older
 * than this file is refused ({@link checkWatermark}).
 */
export const WATERMARK_FILE = "raft-watermark.json";

/** What {@link WATERMARK_FILE} holds. */
export interface Watermark {
  readonly clusterId: string;
  readonly nodeId: string;
  /** The highest term this server persisted, and its vote in that term (null: none). */
  readonly term: number;
  readonly vote: string | null;
  /** The highest applied index: every entry up to it was durable in `ipamd.db`. */
  readonly applied: number;
  /** When it was written (ISO 8601), for the operator. */
  readonly writtenAt: string;
  /** Set once this server learnt it was removed from the membership. */
  readonly removed?: { readonly why: string; readonly at: string };
}

/** The Raft state found in `ipamd.db` at start. */
export interface StoredRaftState {
  readonly term: number;
  readonly vote: string | null;
  /** The last index the log (or its snapshot) holds. */
  readonly lastIndex: number;
}

/** The watermark file of `dataDir`; undefined without a data dir (in-memory store). */
export function watermarkPath(dataDir: string | undefined): string | undefined {
  return dataDir === undefined ? undefined : join(dataDir, WATERMARK_FILE);
}

/**
 * Writes `text` to `path` so that a crash leaves the old or the new content, never a mix, and
 * the new content survives power loss once this returns: temp file, fsync, rename, fsync of the
 * folder. Mode 0600.
 */
export function writeFileDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** The watermark at `path`, undefined when there is none. Throws INTERNAL naming a damaged file. */
export function readWatermark(path: string | undefined): Watermark | undefined {
  if (path === undefined || !existsSync(path)) return undefined;
  let parsed: Partial<Watermark>;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<Watermark>;
  } catch (cause) {
    throw new IpamdError("INTERNAL", `--data-dir: ${path} is not valid JSON`, { cause });
  }
  const int = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (
    typeof parsed.clusterId !== "string" ||
    typeof parsed.nodeId !== "string" ||
    !int(parsed.term) ||
    !int(parsed.applied) ||
    !(parsed.vote === null || typeof parsed.vote === "string")
  ) {
    throw new IpamdError(
      "INTERNAL",
      `--data-dir: ${path} is damaged (expected clusterId, nodeId, term, vote, applied)`,
    );
  }
  return parsed as Watermark;
}

/** Writes `watermark` to `path` durably ({@link writeFileDurably}); nothing without a path. */
export function writeWatermark(path: string | undefined, watermark: Watermark): void {
  if (path === undefined) return;
  writeFileDurably(path, `${JSON.stringify(watermark, null, 2)}\n`);
}

/**
 * What went backwards between `watermark` (the newest state this server had) and `stored`
 * (what its `ipamd.db` holds now), as a sentence; undefined when nothing did. Backwards: a
 * lower term; the same term without the vote it had cast; a log that ends before the applied
 * index.
 */
export function checkWatermark(watermark: Watermark, stored: StoredRaftState): string | undefined {
  const problems: string[] = [];
  if (stored.term < watermark.term) {
    problems.push(`term ${watermark.term} → ${stored.term}`);
  } else if (
    stored.term === watermark.term &&
    watermark.vote !== null &&
    stored.vote !== watermark.vote
  ) {
    problems.push(`vote in term ${stored.term}: ${watermark.vote} → ${stored.vote ?? "none"}`);
  }
  if (stored.lastIndex < watermark.applied) {
    problems.push(`log end ${watermark.applied} → ${stored.lastIndex}`);
  }
  return problems.length === 0 ? undefined : problems.join(", ");
}

/**
 * `storage` with a hook called synchronously after every `setHardState` that changes the term
 * or the vote, before the driver sends the messages that depend on it (the Ready contract
 * persists the hard state first): the place to make a new term or vote known outside the
 * database. Every other method is `storage`'s own.
 */
export function onTermOrVote(storage: Storage, hook: (state: HardState) => void): Storage {
  let last: { term: number; vote: string | null } = storage.initialState().hardState;
  const flush = storage.flush;
  return {
    initialState: () => storage.initialState(),
    entries: (lo, hi, maxBytes) => storage.entries(lo, hi, maxBytes),
    term: (index) => storage.term(index),
    firstIndex: () => storage.firstIndex(),
    lastIndex: () => storage.lastIndex(),
    snapshot: () => storage.snapshot(),
    append: (entries) => storage.append(entries),
    setHardState: (state) => {
      storage.setHardState(state);
      if (state.term !== last.term || state.vote !== last.vote) {
        last = { term: state.term, vote: state.vote };
        hook(state);
      }
    },
    applySnapshot: (snapshot) => storage.applySnapshot(snapshot),
    compact: (index) => storage.compact(index),
    ...(flush === undefined ? {} : { flush: () => flush.call(storage) }),
  };
}
