import { createSeededRandom } from "../src/core/random.js";
import { RawNode } from "../src/core/raw-node.js";
import { MemoryLog } from "../src/testing/memory-log.js";
import type {
  ConfState,
  Entry,
  EntryType,
  Message,
  NodeId,
  RawNodeOptions,
  ReadState,
} from "../src/types.js";

/** One node of a hand-driven test cluster. */
export interface TestNode {
  readonly id: NodeId;
  readonly storage: MemoryLog;
  raw: RawNode;
  /** Every committed entry handed to the application, in order. */
  readonly applied: Entry[];
  readonly readStates: ReadState[];
}

export type TestOptions = Partial<Omit<RawNodeOptions, "id" | "storage" | "random">>;

/** Build entries with the given terms, starting at `from` (data encodes index and term). */
export function entriesWithTerms(
  terms: readonly number[],
  from = 1,
  type: EntryType = "normal",
): Entry[] {
  return terms.map((term, i) => ({
    index: from + i,
    term,
    type,
    data: new TextEncoder().encode(`${from + i}/${term}`),
  }));
}

/**
 * A synchronous, hand-driven cluster for scenario tests: messages are queued and delivered only
 * when the test says so, optionally through a filter that drops some of them.
 */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  readonly sent: Message[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;
  private seed = 1;

  constructor(
    ids: readonly NodeId[],
    readonly options: TestOptions = {},
    setup?: (id: NodeId, storage: MemoryLog) => void,
  ) {
    const bootstrap: ConfState = { voters: [...ids].sort(), learners: [] };
    for (const id of ids) {
      const storage = new MemoryLog();
      setup?.(id, storage);
      this.nodes.set(id, {
        id,
        storage,
        raw: this.newRaw(id, storage, bootstrap),
        applied: [],
        readStates: [],
      });
    }
  }

  newRaw(id: NodeId, storage: MemoryLog, bootstrap?: ConfState): RawNode {
    return new RawNode({
      id,
      storage,
      random: createSeededRandom(this.seed++),
      ...this.options,
      ...(bootstrap === undefined ? {} : { bootstrap }),
    });
  }

  /** Add a fresh node that knows nothing (it joins through a membership change). */
  addBlankNode(id: NodeId): TestNode {
    const storage = new MemoryLog();
    const node: TestNode = {
      id,
      storage,
      raw: this.newRaw(id, storage),
      applied: [],
      readStates: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Handle every pending Ready of `id` the way a driver must (persist, send, apply, advance). */
  drive(id: NodeId): void {
    const n = this.node(id);
    while (n.raw.hasReady()) {
      const rd = n.raw.ready();
      if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) n.storage.append(rd.entries);
      if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
      for (const m of rd.messages) {
        this.sent.push(m);
        this.queue.push(m);
      }
      n.applied.push(...rd.committedEntries);
      n.readStates.push(...rd.readStates);
      n.raw.advance();
    }
  }

  driveAll(): void {
    for (const id of this.nodes.keys()) this.drive(id);
  }

  /** Deliver queued messages (and the ones they cause) until quiet or `maxRounds` rounds. */
  deliverAll(maxRounds = 100): void {
    this.driveAll();
    for (let round = 0; round < maxRounds && this.queue.length > 0; round++) {
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        const to = this.nodes.get(m.to);
        if (to === undefined || !this.filter(m)) continue;
        to.raw.step(m);
        this.drive(m.to);
      }
    }
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).raw.tick();
      this.drive(id);
    }
  }

  /** Tick every node once and deliver everything, `times` times. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.nodes.keys()) this.node(id).raw.tick();
      this.deliverAll();
    }
  }

  /** Make `id` campaign and deliver the election's messages. */
  elect(id: NodeId): void {
    this.node(id).raw.campaign();
    this.deliverAll();
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()]
      .filter((n) => n.raw.status().role === "leader")
      .map((n) => n.id);
  }

  /** Terms of the entries `id` holds from its first index to its last. */
  logTerms(id: NodeId): number[] {
    const s = this.node(id).storage;
    return s.entries(s.firstIndex(), s.lastIndex() + 1).map((e) => e.term);
  }

  /** Restart `id` from its storage (the in-memory state is lost, storage kept). */
  restart(id: NodeId, bootstrap?: ConfState): TestNode {
    const old = this.node(id);
    const n: TestNode = {
      id,
      storage: old.storage,
      raw: this.newRaw(id, old.storage, bootstrap),
      applied: [],
      readStates: [],
    };
    this.nodes.set(id, n);
    return n;
  }
}

/** Drop every message from or to `id`. */
export function isolate(id: NodeId): (m: Message) => boolean {
  return (m) => m.from !== id && m.to !== id;
}
