import { randomUUID } from "node:crypto";
import type { ClientTlsOptions, ServiceBinding } from "@ipam/grpc-server";
import { GrpcRaftTransport } from "@ipam/grpc-server/raft";
import type { Message, RaftNode, RaftNodeHooks, RaftNodeStatus, Transport } from "@ipam/raft";
import { createSqliteStorage } from "@ipam/raft/sqlite";
import type { Store } from "@ipam/store";
import type { CommandResult } from "@ipam/subnet-pool";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import { ApplyLag } from "./apply-lag.js";
import {
  IDENTITY_FILE,
  type Identity,
  identityPath,
  readIdentity,
  writeIdentity,
} from "./cluster-identity.js";
import { MembershipGuard } from "./membership-guard.js";
import { RaftClusterLog } from "./raft-cluster-log.js";
import { RaftJoin } from "./raft-join.js";
import {
  checkWatermark,
  onTermOrVote,
  readWatermark,
  WATERMARK_FILE,
  type Watermark,
  watermarkPath,
  writeWatermark,
} from "./raft-watermark.js";
import { ReplicatedCluster } from "./replicated-cluster.js";
import { toSingleVoterGroup } from "./restore-cluster.js";

export interface RaftClusterOptions {
  readonly nodeId: string;
  readonly store: Store;
  /** Where {@link IDENTITY_FILE} lives; undefined = nothing persisted (in-memory store). */
  readonly dataDir: string | undefined;
  readonly electionMs: number;
  readonly logger: Logger;
  /** `--bootstrap`: create a new group with this server as its only voter. */
  readonly bootstrap: boolean;
  /** `--join`: servers of an existing group to ask for membership. */
  readonly join: readonly string[];
  /**
   * `--restore-from`: the store was just copied from a backup into an empty data dir; make it
   * a new group (new cluster id) with this server as its only voter.
   */
  readonly restore?: boolean;
  /** TLS towards peers (Raft links and forwarded/join calls); cleartext when absent. */
  readonly tls?: ClientTlsOptions;
  /** How long `start` may spend joining (AddLearner, catch-up, promotion); default 120 s. */
  readonly joinTimeoutMs?: number;
  /** Snapshot every this many applied entries (driver default 10 000; 0 = never). */
  readonly snapshotEntries?: number;
  /** Raft observation hooks (metrics); leader changes are also logged. */
  readonly hooks?: RaftNodeHooks;
  /**
   * How long a commit index the leader announced may wait to be applied here before this
   * server says it is not ready ({@link RaftCluster.notReadyReason}); default
   * `max(5000, 10 × electionMs)`.
   */
  readonly applyLagBoundMs?: number;
}

/** Where to read how to restore a server (named in refusals and readiness reasons). */
const RESTORE_DOC = 'docs/operations.md "Restoring a server"';

/** How this start came about. */
export type StartMode = "bootstrap" | "join" | "resume" | "restore";

const TICK_MS = 50;
/** How often the watermark's applied index is written while it moves. */
const WATERMARK_EVERY_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A server of a multi-server L1: a {@link RaftClusterLog} over the store's Raft log and a
 * {@link GrpcRaftTransport} to the other servers. Peer addresses come from the Raft membership
 * (`addVoter`/`addLearner` record them).
 *
 * Life cycle: `prepare()` (learns the cluster id: stored, new, or from a `--join` server),
 * serve `raftService()` on the TCP listener, then `start(advertise)` (bootstrap, join or
 * resume), and `stop()`.
 */
