import { randomUUID } from "node:crypto";
import {
  type ClusterCommand,
  type ClusterState,
  type CommandResult,
  encodeCommand,
} from "@ipam/subnet-pool";
import type { Logger } from "pino";
import type { EtcdClient } from "../etcd/etcd-client.js";
import { etcdFailure } from "../etcd/etcd-errors.js";
import { bytes, type EtcdKeys, prefixEnd } from "../etcd/etcd-keys.js";
import { openWatch, type WatchHandle } from "../etcd/etcd-watch.js";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
} from "../gen/etcdserverpb/rpc_pb.js";
import type { Event } from "../gen/mvccpb/kv_pb.js";
import { Event_EventType } from "../gen/mvccpb/kv_pb.js";
import { IpamdError } from "../ipamd-error.js";
import type { ReadOptions } from "./cluster-api.js";
import type { ClusterLog } from "./cluster-log.js";
import {
  type ApplyOutcome,
  type EncodedCommand,
  EtcdReplica,
  encodedSize,
  encodeEntries,
} from "./etcd-replica.js";
import { decodeMeta, readSnapshotData, type SnapshotMeta } from "./etcd-snapshots.js";

/** Largest log entry, bytes (below etcd's default 1.5 MiB request limit). */
export const MAX_ENTRY_BYTES = 1024 * 1024;
/** Log entries per range call while catching up. */
const PAGE = 500;
/**
 * Deadline of the n-th attempt (from 0) to write a log entry: 1 s for the first three (an etcd
 * election on loopback takes 1-2 s), then doubling up to 5 s (etcd merely slow).
 */
const attemptMs = (n: number) => Math.min(1000 * 2 ** Math.max(0, n - 2), 5000);
/** Most commands one log entry carries (group commit). */
export const MAX_BATCH = 256;

/** Options of {@link EtcdClusterLog}. */
export interface EtcdClusterLogOptions {
  readonly client: EtcdClient;
  readonly keys: EtcdKeys;
  readonly log: Logger;
  /** How long a proposal may take (append + apply here) before it fails TIMEOUT; default 10 000 ms. */
  readonly proposeTimeoutMs?: number;
  /** How long a linearizable read may wait; default 5 000 ms. */
  readonly readTimeoutMs?: number;
  /** Observes every entry applied (metrics, the snapshot trigger). */
  readonly onApplied?: (outcome: ApplyOutcome, revision: bigint) => void;
  /** Observes each catch-up from a snapshot (the revision it covers). */
  readonly onRestored?: (meta: SnapshotMeta) => void;
}

interface Queued {
  readonly item: EncodedCommand;
  readonly size: number;
  readonly until: number;
}

interface Waiter {
  readonly revision: bigint;
  readonly resolve: () => void;
}

