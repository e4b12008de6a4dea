import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { ControllerElection, type ServerIdentity } from "../etcd/controller-election.js";
import type { EtcdClient } from "../etcd/etcd-client.js";
import { etcdFailure } from "../etcd/etcd-errors.js";
import { bytes, type EtcdKeys, text } from "../etcd/etcd-keys.js";
import { EtcdSession } from "../etcd/etcd-session.js";
import { Compare_CompareResult, Compare_CompareTarget } from "../gen/etcdserverpb/rpc_pb.js";
import { IpamdError } from "../ipamd-error.js";
import { EtcdClusterLog } from "./etcd-cluster-log.js";
import { checkEtcdLayout } from "./etcd-layout.js";
import type { ApplyOutcome } from "./etcd-replica.js";
import { readMeta, type SnapshotMeta, truncateLog, writeSnapshot } from "./etcd-snapshots.js";
import { ReplicatedCluster } from "./replicated-cluster.js";

/** Options of {@link EtcdCluster}. */
export interface EtcdClusterOptions {
  readonly nodeId: string;
  readonly client: EtcdClient;
  readonly keys: EtcdKeys;
  readonly logger: Logger;
  /** Snapshot after this many applied entries (controller only; default 10 000; 0 = never). */
  readonly snapshotEntries?: number;
  /** Request etcd compaction after truncating the log (default true). */
  readonly compaction?: boolean;
  /** TTL of the server's lease (controller and presence keys), s; default 10. */
  readonly leaseTtlSeconds?: number;
  /**
   * A log entry is deleted only once it was applied here at least this long ago (and is in a
   * snapshot): longer than any proposer retries a write (default 120 000 ms).
   */
  readonly truncateDelayMs?: number;
  /** Proposal deadline (default 10 000 ms). */
  readonly proposeTimeoutMs?: number;
  /** `start` gives up when etcd does not answer for this long (default 60 000 ms; 0: never). */
  readonly startTimeoutMs?: number;
  /** Observes every applied entry (metrics). */
  readonly onApplied?: (outcome: ApplyOutcome) => void;
  /** Called when the controller changes as this server sees it (with whether it is this one). */
  readonly onControllerChange?: (isController: boolean) => void;
}

/** GetStatus of an etcd-backed server. */
export interface EtcdClusterStatus {
  readonly id: string;
  readonly controller: ServerIdentity | undefined;
  readonly isController: boolean;
  readonly term: bigint;
  readonly etcdRevision: bigint;
  readonly appliedRevision: bigint;
  readonly snapshotRevision: bigint;
  readonly clusterId: string;
}

/**
 * An L1 server whose cluster state lives in etcd: an {@link EtcdClusterLog} (the replica and its
 * log), a lease ({@link EtcdSession}) and the {@link ControllerElection} for run-once tasks. The
 * controller also writes snapshots, truncates the log behind them and requests etcd compaction.
 *
 * Every server accepts writes itself (etcd orders them), so there is no forwarding; `leader()`
 * names the controller, which is what GetLeader reports.
 *
 * Life cycle: `start(advertise)` once, then `stop()`.
 */
export class EtcdCluster extends ReplicatedCluster {
  readonly nodeId: string;
  readonly clusterLog: EtcdClusterLog;
  readonly #o: EtcdClusterOptions;
  readonly #log: Logger;
  readonly #session: EtcdSession;
  #election: ControllerElection | undefined;
  #clusterId = "";
  #advertise = "";
  #sinceSnapshot = 0;
  #maintenance: NodeJS.Timeout | undefined;
  #maintaining = false;
  /** (revision applied here, when) samples, oldest first: picks the truncation point. */
  #applied: Array<{ revision: bigint; at: number }> = [];
  #truncated = 0n;
  #compacted = 0n;
  #stopped = false;

