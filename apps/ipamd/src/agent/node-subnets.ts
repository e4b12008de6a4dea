import type { BlockLease } from "@ipam/subnet-pool";
import { type Family, isDirectMode, type Subnet } from "@ipam/topology";
import type { Logger } from "pino";
import { allocationMode } from "./allocation-mode.js";
import type { AgentStore } from "./stored-records.js";

/** Store meta key holding the node's path subnets (JSON Subnet[]), for a start without the cluster. */
export const SUBNETS_META = "agent.node-subnets";

/**
 * The subnets on this node's path as the node last heard them (from the cluster, or from the
 * store when it started without the cluster), kept in the store's meta so that a start without
 * the cluster knows them; and when they were last set.
 */
export class NodeSubnets {
  readonly #store: AgentStore;
  readonly #now: () => number;
  #subnets: Subnet[] = [];
  #setAt = 0;

  constructor(store: AgentStore, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  /** The known subnets, sorted by id. The array is shared: do not mutate. */
  list(): readonly Subnet[] {
    return this.#subnets;
  }

  /**
   * True when the subnets were last set `everyMs` or more ago; then counts them as set now, so
   * that a refresh that fails waits another period too.
   */
  due(now: number, everyMs: number): boolean {
    if (now - this.#setAt < everyMs) return false;
    this.#setAt = now;
    return true;
  }

  /** Replaces the known subnets (as the cluster lists them) and remembers them in the store. */
  set(subnets: readonly Subnet[]): void {
    this.#subnets = [...subnets];
    this.#setAt = this.#now();
    this.#store.setMeta(SUBNETS_META, JSON.stringify(this.#subnets));
  }

  /** Adds the subnet of a new lease when it is not known yet. */
  learn(subnet: Subnet): void {
    if (this.#subnets.some((s) => s.id === subnet.id)) return;
    const byId = new Map(this.#subnets.map((s) => [s.id, s]));
    byId.set(subnet.id, subnet);
    this.set([...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }

  /** How `purpose` addresses of `family` are allocated on this node (see {@link allocationMode}). */
  modeOf(purpose: string, family: Family): "block" | "direct" | "none" {
    return allocationMode(this.#subnets, purpose, family);
  }

  /** Ids of the direct-mode subnets. */
  directIds(): Set<string> {
    return new Set(this.#subnets.filter(isDirectMode).map((s) => s.id));
  }

  /** The known subnets by id (a new map). */
  byId(): Map<string, Subnet> {
    return new Map(this.#subnets.map((s) => [s.id, s]));
  }

  /**
   * Loads the subnets the store remembers and returns the leases of the blocks it holds (with
   * those subnet definitions); a block of a subnet it does not know is logged and skipped.
   */
  restore(node: string, log: Logger): BlockLease[] {
    const text = this.#store.getMeta(SUBNETS_META);
    this.#subnets = text === undefined ? [] : (JSON.parse(text) as Subnet[]);
    const byId = this.byId();
    const out: BlockLease[] = [];
    for (const b of this.#store.listLeasedBlocks()) {
      const subnet = byId.get(b.subnet);
      if (subnet === undefined) {
        log.warn({ block: b.cidr, subnet: b.subnet }, "stored block of an unknown subnet");
        continue;
      }
      out.push({ node, cidr: b.cidr, leasedAt: b.leasedAt, subnet });
    }
    return out;
  }
}
