import type { Subnet } from "@ipam/topology";
import { BlockLeases } from "./block-leases.js";
import { Candidates } from "./candidates.js";
import type { SubnetOrigin } from "./commands.js";
import { DirectAllocations } from "./direct-allocations.js";
import { Registry } from "./registry.js";
import { Reservations } from "./reservations.js";
import { StickyBindings } from "./sticky-bindings.js";
import type { SubnetState } from "./subnet-table.js";
import { SubnetTable } from "./subnet-table.js";
import { UndoJournal } from "./undo-journal.js";

/**
 * The modules that together hold the cluster state, wired to one undo journal. A
 * {@link ClusterState} holds one set and replaces it as a whole when it restores a snapshot.
 *
 * Dependencies point one way: journal ← registry, subnets ← reservations, candidates ←
 * leases, direct. Commands that cut across them (topology changes, node removal) live in
 * topology-changes.ts; the snapshot format in snapshot-codec.ts; usage sums in usage.ts.
 */
export interface ClusterParts {
  readonly journal: UndoJournal;
  /** The topology: tree, subnets by scope, registered nodes. */
  readonly registry: Registry;
  /** Per-subnet run-time state (draining, reservations, caches). */
  readonly subnets: SubnetTable;
  readonly reservations: Reservations;
  /** Which subnets serve a node's request, in order. */
  readonly candidates: Candidates;
  readonly leases: BlockLeases;
  readonly direct: DirectAllocations;
  /** Sticky addresses of StatefulSet pods. */
  readonly sticky: StickyBindings;
}

/** An empty cluster state (no topology). */
export function createClusterParts(): ClusterParts {
  const journal = new UndoJournal();
  const registry = new Registry(journal);
  const subnets = new SubnetTable(journal);
  const reservations = new Reservations(journal, subnets);
  const candidates = new Candidates(registry, subnets);
  return {
    journal,
    registry,
    subnets,
    reservations,
    candidates,
    leases: new BlockLeases(journal, registry, subnets, reservations, candidates),
    direct: new DirectAllocations(journal, registry, subnets, reservations, candidates),
    sticky: new StickyBindings(journal, registry),
  };
}

/**
 * Gives a topology subnet a fresh run-time state in every module, carrying over the draining
 * flag, origin and reservations of `from` when given (else `origin`). A state of that id is
 * replaced, with whatever it tracked: the caller checks that it held nothing.
 * @throws PoolError `INVALID_ARGUMENT` for a direct-mode subnet above 2^24 addresses.
 */
export function attachSubnet(
  parts: ClusterParts,
  subnet: Subnet,
  from?: SubnetState,
  origin: SubnetOrigin = "file",
): SubnetState {
  const st = parts.subnets.create(subnet, from, origin);
  parts.leases.addSubnet(st);
  parts.direct.addSubnet(st);
  return st;
}

/**
 * Frees what a subnet holds (blocks at once, direct addresses without cool-down) and drops it
 * from every module. Returns how many blocks and addresses were freed.
 */
export function detachSubnet(
  parts: ClusterParts,
  st: SubnetState,
): { blocks: number; addresses: number } {
  const blocks = parts.leases.removeSubnet(st);
  const addresses = parts.direct.removeSubnet(st);
  parts.subnets.delete(st.subnet.id);
  return { blocks, addresses };
}

/** True while a subnet has leased blocks or direct allocations (cooling addresses do not count). */
export function inUse(parts: ClusterParts, st: SubnetState): boolean {
  return (
    parts.leases.leasedCount(st.subnet.id) > 0 ||
    (parts.direct.pool(st.subnet.id)?.allocated ?? 0) > 0
  );
}
