import { type AddressInterval, isDirectMode, type Subnet } from "@ipam/topology";
import { byString, fail, requireString } from "./command-args.js";
import type { DrainSubnetCommand, Reservation, SubnetOrigin } from "./commands.js";
import { geometryOf, type SubnetGeometry } from "./subnet-geometry.js";
import type { UndoJournal } from "./undo-journal.js";

/**
 * The run-time state of one topology subnet that every concern shares. What is held in it
 * lives with its concern: leased blocks in block-leases.ts, direct allocations in
 * direct-allocations.ts, both keyed by subnet id.
 */
export interface SubnetState {
  /** The topology's subnet value (replaced when apply-topology changes it). */
  subnet: Subnet;
  geometry: SubnetGeometry;
  /** Direct mode (one address per allocation, in L1) rather than block mode. */
  readonly direct: boolean;
  /** No new leases or allocations while true; its leased blocks are `draining`. */
  draining: boolean;
  /**
   * Removed while in use (a forced remove-subnet, or dropped from the topology file while
   * draining): draining for good, deleted once it holds nothing (lifecycle.ts).
   */
  removing: boolean;
  /** Who manages it: the topology file or the API (see apply-topology `source`). */
  origin: SubnetOrigin;
  /** The `requestId` of the carve-subnet command that carved it, when it had one. */
  carveRequest: string | undefined;
  /** Run-time reservations by canonical range (see reservations.ts). */
  readonly reservations: Map<string, Reservation>;
  /** Caches of reservations.ts, cleared whenever the subnet or its reservations change. */
  leaseSubnet: Subnet | undefined;
  intervals: AddressInterval[] | undefined;
}

/**
 * Every subnet of the topology with its {@link SubnetState}, by id. Mutations are recorded in
 * the journal. Iteration order of the table is insertion order and differs between replicas
 * (a restored one inserts sorted): use {@link sorted} wherever the order can reach the state
 * or a result.
 */
export class SubnetTable {
  readonly #journal: UndoJournal;
  readonly #byId = new Map<string, SubnetState>();

  constructor(journal: UndoJournal) {
    this.#journal = journal;
  }

  get(id: string): SubnetState | undefined {
    return this.#byId.get(id);
  }

  /** The subnet `id` names. @throws PoolError `INVALID_ARGUMENT` (not a string), `NOT_FOUND`. */
  require(id: unknown, path: string): SubnetState {
    const st = this.#byId.get(requireString(id, path));
    if (st === undefined)
      fail("NOT_FOUND", `${path}: subnet ${String(id)} does not exist`, { subnet: id });
    return st;
  }

  /** Every subnet state, sorted by id (a fresh array). */
  sorted(): SubnetState[] {
    return [...this.#byId.values()].sort((a, b) => byString(a.subnet.id, b.subnet.id));
  }

  /** Every subnet state in an order that differs between replicas: only for order-free searches. */
  unordered(): IterableIterator<SubnetState> {
    return this.#byId.values();
  }

  /**
   * Puts a fresh state for `subnet` in the table (replacing any state of that id), carrying
   * over `draining`, `removing`, the origin, the carve request and the reservations of `from` when given (else
   * `origin`, default `file`). Returns the new state.
   */
  create(subnet: Subnet, from?: SubnetState, origin: SubnetOrigin = "file"): SubnetState {
    const st: SubnetState = {
      subnet,
      geometry: geometryOf(subnet),
      direct: isDirectMode(subnet),
      draining: from?.draining ?? false,
      removing: from?.removing ?? false,
      origin: from?.origin ?? origin,
      carveRequest: from?.carveRequest,
      reservations: new Map(from?.reservations ?? []),
      leaseSubnet: undefined,
      intervals: undefined,
    };
    this.#journal.set(this.#byId, subnet.id, st);
    return st;
  }

  /** Drops a subnet's state (its holdings are the caller's to free first). */
  delete(id: string): void {
    this.#journal.delete(this.#byId, id);
  }

  /** Gives a state the topology's new value of its subnet (same CIDR, family, block prefix). */
  update(st: SubnetState, subnet: Subnet): void {
    this.#journal.assign(st, "subnet", subnet);
    this.#journal.assign(st, "geometry", geometryOf(subnet));
    this.invalidate(st);
  }

  /** Clears the caches derived from the subnet and its reservations (recorded). */
  invalidate(st: SubnetState): void {
    st.leaseSubnet = undefined;
    st.intervals = undefined;
    this.#journal.record(() => {
      st.leaseSubnet = undefined;
      st.intervals = undefined;
    });
  }

  /**
   * The drain-subnet command: stops (or resumes) new leases and allocations from a subnet.
   * @throws PoolError `CONFLICT` when resuming a `removing` subnet.
   */
  drain(c: DrainSubnetCommand): { subnet: string; draining: boolean } {
    const st = this.require(c.subnet, "drain-subnet.subnet");
    if (c.draining !== undefined && typeof c.draining !== "boolean") {
      fail("INVALID_ARGUMENT", "drain-subnet.draining: must be a boolean");
    }
    const draining = c.draining ?? true;
    if (!draining && st.removing) {
      fail(
        "CONFLICT",
        `drain-subnet: subnet ${st.subnet.id} is being removed; it cannot be resumed`,
        { subnet: st.subnet.id },
      );
    }
    this.#journal.assign(st, "draining", draining);
    return { subnet: st.subnet.id, draining };
  }

  /** Marks a subnet `removing` (and draining for good), recorded. */
  markRemoving(st: SubnetState): void {
    this.#journal.assign(st, "draining", true);
    this.#journal.assign(st, "removing", true);
  }

  /** Records the request id of the carve-subnet command that carved a subnet, recorded. */
  setCarveRequest(st: SubnetState, requestId: string): void {
    this.#journal.assign(st, "carveRequest", requestId);
  }

  /** Sets who manages a subnet, recorded. */
  setOrigin(st: SubnetState, origin: SubnetOrigin): void {
    this.#journal.assign(st, "origin", origin);
  }
}
