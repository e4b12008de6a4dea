import { randomUUID } from "node:crypto";
import {
  type CallOptions,
  type ClientTlsOptions,
  type ClusterClient,
  createClusterClient,
  type AllocatedAddress as WireAddress,
  type Block as WireBlock,
  Family as WireFamily,
} from "@ipam/grpc-server";
import type {
  AllocateDirectCommand,
  BlockLease,
  ClusterCommand,
  CommandResult,
  DirectAllocateValue,
  DirectAllocation,
  ResultOf,
} from "@ipam/subnet-pool";
import { type Family, parseTopology, type Subnet, type Topology } from "@ipam/topology";
import type { Logger } from "pino";
import { IpamdError } from "../ipamd-error.js";
import type { ClusterApi } from "./cluster-api.js";
import { toIpamdCode } from "./cluster-errors.js";
import { pathSubnets } from "./path-subnets.js";

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
}

/** Codes after which another server (or the same one, later) may answer. */
const RETRIABLE: ReadonlySet<string> = new Set([
  "UNAVAILABLE",
  "TIMEOUT",
  "NOT_LEADER",
  "SHUTTING_DOWN",
  "CANCELLED",
]);

function familyOf(wire: WireFamily, address: string): Family {
  if (wire === WireFamily.IPV4) return 4;
  if (wire === WireFamily.IPV6) return 6;
  return address.includes(":") ? 6 : 4;
}

function wireFamily(family: Family | undefined): WireFamily {
  return family === 4 ? WireFamily.IPV4 : family === 6 ? WireFamily.IPV6 : WireFamily.UNSPECIFIED;
}

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
    };
  }

  async nodeLeases(node: string): Promise<BlockLease[]> {
    const r = await this.#call("GetNodeLeases", (c, o) => c.getNodeLeases({ nodeId: node }, o));
    const out: BlockLease[] = [];
    for (const b of r.blocks) out.push(await this.#lease(b));
    return out;
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

  /** The subnets on the node's path, from a fresh topology read. */
  async nodeSubnets(node: string): Promise<Subnet[]> {
    return pathSubnets(await this.topology(true), node);
  }

  async execute<C extends ClusterCommand>(command: C): Promise<ResultOf<C> & { ok: true }> {
    const value = await this.#run(command);
    return { ok: true, value } as unknown as ResultOf<C> & { ok: true };
  }

  async #run(command: ClusterCommand): Promise<unknown> {
    switch (command.type) {
      case "register-node": {
        await this.#call("RegisterNode", (c, o) =>
          c.registerNode(
            { nodeId: command.node, torId: command.tor, labels: { ...(command.labels ?? {}) } },
            o,
          ),
        );
        return {
          id: command.node,
          name: command.name ?? command.node,
          tor: command.tor,
          labels: command.labels ?? {},
        };
      }
      case "lease-block": {
        const requestId = randomUUID();
        const r = await this.#call("LeaseBlock", (c, o) =>
          c.leaseBlock(
            {
              nodeId: command.node,
              purpose: command.purpose ?? "",
              family: wireFamily(command.family),
              subnetId: command.subnet ?? "",
              requestId,
            },
            o,
          ),
        );
        if (r.block === undefined) throw new IpamdError("INTERNAL", "LeaseBlock: no block");
        return this.#lease(r.block);
      }
      case "release-block": {
        await this.#call("ReleaseBlock", (c, o) =>
          c.releaseBlock({ nodeId: command.node, cidr: command.cidr }, o),
        );
        return { node: command.node, cidr: command.cidr };
      }
      case "allocate-direct": {
        const [one] = await this.#allocateDirect([command]);
        if (one === undefined || !one.ok) {
          throw new IpamdError(
            toIpamdCode(one?.ok === false ? one.error.code : "INTERNAL"),
            one?.ok === false ? one.error.message : "AllocateDirect: no result",
          );
        }
        return one.value;
      }
      case "release-direct": {
        const [one] = await this.#releaseDirect([command.key]);
        return one ?? [];
      }
      case "batch": {
        const cmds = command.commands;
        if (cmds.every((c) => c.type === "allocate-direct")) {
          return this.#allocateDirect(cmds as AllocateDirectCommand[]);
        }
        if (cmds.every((c) => c.type === "release-direct")) {
          const released = await this.#releaseDirect(
            cmds.map((c) => (c as { key: DirectAllocation["key"] }).key),
          );
          return released.map((value) => ({ ok: true, value }));
        }
        throw new IpamdError(
          "INVALID_ARGUMENT",
          "batch.commands: an agent batches only allocate-direct or only release-direct",
        );
      }
      default:
        throw new IpamdError(
          "INVALID_ARGUMENT",
          `command ${command.type}: not available to agents (use the Cluster API)`,
        );
    }
  }

  async #allocateDirect(commands: readonly AllocateDirectCommand[]): Promise<CommandResult[]> {
    const r = await this.#call("AllocateDirect", (c, o) =>
      c.allocateDirect(
        {
          items: commands.map((cmd) => ({
            network: cmd.key.network,
            containerId: cmd.key.containerId,
            ifname: cmd.key.ifname,
            nodeId: cmd.node,
            purpose: cmd.purpose,
            family: wireFamily(cmd.family),
            requestedAddress: cmd.address ?? "",
          })),
        },
        o,
      ),
    );
    return commands.map((cmd, i): CommandResult => {
      const res = r.results[i]?.result;
      if (res?.case === "address") {
        const value: DirectAllocateValue = {
          ...directOf(res.value, cmd.key, cmd.node),
          allocatedAt: cmd.at,
          existing: false,
        };
        return { ok: true, value };
      }
      return {
        ok: false,
        error: {
          code: (res?.case === "error" ? res.value.code : "INTERNAL") as never,
          message: res?.case === "error" ? res.value.message : "AllocateDirect: missing result",
          details: {},
        },
      };
    });
  }

  async #releaseDirect(keys: readonly DirectAllocation["key"][]): Promise<DirectAllocation[][]> {
    const r = await this.#call("ReleaseDirect", (c, o) =>
      c.releaseDirect({ keys: keys.map((k) => ({ ...k })) }, o),
    );
    return keys.map((key, i) =>
      (r.results[i]?.addresses ?? []).map((address) =>
        directOf({ address } as WireAddress, key, ""),
      ),
    );
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

/**
 * A DirectAllocation from its wire address. Remote releases only tell the address: the other
 * fields are then empty.
 */
function directOf(
  a: WireAddress | undefined,
  key: DirectAllocation["key"],
  node: string,
): DirectAllocation {
  const address = a?.address ?? "";
  return {
    key,
    family: familyOf(a?.family ?? WireFamily.UNSPECIFIED, address),
    node,
    purpose: a?.purpose ?? "",
    subnet: a?.subnetId ?? "",
    address,
    prefixLength: a?.prefixLength ?? 0,
    gateway: a === undefined || a.gateway === "" ? null : a.gateway,
    allocatedAt: 0,
  };
}
