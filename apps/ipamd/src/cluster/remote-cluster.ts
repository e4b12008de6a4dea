import {
  type CallOptions,
  type ClientTlsOptions,
  type ClusterClient,
  createClusterClient,
  MAX_REPORTED_ADDRESSES,
  MAX_REPORTED_BLOCKS,
  StatsLevel,
  type Block as WireBlock,
  Family as WireFamily,
  type StickyBinding as WireStickyBinding,
} from "@ipam/grpc-server";
import type { AddressEvent } from "@ipam/store";
import type {
  BlockLease,
  ClusterCommand,
  DirectAllocation,
  ResultOf,
  StickyBinding,
  StickyKey,
} from "@ipam/subnet-pool";
import { type Family, parseTopology, type Subnet, type Topology } from "@ipam/topology";
import type { Logger } from "pino";
import { wireEvent } from "../history/history-wire.js";
import type { HistoryTarget } from "../history/journal-shipper.js";
import { IpamdError } from "../ipamd-error.js";
import type { ClusterApi } from "./cluster-api.js";
import { toIpamdCode } from "./cluster-errors.js";
import { blockState } from "./cluster-wire.js";
import type { NodeReport } from "./node-reports.js";
import { pathSubnets } from "./path-subnets.js";
import { capacityCandidates, capacityFromStats } from "./remote-capacity.js";
import { directOf, runRemoteCommand } from "./remote-commands.js";

export interface RemoteClusterOptions {
  /** Cluster API addresses (`host:port`) of the servers, tried in turn. At least one. */
  readonly servers: readonly string[];
  /** This node's id: the reachability probe reads its leases. */
  readonly nodeId: string;
  readonly logger: Logger;
  readonly tls?: ClientTlsOptions;
  /** One operation, every retry included, gives up after this many ms; default 10 000. */
  readonly deadlineMs?: number;
  /** One attempt on one server gives up after this many ms; default 3 000. */
  readonly attemptMs?: number;
  /** Pause after a full round of failed servers: first and cap, ms; defaults 50 and 1 000. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** How often the reachability probe runs, ms; default 2 000; 0 disables it. */
  readonly probeMs?: number;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** The servers' Raft election timeout, ms: channels reconnect at a pace fitted to it (default 1000). */
  readonly electionMs?: number;
}

/** Codes after which another server (or the same one, later) may answer. */
const RETRIABLE: ReadonlySet<string> = new Set([
  "UNAVAILABLE",
  "TIMEOUT",
  "NOT_LEADER",
  "SHUTTING_DOWN",
  "CANCELLED",
]);

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "INTERNAL";
}

/**
 * The cluster (L1) seen from an agent: {@link ClusterApi} over the Cluster gRPC API of the
 * servers in `--servers`.
 *
 * Each operation tries the current server; on UNAVAILABLE / TIMEOUT / SHUTTING_DOWN it moves to
 * the next one, on NOT_LEADER it goes to the leader the error names (else asks the servers'
 * GetLeader, else the next server), pausing with bounded, jittered backoff after each full
 * round, until `deadlineMs` has passed; then it fails with `UNAVAILABLE`. Every write it sends
 * is idempotent (LeaseBlock carries a request id, the rest are idempotent by key), so a retry
 * after a timeout is safe.
 *
 * {@link available} turns false when a call (or the periodic probe, a linearizable read of
 * this node's leases: it needs a quorum) has failed on every server in turn with an outage code,
 * and true again as soon as any server answers with anything else.
 */
export class RemoteCluster implements ClusterApi {
  readonly #addresses: string[];
  readonly #clients = new Map<string, ClusterClient>();
  readonly #options: RemoteClusterOptions;
  readonly #log: Logger;
  readonly #random: () => number;
  #current = 0;
  #available = false;
  #lastError: string | undefined;
  #topology: Topology | undefined;
  #probe: NodeJS.Timeout | undefined;
  #probing = false;
  #closed = false;
  /** Called when availability flips (tests, metrics, logs). */
  onAvailabilityChange: ((available: boolean, reason: string | undefined) => void) | undefined;

  constructor(options: RemoteClusterOptions) {
    if (options.servers.length === 0) {
      throw new IpamdError("INVALID_ARGUMENT", "--servers: at least one cluster server address");
    }
    this.#addresses = [...options.servers];
    this.#options = options;
    this.#log = options.logger.child({ component: "remote-cluster" });
    this.#random = options.random ?? Math.random;
  }