export class RaftCluster extends ReplicatedCluster {
  readonly nodeId: string;
  readonly #replica: RaftClusterLog;
  readonly #options: RaftClusterOptions;
  readonly #storage: ReturnType<typeof createSqliteStorage>;
  readonly #log: Logger;
  readonly #joiner: RaftJoin;
  #identity: Identity | undefined;
  #mode: StartMode | undefined;
  #transport: GrpcRaftTransport | undefined;
  #raft: RaftNode<CommandResult> | undefined;
  #advertise = "";
  /** Addresses learnt outside the membership (the leader named by a join server). */
  readonly #hints = new Map<string, string>();
  #peers: Record<string, string> = {};
  #peerTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #watermarkPath: string | undefined;
  /** The newest durable Raft state written to {@link WATERMARK_FILE} (after `prepare`). */
  #watermark: Watermark | undefined;
  #watermarkAt = 0;
  readonly #lag: ApplyLag;
  #guard: MembershipGuard | undefined;
  /** Why this server is not a member any more (set once, when it learnt it). */
  #removed: string | undefined;

  constructor(options: RaftClusterOptions) {
    const log = new RaftClusterLog();
    super(log);
    this.#replica = log;
    this.#options = options;
    this.nodeId = options.nodeId;
    this.#storage = createSqliteStorage(options.store.raftLog());
    this.#log = options.logger.child({ component: "cluster" });
    this.#watermarkPath = watermarkPath(options.dataDir);
    this.#lag = new ApplyLag(options.applyLagBoundMs ?? Math.max(5000, 10 * options.electionMs));
    this.#joiner = new RaftJoin({
      nodeId: options.nodeId,
      servers: options.join,
      electionMs: options.electionMs,
      log: this.#log,
      stopped: () => this.#stopped,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.joinTimeoutMs === undefined ? {} : { timeoutMs: options.joinTimeoutMs }),
    });
  }

  /** True when the store already holds Raft state (term, log or snapshot). */
  hasRaftState(): boolean {
    const { hardState } = this.#storage.initialState();
    return (
      hardState.term > 0 || this.#storage.lastIndex() > 0 || this.#storage.snapshot() !== undefined
    );
  }

  /** The cluster id every member shares (after `prepare`). */
  get clusterId(): string {
    return this.#identity?.clusterId ?? "";
  }

  /** How this server started (after `prepare`). */
  get mode(): StartMode | undefined {
    return this.#mode;
  }

  /** The Raft election timeout, ms. */
  get electionMs(): number {
    return this.#options.electionMs;
  }

  /** The address peers and agents dial (after `start`). */
  get advertiseAddress(): string {
    return this.#advertise;
  }

  /** The Raft driver; UNAVAILABLE before `start`. */
  get raft(): RaftNode<CommandResult> {
    return this.#replica.raft;
  }

  /** Whether Raft runs (false before `start` and after `stop`). */
  started(): boolean {
    return this.#raft !== undefined && !this.#stopped;
  }

  #writeIdentity(identity: Identity): void {
    this.#identity = identity;
    writeIdentity(identityPath(this.#options.dataDir), identity);
  }

  /**
   * Decides how to start and learns the cluster id: a data dir with Raft state resumes
   * (ignoring --bootstrap/--join), otherwise --bootstrap creates a new id and --join asks the
   * given servers for theirs.
   * @throws IpamdError INVALID_ARGUMENT when a new server has neither --bootstrap nor --join.
   */
  async prepare(): Promise<void> {
    const identity = readIdentity(identityPath(this.#options.dataDir), this.nodeId);
    const hasState = this.hasRaftState();
    if (this.#options.restore === true && identity === undefined) {
      if (!hasState) {
        throw new IpamdError(
          "INVALID_ARGUMENT",
          "--restore-from: the backup holds no Raft state (not a backup of a --role server's ipamd.db)",
        );
      }
      this.#identity = { clusterId: randomUUID(), nodeId: this.nodeId };
      this.#mode = "restore";
    } else if (identity !== undefined && (hasState || identity.bootstrap !== undefined)) {
      if (this.#options.bootstrap || this.#options.join.length > 0) {
        this.#log.info(
          { clusterId: identity.clusterId },
          "data dir holds Raft state: resuming, --bootstrap/--join ignored",
        );
      }
      this.#identity = identity;
      this.#mode = "resume";
    } else if (identity === undefined && hasState) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `--data-dir: holds Raft state but no ${IDENTITY_FILE}; restore it or start from an empty data dir`,
      );
    } else if (this.#options.bootstrap) {
      this.#identity = { clusterId: randomUUID(), nodeId: this.nodeId };
      this.#mode = "bootstrap";
    } else if (this.#options.join.length > 0) {
      const { clusterId, leaderId, leaderAddress } = await this.#joiner.askClusterId();
      this.#hints.set(leaderId, leaderAddress);
      if (identity !== undefined && identity.clusterId !== clusterId) {
        throw new IpamdError(
          "CONFLICT",
          `--join: ${this.#options.join.join(",")} belong to cluster ${clusterId}, this data dir to ${identity.clusterId}`,
        );
      }
      this.#identity = { clusterId, nodeId: this.nodeId };
      this.#mode = "join";
    } else {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        "--bootstrap or --join: a new server needs one (its data dir holds no Raft state)",
      );
    }
    this.#checkWatermark();
    this.#transport = new GrpcRaftTransport({
      id: this.nodeId,
      clusterId: this.clusterId,
      peers: {},
      random: Math.random,
      electionMs: this.#options.electionMs,
      ...(this.#options.tls === undefined ? {} : { tls: this.#options.tls }),
      onError: (error) => this.#log.debug({ err: error }, "raft transport"),
      checkSender: (from, messages) => this.#guard?.checkSender(from, messages),
      onRefused: (refusal) => this.#guard?.onRefused(refusal),
    });
  }

  /**
   * Compares the Raft state in `ipamd.db` with {@link WATERMARK_FILE}, the newest state this
   * server is known to have persisted. A state that went backwards (a backup put back, a copied
   * or emptied database) must not take part in the group: it could vote twice in a term, and the
   * leader, which remembers what this server had acknowledged, would never send it the entries
   * it lost. Refuses with the procedure to follow instead. A watermark of another cluster (or
   * none) is replaced at start.
   */
  #checkWatermark(): void {
    const wm = readWatermark(this.#watermarkPath);
    if (wm === undefined || wm.clusterId !== this.clusterId || wm.nodeId !== this.nodeId) return;
    if (wm.removed !== undefined) {
      this.#watermark = wm;
      return;
    }
    const { hardState } = this.#storage.initialState();
    const stored = {
      term: hardState.term,
      vote: hardState.vote,
      lastIndex: Math.max(this.#storage.lastIndex(), this.#storage.snapshot()?.meta.index ?? 0),
    };
    const problem = checkWatermark(wm, stored);
    if (problem !== undefined) {
      throw new IpamdError(
        "CONFLICT",
        `--data-dir: the Raft state in ipamd.db went backwards (${problem}; ${WATERMARK_FILE} was ` +
          `written ${wm.writtenAt}): it was restored from a backup or copied. A server must not ` +
          `rejoin its group with older state. To restore this server: ` +
          `\`ipamd cluster leave --node-id ${this.nodeId} --server <another server>\`, empty ` +
          `--data-dir, start it with --join <other servers> (it receives the state by snapshot). ` +
          `To recover a cluster that lost quorum from this backup: --force-new-cluster. See ${RESTORE_DOC}.`,
        { details: { watermark: wm, stored } },
      );
    }
    this.#watermark = wm;
  }

  /** Writes the watermark with `change` applied; never lowers the applied index. */
  #writeWatermark(change: Partial<Omit<Watermark, "clusterId" | "nodeId" | "writtenAt">>): void {
    const prev = this.#watermark;
    const removed = change.removed ?? prev?.removed;
    const next: Watermark = {
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      term: change.term ?? prev?.term ?? 0,
      vote: change.vote !== undefined ? change.vote : (prev?.vote ?? null),
      applied: Math.max(change.applied ?? 0, prev?.applied ?? 0),
      writtenAt: new Date().toISOString(),
      ...(removed === undefined ? {} : { removed }),
    };
    try {
      writeWatermark(this.#watermarkPath, next);
      this.#watermark = next;
      this.#watermarkAt = Date.now();
    } catch (err) {
      this.#log.error({ err, file: this.#watermarkPath }, `cannot write ${WATERMARK_FILE}`);
    }
  }

  /** The receiving side of the Raft transport: serve it on the TCP listener (after `prepare`). */
  raftService(): ServiceBinding {
    if (this.#transport === undefined) throw new IpamdError("INTERNAL", "raft: prepare() first");
    return this.#transport.service();
  }

  /** Keeps the transport's address book equal to the membership (plus join hints). */
  #syncPeers(): void {
    const transport = this.#transport;
    if (transport === undefined) return;
    const next: Record<string, string> = {};
    for (const [id, address] of this.#hints) next[id] = address;
    const members = this.#raft?.status().members;
    for (const [id, address] of Object.entries(members?.addresses ?? {})) next[id] = address;
    delete next[this.nodeId];
    const keys = Object.keys(next);
    const same =
      keys.length === Object.keys(this.#peers).length &&
      keys.every((k) => this.#peers[k] === next[k]);
    if (same) return;
    this.#peers = next;
    transport.setPeers(next);
    this.#log.debug({ peers: next }, "raft peers updated");
  }

  /**
   * Starts Raft: a bootstrapping server becomes the only voter (with `advertise` as its
   * address) and elects itself; a joining server asks to be added as a learner, catches up and
   * asks to be promoted; a resuming server continues from its log. Resolves when that is done
   * (a resuming server does not wait for a leader).
   */
  async start(advertise: string): Promise<void> {
    const transport = this.#transport;
    const identity = this.#identity;
    if (transport === undefined || identity === undefined) {
      throw new IpamdError("INTERNAL", "raft: prepare() first");
    }
    if (this.#stopped) throw new IpamdError("SHUTTING_DOWN", "stopped before start");
    this.#advertise = advertise;
    if (this.#mode === "bootstrap") {
      this.#writeIdentity({
        ...identity,
        bootstrap: { voters: [this.nodeId], learners: [], addresses: { [this.nodeId]: advertise } },
      });
    } else if (this.#mode === "restore") {
      const restored = toSingleVoterGroup(this.#storage, this.nodeId, advertise);
      this.#writeIdentity(identity);
      this.#log.warn(
        { clusterId: this.clusterId, ...restored },
        `restored from a backup as a NEW cluster ${this.clusterId} with ${this.nodeId} as its only voter; ` +
          "join the other servers with empty data dirs (--join)",
      );
    } else if (this.#mode === "join") {
      this.#writeIdentity(identity);
    }
    const bootstrap = this.#identity?.bootstrap;
    const wrapped: Transport = {
      send: (to: string, messages: readonly Message[]) => {
        if (this.#peers[to] === undefined) this.#syncPeers();
        transport.send(to, messages);
      },
      onReceive: (handler) => transport.onReceive(handler),
      close: () => transport.close(),
    };
    const log = this.#options.logger.child({ component: "raft" });
    const initial = this.#storage.initialState().hardState;
    this.#writeWatermark({ term: initial.term, vote: initial.vote });
    // Every new term or vote is known outside ipamd.db before the messages that depend on it leave.
    const storage = onTermOrVote(this.#storage, (hs) =>
      this.#writeWatermark({ term: hs.term, vote: hs.vote }),
    );
    this.#raft = this.#replica.start({
      id: this.nodeId,
      storage,
      transport: wrapped,
      ...(bootstrap === undefined ? {} : { bootstrap }),
      tickMs: TICK_MS,
      ...(this.#options.snapshotEntries === undefined
        ? {}
        : {
            snapshotThreshold: this.#options.snapshotEntries,
            snapshotTrailingEntries: Math.min(1000, Math.floor(this.#options.snapshotEntries / 2)),
          }),
      electionTicks: Math.max(2, Math.round(this.#options.electionMs / TICK_MS)),
      logger: this.#options.logger,
      hooks: {
        ...this.#options.hooks,
        onFatal: (error) => {
          log.fatal({ err: error }, "raft failed (storage or state machine); restart this server");
          this.#options.hooks?.onFatal?.(error);
        },
        onLeaderChange: (leader, term) => {
          log.info({ leader, term }, `leader is ${leader ?? "unknown"} (term ${term})`);
          this.#options.hooks?.onLeaderChange?.(leader, term);
        },
      },
    });
    this.#guard = new MembershipGuard({
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      status: () => this.raft.status(),
      onRemoved: (why) => this.#enterRemoved(why),
      onStaleRefusal: (refusal, ownIndex) =>
        this.#log.debug({ refusal, ownIndex }, "stale not-a-member refusal ignored"),
    });
    const removedBefore = this.#watermark?.removed;
    if (removedBefore !== undefined) {
      this.#enterRemoved(removedBefore.why);
      return;
    }
    this.#syncPeers();
    this.#peerTimer = setInterval(() => this.#watch(), 250);
    this.#peerTimer.unref();
    const st = this.#raft.status();
    if (st.members.voters.length === 1 && st.members.voters[0] === this.nodeId) {
      // A group of one need not wait an election timeout.
      this.#raft.campaign();
    }
    if (this.#mode === "bootstrap" || this.#mode === "restore") {
      await this.#waitFor("this server to lead the new group", 10_000, () =>
        this.isLeader() ? true : undefined,
      );
      this.#log.info({ clusterId: this.clusterId, advertise }, "bootstrapped a new Raft group");
    } else if (this.#mode === "join") {
      await this.#join();
    } else {
      this.#log.info(
        { clusterId: this.clusterId, members: st.members, applied: st.applied },
        "resumed from the data dir",
      );
      if (st.members.learners.includes(this.nodeId) && this.#options.join.length > 0) {
        // Crashed between AddLearner and the promotion: finish the join in the background.
        void this.#promote().catch((err: unknown) =>
          this.#log.warn({ err }, "promotion after restart failed; ask an operator to AddVoter"),
        );
      }
    }
  }

  /** Periodic: peers, membership, apply lag, watermark. */
  #watch(): void {
    if (this.#stopped || this.#removed !== undefined || this.#raft === undefined) return;
    this.#syncPeers();
    this.#guard?.watch();
    const st = this.#raft.status();
    const now = Date.now();
    this.#lag.observe(now, st.applied, st.leaderCommit);
    const wm = this.#watermark;
    if (
      wm !== undefined &&
      st.applied > wm.applied &&
      now - this.#watermarkAt >= WATERMARK_EVERY_MS
    ) {
      this.#writeWatermark({ applied: st.applied });
    }
  }

  /**
   * This server learnt it is not a member any more: it stops taking part (no campaigns, no
   * votes), says so once at error level, remembers it in the watermark (a restart idles at
   * once) and reports it ({@link notReadyReason}, GetStatus, `ipamd_raft_removed`). The process
   * keeps serving status until it is stopped.
   */
  #enterRemoved(why: string): void {
    if (this.#removed !== undefined) return;
    this.#removed = why;
    clearInterval(this.#peerTimer);
    const applied = this.#raft?.status().applied ?? 0;
    this.#writeWatermark({
      applied,
      removed: this.#watermark?.removed ?? { why, at: new Date().toISOString() },
    });
    this.#log.error(
      { clusterId: this.clusterId, why },
      `removed from cluster ${this.clusterId} (${why}); this server no longer takes part. ` +
        "To return: stop it, wipe --data-dir and start it with --join <servers>",
    );
    // Not from inside the transport callback that told us.
    setImmediate(() => {
      void this.#raft
        ?.stop()
        .catch((err: unknown) => this.#log.warn({ err }, "stopping raft after the removal failed"));
    });
  }

  /** Why this server was removed from the membership, once it learnt it; else undefined. */
  get removed(): string | undefined {
    return this.#removed;
  }

  /**
   * Undefined when this server is ready (knows a leader and keeps up with it); else why not:
   * removed from the cluster, no leader known, or a commit index the leader announced has not
   * been applied here within the bound (a server that does not catch up must not answer as if
   * it did).
   */
  notReadyReason(): string | undefined {
    if (this.#removed !== undefined) {
      return `removed from cluster ${this.clusterId} (${this.#removed}); to return: wipe --data-dir and --join`;
    }
    if (this.leader() === undefined) return "no Raft leader known";
    const lag = this.#lag.lagging(Date.now());
    if (lag !== undefined) {
      return (
        `applied index ${lag.applied} has not reached the leader's commit index ${lag.target} ` +
        `for ${(lag.forMs / 1000).toFixed(1)} s (bound ${this.#lag.boundMs / 1000} s): this ` +
        `server is not catching up; see ${RESTORE_DOC}`
      );
    }
    return undefined;
  }

  async #waitFor<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      if (this.#stopped) throw new IpamdError("SHUTTING_DOWN", `stopped while waiting for ${what}`);
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > until)
        throw new IpamdError("TIMEOUT", `raft: timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  /** AddLearner(self) through the join servers, wait until caught up, then ask for promotion. */
  async #join(): Promise<void> {
    const until = this.#joiner.deadline();
    const target = await this.#joiner.addLearner(this.#advertise, until);
    this.#log.info({ raftIndex: target }, "join: added as learner, catching up");
    await this.#waitFor("the learner to catch up", Math.max(1000, until - Date.now()), () =>
      this.raft.status().applied >= target ? true : undefined,
    );
    await this.#promote(until);
    // From now on the membership names every peer; the join server's hint is not needed.
    this.#hints.clear();
    this.#syncPeers();
    this.#log.info({ clusterId: this.clusterId }, "joined the Raft group as a voter");
  }

  /** Asks the leader (through the join servers) to promote this learner. */
  #promote(until?: number): Promise<void> {
    return this.#joiner.promote(
      this.#advertise,
      () => this.raft.status().members.voters.includes(this.nodeId),
      until,
    );
  }

  status(): RaftNodeStatus {
    return this.raft.status();
  }

  isLeader(): boolean {
    return (
      this.#raft !== undefined &&
      this.#removed === undefined &&
      this.#raft.status().role === "leader"
    );
  }

  /** The leader as this server knows it (id and advertise address), or undefined. */
  leader(): { readonly id: string; readonly address: string } | undefined {
    if (this.#raft === undefined || this.#removed !== undefined) return undefined;
    const st = this.#raft.status();
    if (st.leader === null) return undefined;
    const address =
      st.leader === this.nodeId
        ? this.#advertise
        : (st.leaderAddress ?? this.#hints.get(st.leader));
    return { id: st.leader, address: address ?? "" };
  }

  /** Writes can commit when a leader is known (a follower forwards them there). */
  override available(): boolean {
    return this.leader() !== undefined;
  }

  /**
   * Stops Raft (a leader first hands leadership over when `transferLeadership`) and flushes
   * storage; the caller closes the store afterwards.
   */
  async stop(options: { readonly transferLeadership?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#peerTimer);
    if (this.#raft !== undefined) {
      // A group of one has nobody to hand over to.
      const others = this.#raft.status().members.voters.some((v) => v !== this.nodeId);
      await this.#raft.stop({ transferLeadership: options.transferLeadership === true && others });
    } else {
      await this.#transport?.close();
    }
    this.#storage.flush();
    if (this.#raft !== undefined && this.#watermark !== undefined) {
      this.#writeWatermark({ applied: this.#raft.status().applied });
    }
  }
}
