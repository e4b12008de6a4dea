import {
  emptyTopology,
  type Node,
  nodePath,
  registerNode,
  removeNode,
  type Topology,
} from "@ipam/topology";
import { byString, fail, requireString } from "./command-args.js";
import type { RegisterNodeCommand } from "./commands.js";
import type { UndoJournal } from "./undo-journal.js";

/**
 * The registry of the cluster state: the current {@link Topology} value, which holds the
 * Zone → Pod → TOR tree, every subnet by scope, and the registered nodes (from the config or
 * registered at run time). It is the one source of truth for "which subnets may this node
 * use". Holdings (blocks, direct addresses) live in their own modules and are freed by the
 * commands that remove a node (see topology-changes.ts).
 *
 * The topology value is immutable; every change replaces it, recorded in the journal.
 */
export class Registry {
  readonly #journal: UndoJournal;
  #topology: Topology = emptyTopology();
  /**
   * Nodes removed while they still held something (deregister-node `revoke`), with the `at`
   * of that command: they stay in the topology, cannot lease, allocate or register again, and
   * are removed once they hold nothing (lifecycle.ts).
   */
  readonly #deregistering = new Map<string, number>();

  constructor(journal: UndoJournal) {
    this.#journal = journal;
  }

  /** The current topology (immutable). */
  get topology(): Topology {
    return this.#topology;
  }

  /** Replaces the topology with `next` (recorded); nodes it drops stop being `deregistering`. */
  replace(next: Topology): void {
    const prev = this.#topology;
    this.#topology = next;
    this.#journal.record(() => {
      this.#topology = prev;
    });
    for (const id of [...this.#deregistering.keys()])
      if (!next.nodes.has(id)) this.#journal.delete(this.#deregistering, id);
  }

  /** The node `id` names. @throws PoolError `INVALID_ARGUMENT` (not a string), `NOT_FOUND`. */
  requireNode(id: unknown, path: string): Node {
    const node = this.#topology.nodes.get(requireString(id, path));
    if (node === undefined)
      fail("NOT_FOUND", `${path}: node ${String(id)} is not registered`, { node: id });
    return node;
  }

  /**
   * The node `id` names, when it may take something new (lease, allocate).
   * @throws PoolError `INVALID_ARGUMENT`, `NOT_FOUND` as {@link requireNode}, `CONFLICT` for a
   * `deregistering` node.
   */
  requireActiveNode(id: unknown, path: string): Node {
    const node = this.requireNode(id, path);
    const since = this.#deregistering.get(node.id);
    if (since !== undefined) {
      fail(
        "CONFLICT",
        `${path}: node ${node.id} is being deregistered; it returns what it holds and takes nothing new`,
        { node: node.id, state: "deregistering", since },
      );
    }
    return node;
  }

  /** True when `id` is a registered node. */
  has(id: string): boolean {
    return this.#topology.nodes.has(id);
  }

  /** When a `deregistering` node was deregistered (ms), or undefined. */
  deregisteringSince(id: string): number | undefined {
    return this.#deregistering.get(id);
  }

  /** Marks a registered node `deregistering` from `at` (recorded). */
  markDeregistering(id: string, at: number): void {
    this.#journal.set(this.#deregistering, id, at);
  }

  /** Every `deregistering` node with its time, sorted by id (a fresh array). */
  deregisteringNodes(): [string, number][] {
    return [...this.#deregistering.entries()].sort((a, b) => byString(a[0], b[0]));
  }

  /** The register-node command: adds a node under a TOR, or updates its name and labels. */
  register(c: RegisterNodeCommand): Node {
    const id = requireString(c.node, "register-node.node");
    const tor = requireString(c.tor, "register-node.tor");
    const since = this.#deregistering.get(id);
    if (since !== undefined) {
      fail(
        "CONFLICT",
        `register-node.node: node ${id} is being deregistered; it can register again once it has returned what it holds (or is declared dead)`,
        { node: id, state: "deregistering", since },
      );
    }
    const next = registerNode(this.#topology, {
      id,
      tor,
      ...(c.name === undefined ? {} : { name: c.name }),
      ...(c.labels === undefined ? {} : { labels: c.labels }),
    });
    this.replace(next);
    return next.nodes.get(id) as Node;
  }

  /** Removes a registered node from the topology (its holdings are the caller's to free). */
  remove(id: string): void {
    this.replace(removeNode(this.#topology, id));
  }

  /** Every registered node, sorted by id (a fresh array). */
  nodes(): Node[] {
    return [...this.#topology.nodes.values()].sort((a, b) => byString(a.id, b.id));
  }

  /** The node's path, `zone/pod/tor/node`. The caller checks that the node exists. */
  pathOf(id: string): string {
    return nodePath(this.#topology, id).text;
  }
}