  constructor(options: EtcdClusterOptions) {
    const log = new EtcdClusterLog({
      client: options.client,
      keys: options.keys,
      log: options.logger.child({ component: "etcd" }),
      ...(options.proposeTimeoutMs === undefined
        ? {}
        : { proposeTimeoutMs: options.proposeTimeoutMs }),
      onApplied: (outcome) => {
        this.#sinceSnapshot++;
        options.onApplied?.(outcome);
      },
      onRestored: () => {
        this.#sinceSnapshot = 0;
      },
    });
    super(log);
    this.clusterLog = log;
    this.nodeId = options.nodeId;
    this.#o = options;
    this.#log = options.logger.child({ component: "cluster" });
    this.#session = new EtcdSession(options.client, {
      log: this.#log,
      ...(options.leaseTtlSeconds === undefined ? {} : { ttlSeconds: options.leaseTtlSeconds }),
      onLease: () => void this.#election?.tick(),
    });
  }

  /** The cluster id (a UUID the first server wrote under `<prefix>/cluster-id`). */
  get clusterId(): string {
    return this.#clusterId;
  }

  /** Where this cluster's keys live in etcd. */
  get prefix(): string {
    return this.#o.keys.prefix;
  }

  get advertiseAddress(): string {
    return this.#advertise;
  }

  /**
   * Checks the prefix ({@link checkEtcdLayout}: etcd answers within `startTimeoutMs`, the key
   * layout is this build's, no foreign keys), then follows the log, campaigns for the controller
   * lease, and resolves once the replica has caught up with etcd. If etcd goes away after the
   * check it waits (logging why every `syncTimeoutMs`); it rejects when etcd refuses the
   * credentials (`details.etcd: "denied"`) or when stopped.
   */
  async start(advertise: string, syncTimeoutMs = 10_000): Promise<void> {
    if (this.#stopped) throw new IpamdError("SHUTTING_DOWN", "stopped before start");
    this.#advertise = advertise;
    await checkEtcdLayout(
      this.#o.client,
      this.#o.keys,
      this.#o.startTimeoutMs ?? 60_000,
      () => this.#stopped,
    );
    if (this.#stopped) throw new IpamdError("SHUTTING_DOWN", "stopped while waiting for etcd");
    this.clusterLog.start();
    this.#session.start();
    this.#election = new ControllerElection({
      client: this.#o.client,
      keys: this.#o.keys,
      session: this.#session,
      self: { id: this.nodeId, address: advertise },
      log: this.#log,
      onChange: () => this.#o.onControllerChange?.(this.isController()),
    });
    this.#election.start();
    for (;;) {
      try {
        await this.clusterLog.synced(syncTimeoutMs);
        break;
      } catch (err) {
        if (this.#stopped) throw new IpamdError("SHUTTING_DOWN", "stopped while waiting for etcd");
        const denied = this.clusterLog.failure;
        if (denied !== undefined && etcdFailure(denied) === "denied") throw denied;
        this.#log.warn({ err }, `waiting for etcd: ${(err as Error).message}`);
      }
    }
    this.#clusterId = await this.#ensureClusterId();
    this.#maintenance = setInterval(() => void this.#maintain(), 1000);
    this.#maintenance.unref();
    this.#log.info(
      {
        prefix: this.prefix,
        clusterId: this.#clusterId,
        revision: this.clusterLog.replica.revision.toString(),
      },
      "caught up with the cluster state in etcd",
    );
  }

  async #ensureClusterId(): Promise<string> {
    const key = bytes(this.#o.keys.clusterId);
    const r = await this.#o.client.txn({
      compare: [
        {
          key,
          target: Compare_CompareTarget.CREATE,
          result: Compare_CompareResult.EQUAL,
          targetUnion: { case: "createRevision", value: 0n },
        },
      ],
      success: [{ request: { case: "requestPut", value: { key, value: bytes(randomUUID()) } } }],
      failure: [{ request: { case: "requestRange", value: { key } } }],
    });
    if (r.succeeded) {
      const again = await this.#o.client.range({ key });
      return text(again.kvs[0]?.value ?? new Uint8Array());
    }
    const op = r.responses[0]?.response;
    return op?.case === "responseRange" ? text(op.value.kvs[0]?.value ?? new Uint8Array()) : "";
  }

  /** True while this server holds the controller lease (runs the run-once tasks). */
  isController(): boolean {
    return this.#election?.isController() === true;
  }

  /** The controller as this server sees it: GetLeader's answer. */
  leader(): ServerIdentity | undefined {
    return this.#election?.controller;
  }

  /** The live servers (their presence keys). */
  servers(): Promise<ServerIdentity[]> {
    return this.#election?.servers() ?? Promise.resolve([]);
  }

  /** Why writes cannot commit now (etcd unreachable, watch down), or undefined. */
  get unavailableReason(): string | undefined {
    return this.clusterLog.unavailableReason;
  }

  status(): EtcdClusterStatus {
    const position = this.clusterLog.etcdPosition;
    return {
      id: this.nodeId,
      controller: this.leader(),
      isController: this.isController(),
      term: position.term,
      etcdRevision: position.revision,
      appliedRevision: this.clusterLog.replica.revision,
      snapshotRevision: this.clusterLog.snapshot?.revision ?? 0n,
      clusterId: this.#clusterId,
    };
  }

  /** One maintenance round (every second): samples, and on the controller snapshot/truncate. */
  async #maintain(): Promise<void> {
    if (this.#maintaining || this.#stopped) return;
    this.#maintaining = true;
    try {
      const now = Date.now();
      this.#applied.push({ revision: this.clusterLog.replica.revision, at: now });
      const delay = this.#o.truncateDelayMs ?? 120_000;
      while (this.#applied.length > 1 && (this.#applied[1]?.at ?? now) <= now - delay) {
        this.#applied.shift();
      }
      if (!this.isController()) return;
      const every = this.#o.snapshotEntries ?? 10_000;
      if (every > 0 && this.#sinceSnapshot >= every) await this.snapshotNow();
      await this.#truncate(now - delay);
    } catch (err) {
      this.#log.warn({ err }, "etcd maintenance (snapshot, truncation) failed; retried later");
    } finally {
      this.#maintaining = false;
    }
  }

  /**
   * Writes a snapshot of the replica to etcd (chunked) and makes it current. Resolves with its
   * meta, or undefined when another server installed one meanwhile.
   */
  async snapshotNow(): Promise<SnapshotMeta | undefined> {
    const { client, keys } = this.#o;
    const current = await readMeta(client, keys);
    const replica = this.clusterLog.replica;
    if (current.meta !== undefined && current.meta.revision >= replica.revision) {
      this.clusterLog.noteSnapshot(current.meta);
      this.#sinceSnapshot = 0;
      return current.meta;
    }
    const data = replica.snapshot();
    const revision = replica.revision;
    const meta = await writeSnapshot(client, keys, {
      data,
      revision,
      writer: this.nodeId,
      now: Date.now(),
      previous: current.meta,
      previousModRevision: current.modRevision,
    });
    if (meta === undefined) return undefined;
    this.clusterLog.noteSnapshot(meta);
    this.#sinceSnapshot = 0;
    this.#log.info(
      { revision: revision.toString(), bytes: meta.bytes, chunks: meta.chunks },
      "etcd snapshot written",
    );
    return meta;
  }

  /** Deletes entries covered by the snapshot and applied before `before`, then compacts etcd. */
  async #truncate(before: number): Promise<void> {
    const snapshot = this.clusterLog.snapshot;
    if (snapshot === undefined) return;
    let old = 0n;
    for (const s of this.#applied) if (s.at <= before) old = s.revision;
    const upTo = old < snapshot.revision ? old : snapshot.revision;
    if (upTo <= this.#truncated) return;
    const deleted = await truncateLog(this.#o.client, this.#o.keys, upTo);
    this.#truncated = upTo;
    if (deleted > 0) {
      this.#log.info({ upTo: upTo.toString(), deleted }, "etcd log truncated behind the snapshot");
    }
    if (this.#o.compaction !== false && upTo > this.#compacted) {
      try {
        await this.#o.client.compact(upTo);
      } catch (err) {
        // Already compacted past it (by etcd's own auto-compaction or another server): fine.
        this.#log.debug({ err }, "etcd compaction request");
      }
      this.#compacted = upTo;
    }
  }

  /** Stops campaigning, revokes the lease (the controller key goes at once), stops the log. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#maintenance);
    this.#election?.stop();
    await this.#session.stop();
    await this.clusterLog.stop();
    this.#o.client.close();
  }
}