  /** Starts the reachability probe (stopped by {@link close}). */
  startProbe(): void {
    const every = this.#options.probeMs ?? 2000;
    if (every <= 0 || this.#probe !== undefined) return;
    this.#probe = setInterval(() => {
      if (this.#probing || this.#closed) return;
      this.#probing = true;
      this.#call("probe", (c, o) => c.getNodeLeases({ nodeId: this.#options.nodeId }, o), every)
        .catch(() => undefined)
        .finally(() => {
          this.#probing = false;
        });
    }, every);
    this.#probe.unref();
  }

  available(): boolean {
    return this.#available;
  }

  /** Why the cluster is unavailable (the last outage error), or undefined while available. */
  get unavailableReason(): string | undefined {
    return this.#available ? undefined : (this.#lastError ?? "not contacted yet");
  }

  /** The server calls currently go to first. */
  get currentServer(): string {
    return this.#addresses[this.#current % this.#addresses.length] as string;
  }

  #client(address: string): ClusterClient {
    let client = this.#clients.get(address);
    if (client === undefined) {
      client = createClusterClient({
        addresses: [address],
        maxAttempts: 1,
        ...(this.#options.electionMs === undefined ? {} : { electionMs: this.#options.electionMs }),
        ...(this.#options.tls === undefined ? {} : { tls: this.#options.tls }),
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  #setAvailable(up: boolean, reason: string | undefined): void {
    if (!up) this.#lastError = reason;
    if (up === this.#available) return;
    this.#available = up;
    if (up) this.#log.info({ server: this.currentServer }, "cluster reachable");
    else this.#log.warn({ reason }, "cluster unreachable: allocating from held blocks");
    this.onAvailabilityChange?.(up, reason);
  }

  /** Asks every server who leads; moves {@link currentServer} there when one knows. */
  async #findLeader(attemptMs: number): Promise<boolean> {
    const answers = await Promise.allSettled(
      this.#addresses.map((a) => this.#client(a).getLeader({}, { deadlineMs: attemptMs })),
    );
    for (const a of answers) {
      if (a.status === "fulfilled" && a.value.leaderAddress !== "") {
        this.#moveTo(a.value.leaderAddress);
        return true;
      }
    }
    return false;
  }

  #moveTo(address: string): void {
    let index = this.#addresses.indexOf(address);
    if (index < 0) index = this.#addresses.push(address) - 1;
    this.#current = index;
  }

  /**
   * Runs `fn` against the current server, retrying elsewhere as described on the class, within
   * `deadlineMs`. Rejects with the server's error (as IpamdError) for non-outage failures, with
   * `UNAVAILABLE` when the deadline passes.
   */
  async #call<T>(
    what: string,
    fn: (client: ClusterClient, options: CallOptions) => Promise<T>,
    deadlineMs = this.#options.deadlineMs ?? 10_000,
  ): Promise<T> {
    if (this.#closed) throw new IpamdError("SHUTTING_DOWN", `${what}: cluster client closed`);
    const until = Date.now() + deadlineMs;
    const attemptMs = this.#options.attemptMs ?? 3000;
    const initialMs = this.#options.backoff?.initialMs ?? 50;
    const maxMs = this.#options.backoff?.maxMs ?? 1000;
    let round = 0;
    let tried = 0;
    let askedLeader = false;
    for (;;) {
      const left = until - Date.now();
      const address = this.currentServer;
      let err: unknown;
      try {
        const value = await fn(this.#client(address), {
          deadlineMs: Math.max(1, Math.min(attemptMs, left)),
        });
        this.#setAvailable(true, undefined);
        return value;
      } catch (e) {
        err = e;
      }
      const code = codeOf(err);
      const message = (err as Error).message;
      if (!RETRIABLE.has(code)) {
        // A server answered: the cluster is up, the request itself failed.
        this.#setAvailable(true, undefined);
        throw new IpamdError(toIpamdCode(code), message, {
          cause: err,
          details: { ...((err as { details?: Record<string, unknown> }).details ?? {}) },
        });
      }
      tried++;
      const leader = (err as { details?: { leaderAddress?: unknown } }).details?.leaderAddress;
      if (code === "NOT_LEADER" && typeof leader === "string" && leader !== "" && tried <= 2) {
        this.#moveTo(leader);
      } else if (code === "NOT_LEADER" && !askedLeader) {
        askedLeader = true;
        if (!(await this.#findLeader(Math.min(attemptMs, 1000)))) {
          this.#current = (this.#current + 1) % this.#addresses.length;
        }
      } else {
        this.#current = (this.#current + 1) % this.#addresses.length;
      }
      if (tried >= this.#addresses.length) {
        // Every server failed once: only now is the cluster called unreachable.
        this.#setAvailable(false, `${address}: ${message}`);
        tried = 0;
        askedLeader = false;
        const delay = Math.min(maxMs, initialMs * 2 ** round) * (0.5 + this.#random() / 2);
        round++;
        if (Date.now() + delay >= until) {
          throw new IpamdError("UNAVAILABLE", `cluster unreachable (${what}): ${message}`, {
            cause: err,
          });
        }
        await new Promise<void>((resolve) => setTimeout(resolve, delay));
      } else if (Date.now() >= until) {
        this.#setAvailable(false, `${address}: ${message}`);
        throw new IpamdError("UNAVAILABLE", `cluster unreachable (${what}): ${message}`, {
          cause: err,
        });
      }
    }
  }

  /** The topology, from the cache unless `refresh` (then read linearizably from the cluster). */
  async topology(refresh = false): Promise<Topology> {
    if (this.#topology === undefined || refresh) {
      const r = await this.#call("GetTopology", (c, o) => c.getTopology({}, o));
      this.#topology = parseTopology(r.topologyJson, "json");
    }
    return this.#topology;
  }

  async #subnet(id: string): Promise<Subnet> {
    let subnet = (await this.topology()).subnets.get(id);
    if (subnet === undefined) subnet = (await this.topology(true)).subnets.get(id);
    if (subnet === undefined) {
      throw new IpamdError("INTERNAL", `cluster: block of unknown subnet ${id}`);
    }
    return subnet;
  }

  async #lease(block: WireBlock): Promise<BlockLease> {
    return {
      node: block.nodeId,
      cidr: block.cidr,
      leasedAt: Number(block.leasedAtUnixMs),
      subnet: await this.#subnet(block.subnetId),
      ...blockState(block),
    };
  }

  async nodeLeases(node: string): Promise<BlockLease[]> {
    const r = await this.#call("GetNodeLeases", (c, o) => c.getNodeLeases({ nodeId: node }, o));
    const out: BlockLease[] = [];
    for (const b of r.blocks) out.push(await this.#lease(b));
    return out;
  }

  /** The sticky binding of a StatefulSet pod name (StickyCluster, `--kubernetes` agents). */
  async stickyBinding(key: StickyKey): Promise<StickyBinding | undefined> {
    const r = await this.#call("GetStickyBinding", (c, o) => c.getStickyBinding({ ...key }, o));
    return r.binding === undefined ? undefined : stickyOf(r.binding);
  }

  /** `bind-sticky` through the leader (StickyCluster). */
  async bindSticky(
    key: StickyKey,
    bind: {
      readonly purpose: string;
      readonly addresses: readonly string[];
      readonly node: string;
      readonly podUid: string;
    },
  ): Promise<{ binding: StickyBinding; moved?: { addresses: readonly string[]; tor: string } }> {
    const r = await this.#call("BindSticky", (c, o) =>
      c.bindSticky(
        {
          ...key,
          purpose: bind.purpose,
          addresses: [...bind.addresses],
          nodeId: bind.node,
          podUid: bind.podUid,
        },
        o,
      ),
    );
    if (r.binding === undefined) throw new IpamdError("INTERNAL", "BindSticky: no binding");
    return {
      binding: stickyOf(r.binding),
      ...(r.movedFrom.length === 0
        ? {}
        : { moved: { addresses: r.movedFrom, tor: r.movedFromTorId } }),
    };
  }

  /** `release-sticky` through the leader (StickyCluster). */
  async releaseSticky(key: StickyKey, podUid: string, node: string): Promise<boolean> {
    const r = await this.#call("ReleaseSticky", (c, o) =>
      c.releaseSticky({ ...key, podUid, nodeId: node }, o),
    );
    return r.released;
  }

  /** The node's direct allocations held in L1. */
  async nodeDirect(node: string): Promise<DirectAllocation[]> {
    const r = await this.#call("GetNodeLeases", (c, o) => c.getNodeLeases({ nodeId: node }, o));
    return r.direct.map((d) =>
      directOf(
        d.address,
        {
          network: d.key?.network ?? "",
          containerId: d.key?.containerId ?? "",
          ifname: d.key?.ifname ?? "",
        },
        d.nodeId,
      ),
    );
  }

  /** Sends the report to every known server at once (each keeps its own copy); never rejects. */
  async reportNode(report: Omit<NodeReport, "reportedAt">): Promise<void> {
    if (this.#closed) return;
    const request = {
      nodeId: report.node,
      agentVersion: report.agentVersion,
      // Within the servers' request limits: counts stay exact, address lists may be cut.
      blocks: report.blocks
        .slice(0, MAX_REPORTED_BLOCKS)
        .map((b) => ({ ...b, addresses: b.addresses.slice(0, MAX_REPORTED_ADDRESSES) })),
    };
    const attemptMs = this.#options.attemptMs ?? 3000;
    const answers = await Promise.allSettled(
      this.#addresses.map((a) => this.#client(a).reportNode(request, { deadlineMs: attemptMs })),
    );
    const failed = answers.filter((a) => a.status === "rejected").length;
    if (failed > 0) this.#log.debug({ failed }, "node report not taken by every server");
  }

  /**
   * One address-history target per server in `--servers` (each keeps its own copy, so a query
   * answers from any of them): ReportAddressEvents on that server only, never redirected.
   */
  historyTargets(): HistoryTarget[] {
    const attemptMs = this.#options.attemptMs ?? 3000;
    return this.#addresses.map((address) => ({
      name: address,
      send: async (node: string, journal: string, events: readonly AddressEvent[]) => {
        if (this.#closed) throw new IpamdError("SHUTTING_DOWN", "the cluster client is closed");
        const answer = await this.#client(address).reportAddressEvents(
          { nodeId: node, journalId: journal, events: events.map(wireEvent) },
          { deadlineMs: attemptMs },
        );
        return Number(answer.storedThroughSeq);
      },
    }));
  }

  /** The subnets on the node's path, from a fresh topology read. */
  async nodeSubnets(node: string): Promise<Subnet[]> {
    return pathSubnets(await this.topology(true), node);
  }

  /**
   * See {@link ClusterApi.checkCapacity}: the cached topology (re-read once for a purpose it does
   * not know) and one stale GetStats per subnet of the purpose and family.
   */
  async checkCapacity(node: string, purpose: string, family: Family): Promise<void> {
    let topology = await this.topology();
    if (![...topology.subnets.values()].some((s) => s.purpose === purpose)) {
      topology = await this.topology(true);
    }
    const candidates = capacityCandidates(topology, node, purpose, family);
    const r = await this.#call("GetStats", (c, o) =>
      c.getStats(
        {
          level: StatsLevel.SUBNET,
          purpose,
          family: family === 4 ? WireFamily.IPV4 : WireFamily.IPV6,
          allowStale: true,
        },
        o,
      ),
    );
    capacityFromStats(
      node,
      candidates,
      r.entries.map((e) => ({
        id: e.id,
        free: e.counts?.free ?? "0",
        blocksLeased: e.blocksLeased,
      })),
    );
  }

  async execute<C extends ClusterCommand>(command: C): Promise<ResultOf<C> & { ok: true }> {
    const value = await runRemoteCommand(
      { call: (what, fn) => this.#call(what, fn), lease: (block) => this.#lease(block) },
      command,
    );
    return { ok: true, value } as unknown as ResultOf<C> & { ok: true };
  }

  /** Stops the probe and closes every connection. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#probe);
    this.#probe = undefined;
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}

/** A wire binding as the state's {@link StickyBinding}. */
function stickyOf(b: WireStickyBinding): StickyBinding {
  return {
    namespace: b.namespace,
    statefulSet: b.statefulSet,
    ordinal: b.ordinal,
    purpose: b.purpose,
    addresses: [...b.addresses],
    tor: b.torId,
    boundAt: Number(b.boundAtMs),
    ...(b.holderPodUid === "" ? {} : { holder: { node: b.holderNodeId, podUid: b.holderPodUid } }),
  };
}
