import { createSeededRandom } from "../core/random.js";
import { MemoryStorage } from "../storage/memory-storage.js";
import { encodeKvPut, KvStateMachine } from "../testing/kv-state-machine.js";
import { MemoryNetwork } from "../transport/memory-transport.js";
import type { ConfState, NodeId, Storage } from "../types.js";
import { createRaftNode, type RaftNode } from "./raft-node.js";
import type { RaftNodeOptions } from "./raft-node-options.js";
import { VirtualTime } from "./virtual-time.js";

/**
 * Test support (not exported): N RaftNodes over a MemoryNetwork on one {@link VirtualTime}
 * (pump running from construction to `stopAll()`), with helpers that wait for a condition
 * until a virtual deadline. Batches take {@link NETWORK_LATENCY_MS} virtual ms to arrive.
 * Every node draws from a seeded random source and so does the network's drop rate: a run
 * is the same whatever the load of the machine.
 */
export interface ClusterMember {
  readonly id: NodeId;
  node: RaftNode<string | undefined>;
  sm: KvStateMachine;
  storage: Storage;
}

export type MemberOptions = Partial<
  Omit<RaftNodeOptions<string | undefined>, "id" | "storage" | "transport">
>;

/** Virtual milliseconds a batch spends on the MemoryNetwork of a {@link DriverCluster}. */
export const NETWORK_LATENCY_MS = 1;

export class DriverCluster {
  readonly time = new VirtualTime();
  readonly network: MemoryNetwork;
  readonly members = new Map<NodeId, ClusterMember>();
  private seed = 7;

  constructor(
    readonly options: MemberOptions = {},
    networkCodec = true,
  ) {
    this.network = new MemoryNetwork({
      codec: networkCodec,
      schedule: this.time.latency(NETWORK_LATENCY_MS),
      random: createSeededRandom(1),
    });
    this.time.start();
  }

  /** Start (or restart) `id` on `storage`; the state machine is always a fresh one. */
  start(
    id: NodeId,
    storage: Storage = new MemoryStorage(),
    bootstrap?: ConfState,
    extra: MemberOptions = {},
  ): ClusterMember {
    const sm = new KvStateMachine();
    const node = createRaftNode<string | undefined>({
      id,
      storage,
      stateMachine: sm,
      transport: this.network.transport(id),
      random: createSeededRandom(this.seed++),
      clock: this.time.clock,
      schedule: this.time.schedule,
      tickMs: 10,
      electionTicks: 10,
      ...(bootstrap === undefined ? {} : { bootstrap }),
      ...this.options,
      ...extra,
    });
    const m = { id, node, sm, storage };
    this.members.set(id, m);
    return m;
  }

  static async create(
    ids: readonly NodeId[],
    options: MemberOptions = {},
    storages: Readonly<Record<NodeId, Storage>> = {},
    perNode: (id: NodeId) => MemberOptions = () => ({}),
  ): Promise<DriverCluster> {
    const c = new DriverCluster(options);
    const bootstrap = { voters: [...ids].sort(), learners: [] };
    for (const id of ids) {
      c.start(id, storages[id] ?? new MemoryStorage(), bootstrap, perNode(id));
    }
    return c;
  }

  get(id: NodeId): ClusterMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  running(): ClusterMember[] {
    return [...this.members.values()].filter((m) => m.node.status().state === "running");
  }

  /** Resolves once `condition` holds; throws naming `what` after `timeoutMs` virtual ms. */
  waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.time.waitFor(condition, timeoutMs, what);
  }

  /** The single leader that every running member agrees on, once there is one (virtual ms). */
  async leader(timeoutMs = 5000): Promise<ClusterMember> {
    let found: ClusterMember | undefined;
    await this.time.waitFor(
      () => {
        const live = this.running();
        const leaders = live.filter((m) => m.node.status().role === "leader");
        if (leaders.length !== 1) return false;
        const l = leaders[0]!;
        const term = l.node.status().term;
        found = l;
        return live.every((m) => m.node.status().leader === l.id && m.node.status().term === term);
      },
      timeoutMs,
      "a single agreed leader",
    );
    return found!;
  }

  /** Stop every node, then the pump. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.node.stop()));
    await this.time.stop();
  }
}

export function put(key: string, value: string): Uint8Array {
  return encodeKvPut({ key, value });
}