interface Pending {
  resolve(result: CommandResult): void;
  reject(error: IpamdError): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The etcd {@link ClusterLog}: log entries are keys `<prefix>/log/<id>` written once each (a
 * transaction that creates the key only if it never existed, together with `<prefix>/head`), and
 * etcd's revision is the log's total order. An entry carries the commands this server proposed
 * while its previous entry was being written (group commit), each with its own id. Every server applies the entries to its
 * {@link EtcdReplica} in mod-revision order from a watch on `<prefix>/log/`; after a lost watch
 * it lists the entries it has not applied (from the latest snapshot first when the log was
 * truncated past it) and watches again from there.
 *
 * Contracts:
 * - `propose` resolves with the command's result once this server has applied it; its write is
 *   retried with the same id (so at most one entry exists per proposal while the log keeps it,
 *   and the replica's id window drops a second one) until `proposeTimeoutMs`, then TIMEOUT
 *   (outcome unknown: the command may still apply).
 * - `read` is linearizable: a linearizable etcd read of `<prefix>/head` (whose mod revision is
 *   the last entry's), then a wait until the replica applied that revision.
 * - `available()` is true while the watch is established and the last etcd call succeeded.
 * Life cycle: {@link start} once, {@link stop} once.
 */
export class EtcdClusterLog implements ClusterLog {
  readonly replica = new EtcdReplica();
  readonly #o: EtcdClusterLogOptions;
  readonly #pending = new Map<string, Pending>();
  #queue: Queued[] = [];
  #writing = false;
  #waiters: Waiter[] = [];
  #watch: WatchHandle | undefined;
  #watching = false;
  #failure: string | undefined = "not started";
  #lastError: unknown;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #synced: Promise<void>;
  #markSynced!: () => void;
  #snapshot: SnapshotMeta | undefined;
  #term = 0n;
  #etcdRevision = 0n;

  constructor(options: EtcdClusterLogOptions) {
    this.#o = options;
    this.#synced = new Promise((resolve) => {
      this.#markSynced = resolve;
    });
  }

  get state(): ClusterState {
    return this.replica.state;
  }

  /** The latest snapshot this server knows of (read while catching up, or written here). */
  get snapshot(): SnapshotMeta | undefined {
    return this.#snapshot;
  }

  /** Records a snapshot this server wrote. */
  noteSnapshot(meta: SnapshotMeta): void {
    if (this.#snapshot === undefined || meta.revision > this.#snapshot.revision)
      this.#snapshot = meta;
  }

  /** The etcd raft term and store revision from the last response (for GetStatus). */
  get etcdPosition(): { readonly term: bigint; readonly revision: bigint } {
    return { term: this.#term, revision: this.#etcdRevision };
  }

  /** Why proposals cannot commit now (undefined while available). */
  get unavailableReason(): string | undefined {
    if (this.#stopped) return "stopped";
    if (!this.#watching) return this.#failure ?? "etcd watch not established";
    return this.#failure;
  }

  available(): boolean {
    return this.unavailableReason === undefined;
  }

  appliedIndex(): number {
    return Number(this.replica.revision);
  }

  /** Starts following the log in the background (once). */
  start(): void {
    this.#loop ??= this.#follow();
  }

  /** Resolves once the replica has caught up with etcd the first time (or rejects after `timeoutMs`). */
  async synced(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#synced,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new IpamdError(
                  "UNAVAILABLE",
                  `etcd: not caught up after ${timeoutMs} ms (${this.unavailableReason ?? "?"})`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #ok(header: { raftTerm: bigint; revision: bigint } | undefined): void {
    if (header !== undefined) {
      if (header.raftTerm > this.#term) this.#term = header.raftTerm;
      if (header.revision > this.#etcdRevision) this.#etcdRevision = header.revision;
    }
    this.#failure = undefined;
  }

  #failed(err: unknown): void {
    this.#lastError = err;
    this.#failure = `etcd unreachable: ${(err as Error).message}`;
  }

  /** The last etcd error while it is not available (undefined while available). */
  get failure(): unknown {
    return this.available() ? undefined : this.#lastError;
  }

  // --- following the log ---------------------------------------------------------------

  async #follow(): Promise<void> {
    const log = this.#o.log;
    let backoff = 100;
    while (!this.#stopped) {
      try {
        await this.#catchUp();
        this.#markSynced();
        const ended = await this.#watchFrom(this.replica.revision + 1n);
        if (this.#stopped) return;
        log.info({ err: ended }, "etcd watch ended; catching up");
        backoff = 100;
      } catch (err) {
        if (this.#stopped) return;
        this.#failed(err);
        const denied = etcdFailure(err) === "denied";
        log[denied ? "error" : "warn"]({ err }, `etcd: ${(err as Error).message}`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /** Applies every entry etcd holds past the replica's revision (from the snapshot when needed). */
  async #catchUp(): Promise<void> {
    const { client, keys } = this.#o;
    const logKey = bytes(keys.log);
    const logEnd = prefixEnd(logKey);
    const metaKey = bytes(keys.snapshotMeta);
    const page = (from: bigint, at: bigint) =>
      client.range({
        key: logKey,
        rangeEnd: logEnd,
        minModRevision: from,
        sortOrder: RangeRequest_SortOrder.ASCEND,
        sortTarget: RangeRequest_SortTarget.MOD,
        limit: BigInt(PAGE),
        ...(at === 0n ? {} : { revision: at }),
      });
    const first = await client.range({ key: metaKey });
    const at = first.header?.revision ?? 0n;
    this.#ok(first.header);
    const metaKv = first.kvs[0];
    if (metaKv !== undefined) {
      const meta = decodeMeta(metaKv.value);
      this.noteSnapshot(meta);
      if (meta.revision > this.replica.revision) {
        // Entries up to meta.revision may be deleted: start from the snapshot.
        const data = await readSnapshotData(client, keys, meta, at);
        this.replica.restore(data);
        this.#o.log.info(
          { revision: meta.revision.toString(), bytes: meta.bytes, writer: meta.writer },
          "etcd: restored the replica from the snapshot",
        );
        this.#o.onRestored?.(meta);
        this.#settleFoldedProposals();
      }
    }
    let from = this.replica.revision + 1n;
    for (;;) {
      const r = await page(from, at);
      for (const kv of r.kvs) this.#applyEntry(kv.value, kv.modRevision);
      const last = r.kvs[r.kvs.length - 1];
      if (!r.more || last === undefined) break;
      from = last.modRevision + 1n;
    }
    this.replica.advanceTo(at);
    this.#wake();
  }

  /** Proposals whose entries a snapshot restore applied without this server seeing them. */
  #settleFoldedProposals(): void {
    for (const [id, p] of this.#pending) {
      if (!this.replica.hasApplied(id)) continue;
      this.#pending.delete(id);
      p.reject(
        new IpamdError(
          "UNAVAILABLE",
          "etcd: the command was applied while this server caught up from a snapshot; its result was not kept: retry it",
        ),
      );
    }
  }

  /** Watches the log from `start`; resolves with the reason when the watch ends. */
  async #watchFrom(start: bigint): Promise<IpamdError> {
    const key = bytes(this.#o.keys.log);
    return new Promise<IpamdError>((resolve, reject) => {
      openWatch(
        this.#o.client,
        { key, rangeEnd: prefixEnd(key), startRevision: start, noDelete: true },
        {
          onCreated: (revision) => {
            this.#watching = true;
            this.#ok({ raftTerm: 0n, revision });
          },
          onEvents: (events: Event[]) => {
            for (const e of events) {
              if (e.type !== Event_EventType.PUT || e.kv === undefined) continue;
              this.#applyEntry(e.kv.value, e.kv.modRevision);
              if (e.kv.modRevision > this.#etcdRevision) this.#etcdRevision = e.kv.modRevision;
            }
            this.#wake();
          },
          onEnd: (error) => {
            this.#watching = false;
            this.#watch = undefined;
            if (!this.#stopped) this.#failed(error);
            resolve(error);
          },
        },
      ).then((handle) => {
        this.#watch = handle;
        if (this.#stopped) handle.cancel();
      }, reject);
    });
  }

  #applyEntry(value: Uint8Array, revision: bigint): void {
    for (const outcome of this.replica.apply(value, revision)) {
      this.#o.onApplied?.(outcome, revision);
      if (outcome.kind === "unreadable") {
        this.#o.log.error(
          { err: outcome.error, revision: revision.toString() },
          "etcd: skipped a log entry this build cannot read (every server skips it)",
        );
        continue;
      }
      const pending = this.#pending.get(outcome.id);
      if (pending === undefined) continue;
      this.#pending.delete(outcome.id);
      if (outcome.kind === "applied") pending.resolve(outcome.result);
      else {
        pending.reject(
          new IpamdError(
            "UNAVAILABLE",
            "etcd: the command was appended twice and applied once earlier; its result was not kept: retry it",
          ),
        );
      }
    }
  }

  #wake(): void {
    const revision = this.replica.revision;
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.revision <= revision) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** Resolves once the replica applied `revision`; false when `timeoutMs` passed first. */
  #waitApplied(revision: bigint, timeoutMs: number): Promise<boolean> {
    if (this.replica.revision >= revision) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Ends the current watch so that the follower lists what it missed and watches again. */
  resync(): void {
    this.#watch?.cancel();
  }

  // --- the ClusterLog ------------------------------------------------------------------

  propose(command: ClusterCommand): Promise<CommandResult> {
    if (this.#stopped)
      return Promise.reject(new IpamdError("SHUTTING_DOWN", "cluster log stopped"));
    const item: EncodedCommand = { id: randomUUID(), bytes: encodeCommand(command) };
    const size = encodedSize(item) + 3;
    if (size > MAX_ENTRY_BYTES) {
      return Promise.reject(
        new IpamdError(
          "INVALID_ARGUMENT",
          `${command.type}: the command is ${size} bytes, more than the ${MAX_ENTRY_BYTES} bytes one etcd log entry may hold`,
        ),
      );
    }
    const timeoutMs = this.#o.proposeTimeoutMs ?? 10_000;
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(
          new IpamdError(
            "TIMEOUT",
            `${command.type}: not applied within ${timeoutMs} ms (${this.unavailableReason ?? "etcd slow"}); the outcome is unknown`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#pending.delete(item.id);
      };
      this.#pending.set(item.id, {
        resolve: (r) => {
          finish();
          resolve(r);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      });
      this.#queue.push({ item, size: encodedSize(item), until: Date.now() + timeoutMs });
      this.#flush();
    });
  }

  /**
   * Group commit: while one entry is being written, new proposals wait in the queue; the next
   * entry takes all of them (up to {@link MAX_BATCH} commands and {@link MAX_ENTRY_BYTES}), so
   * a busy server writes one etcd key per round trip instead of one per command.
   */
  #flush(): void {
    if (this.#writing || this.#queue.length === 0 || this.#stopped) return;
    const batch: Queued[] = [];
    let bytes = 3;
    while (this.#queue.length > 0 && batch.length < MAX_BATCH) {
      const next = this.#queue[0] as Queued;
      if (batch.length > 0 && bytes + next.size > MAX_ENTRY_BYTES) break;
      this.#queue.shift();
      // A proposal that already timed out is not written.
      if (!this.#pending.has(next.item.id)) continue;
      batch.push(next);
      bytes += next.size;
    }
    if (batch.length === 0) return;
    this.#writing = true;
    const until = Math.max(...batch.map((b) => b.until));
    const value = encodeEntries(batch.map((b) => b.item));
    const settled = () => batch.every((b) => !this.#pending.has(b.item.id));
    void this.#append(randomUUID(), value, settled, until)
      .catch((err: unknown) => {
        for (const b of batch) {
          const p = this.#pending.get(b.item.id);
          p?.reject(err instanceof IpamdError ? err : new IpamdError("INTERNAL", String(err)));
        }
      })
      .finally(() => {
        this.#writing = false;
        this.#flush();
      });
  }

  /**
   * Writes the entry (create-only, with the head) until etcd answers: success or "exists" both
   * mean the entry is in the log; then the watch applies it and settles the proposal.
   * Rejects only for errors a retry cannot fix (the request refused, access denied).
   */
  async #append(
    id: string,
    value: Uint8Array,
    settled: () => boolean,
    until: number,
  ): Promise<void> {
    const { client, keys } = this.#o;
    const key = bytes(keys.logEntry(id));
    let backoff = 50;
    // A write sent during an etcd leader election waits in etcd until its own request timeout
    // (5 s + 2 elections): short first attempts move on to another member (the create-only
    // compare makes a resend harmless); longer ones follow when etcd is merely slow.
    let attempt = 0;
    while (!settled() && !this.#stopped) {
      try {
        const r = await client.txn(
          {
            compare: [
              {
                key,
                target: Compare_CompareTarget.CREATE,
                result: Compare_CompareResult.EQUAL,
                targetUnion: { case: "createRevision", value: 0n },
              },
            ],
            success: [
              { request: { case: "requestPut", value: { key, value } } },
              {
                request: { case: "requestPut", value: { key: bytes(keys.head), value: bytes(id) } },
              },
            ],
          },
          { timeoutMs: Math.max(100, Math.min(attemptMs(attempt), until - Date.now())) },
        );
        this.#ok(r.header);
        return;
      } catch (err) {
        const kind = etcdFailure(err);
        if (kind === "refused" || kind === "denied") throw err;
        this.#failed(err);
        attempt++;
        if (Date.now() + backoff >= until) return;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  async read<T>(query: (state: ClusterState) => T, options: ReadOptions = {}): Promise<T> {
    if (options.stale === true) return query(this.state);
    if (this.#stopped) throw new IpamdError("SHUTTING_DOWN", "cluster log stopped");
    const timeoutMs = this.#o.readTimeoutMs ?? 5000;
    const until = Date.now() + timeoutMs;
    let head: bigint;
    try {
      const r = await this.#o.client.range({ key: bytes(this.#o.keys.head) }, { timeoutMs });
      this.#ok(r.header);
      head = r.kvs[0]?.modRevision ?? 0n;
    } catch (err) {
      this.#failed(err);
      throw err;
    }
    // A watch that should have delivered the head by now is resynced once (a silent stream).
    if (!(await this.#waitApplied(head, Math.min(1000, Math.max(1, until - Date.now()))))) {
      this.resync();
      if (!(await this.#waitApplied(head, Math.max(1, until - Date.now())))) {
        throw new IpamdError(
          "TIMEOUT",
          `read: this server has not applied etcd revision ${head} within ${timeoutMs} ms (${this.unavailableReason ?? "catching up"})`,
        );
      }
    }
    return query(this.state);
  }

  /** Stops following the log; pending proposals fail SHUTTING_DOWN. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#watch?.cancel();
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new IpamdError("SHUTTING_DOWN", "cluster log stopped"));
    }
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    await this.#loop;
  }
}
