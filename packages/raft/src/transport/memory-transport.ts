import { decodeMessages, encodeMessages } from "../codec/message-codec.js";
import { RaftError } from "../core/raft-error.js";
import type { Message, NodeId, RandomSource, Transport } from "../types.js";

/** Options of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /**
   * Pass every batch through the binary codec (`encodeMessages` → `decodeMessages`), as a
   * network transport would. Default false (messages are delivered by reference).
   */
  readonly codec?: boolean;
  /**
   * Schedules a delivery. Default `setImmediate`: a batch is delivered on a later turn of the
   * event loop, never synchronously inside `send`.
   */
  readonly schedule?: (deliver: () => void) => void;
  /** Randomness for {@link MemoryNetwork.setDropRate} (default `Math.random`). */
  readonly random?: RandomSource;
}

/** Counters of a {@link MemoryNetwork} since it was created. */
export interface MemoryNetworkStats {
  /** Batches handed to a receiver. */
  readonly delivered: number;
  /** Batches dropped (partition, drop rate, unknown or closed receiver). */
  readonly dropped: number;
  /** Messages handed to receivers. */
  readonly messages: number;
}

/**
 * An in-process network of {@link MemoryTransport}s, with fault controls for tests: one-way
 * and two-way link cuts, node isolation, and a random drop rate. Delivery is asynchronous and
 * ordered per (sender, receiver) pair unless batches are dropped.
 */
export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  /** Blocked directed links, as `from\u0000to`. */
  private readonly blocked = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  private dropRate = 0;
  private readonly codec: boolean;
  private readonly schedule: (deliver: () => void) => void;
  private readonly random: RandomSource;
  private counters = { delivered: 0, dropped: 0, messages: 0 };

  constructor(options: MemoryNetworkOptions = {}) {
    this.codec = options.codec ?? false;
    this.schedule = options.schedule ?? ((fn) => setImmediate(fn));
    this.random = options.random ?? Math.random;
  }

  /**
   * The transport of node `id` (created on first call; the same object afterwards, until it is
   * closed — a closed node gets a fresh transport, as after a restart).
   */
  transport(id: NodeId): MemoryTransport {
    let t = this.nodes.get(id);
    if (t === undefined || t.closed) {
      t = new MemoryTransport(this, id);
      this.nodes.set(id, t);
    }
    return t;
  }

  /** Cut the link(s) between `a` and `b`; one-way (`a` → `b` only) when `oneWay` is true. */
  cut(a: NodeId, b: NodeId, oneWay = false): void {
    this.blocked.add(`${a}\u0000${b}`);
    if (!oneWay) this.blocked.add(`${b}\u0000${a}`);
  }

  /** Split the nodes into groups that cannot talk to each other (nodes not listed are unaffected). */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.cut(a, b, true);
      }
    }
  }

  /** Drop everything to and from `id`. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Drop each batch with probability `rate` (0 ≤ rate ≤ 1). */
  setDropRate(rate: number): void {
    if (!(rate >= 0 && rate <= 1)) {
      throw new RaftError("INVALID_ARGUMENT", `rate: ${rate} is not in [0, 1]`, {
        details: { field: "rate" },
      });
    }
    this.dropRate = rate;
  }

  /** Restore every link, un-isolate every node and stop random drops. */
  heal(): void {
    this.blocked.clear();
    this.isolated.clear();
    this.dropRate = 0;
  }

  stats(): MemoryNetworkStats {
    return { ...this.counters };
  }

  private linkUp(from: NodeId, to: NodeId): boolean {
    return (
      !this.isolated.has(from) && !this.isolated.has(to) && !this.blocked.has(`${from}\u0000${to}`)
    );
  }

  /** @internal Called by {@link MemoryTransport.send}. */
  route(from: NodeId, to: NodeId, messages: readonly Message[]): void {
    if (!this.linkUp(from, to) || (this.dropRate > 0 && this.random() < this.dropRate)) {
      this.counters.dropped++;
      return;
    }
    const payload: readonly Message[] | Uint8Array = this.codec
      ? encodeMessages(messages)
      : messages;
    this.schedule(() => {
      const target = this.nodes.get(to);
      // Links are checked again at delivery: a partition made meanwhile drops in-flight batches.
      if (target === undefined || target.closed || !this.linkUp(from, to)) {
        this.counters.dropped++;
        return;
      }
      const batch = payload instanceof Uint8Array ? decodeMessages(payload) : payload;
      if (target.deliver(batch)) {
        this.counters.delivered++;
        this.counters.messages += batch.length;
      } else {
        this.counters.dropped++;
      }
    });
  }
}

/**
 * A {@link Transport} on a {@link MemoryNetwork}. Obtain it with `network.transport(id)`.
 * `send` never throws and never delivers synchronously. The receive handler must not throw
 * (an exception surfaces as an uncaught error of the delivery turn).
 */
export class MemoryTransport implements Transport {
  private handler: ((messages: readonly Message[]) => void) | undefined = undefined;
  private isClosed = false;

  /** @internal Use `MemoryNetwork.transport(id)`. */
  constructor(
    private readonly network: MemoryNetwork,
    readonly id: NodeId,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  send(to: NodeId, messages: readonly Message[]): void {
    if (this.isClosed || messages.length === 0) return;
    this.network.route(this.id, to, messages);
  }

  onReceive(handler: (messages: readonly Message[]) => void): void {
    this.handler = handler;
  }

  /** @internal Returns false when nobody listens. */
  deliver(messages: readonly Message[]): boolean {
    if (this.isClosed || this.handler === undefined) return false;
    this.handler(messages);
    return true;
  }

  async close(): Promise<void> {
    this.isClosed = true;
    this.handler = undefined;
  }
}
