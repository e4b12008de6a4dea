import type { Ip } from "@ipam/bitmap";
import {
  type AllocationStrategy,
  type Family,
  purposeStrategy,
  type Subnet,
  type SubnetStrategy,
  subnetsForNode,
} from "@ipam/topology";
import { byString, fail } from "./command-args.js";
import type { Registry } from "./registry.js";
import type { SubnetState, SubnetTable } from "./subnet-table.js";

/**
 * Which subnets may serve a node's request, and in which order: the policy shared by block
 * leases and direct allocations. The order is `subnetsForNode`'s (TOR → Pod → Zone as far as
 * the strategy reaches, then priority, then id), the same on every replica. The strategy is the
 * command's when it names one, else the purpose's from the topology (default `zone`).
 */
export class Candidates {
  readonly #registry: Registry;
  readonly #subnets: SubnetTable;

  constructor(registry: Registry, subnets: SubnetTable) {
    this.#registry = registry;
    this.#subnets = subnets;
  }

  /** Every purpose some subnet of the topology has, sorted (a fresh array). */
  purposes(): string[] {
    const out = new Set<string>();
    for (const s of this.#registry.topology.subnets.values()) out.add(s.purpose);
    return [...out].sort(byString);
  }

  /**
   * The node's subnets of a purpose and family, in allocation order (any mode, draining ones
   * included).
   * @throws PoolError `INVALID_ARGUMENT` when no subnet of the whole topology has `purpose` (a
   * typo: `details.field` is `purpose`, `details.purposes` lists the known ones), `NO_SUBNET`
   * when the node has none of that purpose and family.
   */
  all(
    node: string,
    purpose: string,
    family: Family,
    strategy: SubnetStrategy | undefined,
  ): SubnetState[] {
    const all = subnetsForNode(this.#registry.topology, node, {
      purpose,
      family,
      ...(strategy === undefined ? {} : { strategy }),
    });
    if (all.length === 0) {
      const purposes = this.purposes();
      if (!purposes.includes(purpose)) {
        fail(
          "INVALID_ARGUMENT",
          `unknown purpose ${purpose}: no subnet of the topology has it (purposes: ${purposes.join(", ") || "none"})`,
          { field: "purpose", purpose, purposes },
        );
      }
      fail(
        "NO_SUBNET",
        `node ${node} has no IPv${family} ${purpose} subnet (strategy ${this.strategy(purpose, strategy)})`,
        { node, purpose, family },
      );
    }
    return all.map((s) => this.#subnets.get(s.id) as SubnetState);
  }

  /**
   * The node's subnets of a purpose, family and mode that are open (not draining), in
   * allocation order; never empty.
   * @throws PoolError as {@link all}, `NO_SUBNET` (none of that mode), `DRAINING` (every one
   * is draining).
   */
  open(
    node: string,
    purpose: string,
    family: Family,
    strategy: SubnetStrategy | undefined,
    direct: boolean,
  ): SubnetState[] {
    const states = this.all(node, purpose, family, strategy).filter((st) => st.direct === direct);
    if (states.length === 0) {
      fail(
        "NO_SUBNET",
        `node ${node} has no ${direct ? "direct-mode" : "block-mode"} IPv${family} ${purpose} subnet (its are ${direct ? "block" : "direct"}-mode: use ${direct ? "lease-block" : "allocate-direct"})`,
        { node, purpose, family, mode: direct ? "block" : "direct" },
      );
    }
    const open = states.filter((st) => !st.draining);
    if (open.length === 0) {
      fail("DRAINING", `every IPv${family} ${purpose} subnet of node ${node} is draining`, {
        node,
        purpose,
        family,
        subnets: states.map((st) => st.subnet.id),
      });
    }
    return open;
  }

  /** The strategy a request of `purpose` uses: `requested` when given, else the purpose's. */
  strategy(purpose: string, requested: SubnetStrategy | undefined): AllocationStrategy {
    return purposeStrategy(this.#registry.topology, purpose, requested);
  }

  /**
   * Why a request found no room, for POOL_EXHAUSTED messages: the strategy and, under `tor` or
   * `pod`, the way to let the node spill further.
   */
  exhaustedNote(purpose: string, requested: SubnetStrategy | undefined): string {
    const s = this.strategy(purpose, requested);
    if (s === "zone") return "strategy zone: TOR, Pod and Zone subnets are all full";
    return s === "tor"
      ? `strategy tor: only the TOR's subnets serve ${purpose}; set purposes.${purpose}.strategy to pod or zone to spill, or declare a supernet to grow the TOR`
      : `strategy pod: the TOR's and the Pod's subnets serve ${purpose}; set purposes.${purpose}.strategy to zone to spill further`;
  }

  /** True when the node may draw from `st` (it is one of its subnets under `zone`). */
  reachable(node: string, st: SubnetState): boolean {
    return subnetsForNode(this.#registry.topology, node, {
      purpose: st.subnet.purpose,
      family: st.subnet.family,
      strategy: "zone",
    }).some((s) => s.id === st.subnet.id);
  }

  /** The subnet of the whole topology that contains `ip` (subnets never overlap), if any. */
  locate(ip: Ip): Subnet | undefined {
    for (const s of this.#registry.topology.subnets.values()) {
      if ((this.#subnets.get(s.id) as SubnetState).geometry.cidr.contains(ip)) return s;
    }
    return undefined;
  }
}
