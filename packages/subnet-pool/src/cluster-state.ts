import type { Family, Node, Topology } from "@ipam/topology";
import type { AllocationKey } from "./allocation-key.js";
import type { BlockLease } from "./block-lease.js";
import { type NodeCapacity, nodeCapacity } from "./capacity.js";
import { carveSubnet } from "./carve-command.js";
import { type ClusterParts, createClusterParts } from "./cluster-parts.js";
import type { NodeView, StatsLevel, StatsRow, SubnetUsage, SubnetView } from "./cluster-views.js";
import { fail, toCommandError } from "./command-args.js";
import type {
  BatchCommand,
  ClusterCommand,
  CommandResult,
  DirectAllocation,
  Reservation,
  ReserveCommand,
  ResultOf,
  StickyBinding,
  StickyKey,
  UnreserveCommand,
} from "./commands.js";
import { releaseBlock, releaseDirect, type SubnetHoldings, subnetHoldings } from "./lifecycle.js";
import { PoolError } from "./pool-error.js";
import { decodeSnapshot, encodeSnapshot } from "./snapshot-codec.js";
import { allocateAndGrow, leaseAndGrow } from "./supernet-growth.js";
import { addSubnet, applyTopology, deregisterNode, removeSubnet } from "./topology-changes.js";
import { stats, subnetUsage, subnetViews } from "./usage.js";

/**
 * The cluster state machine (L1, DESIGN §3 and §6) that Raft replicates: topology, subnets,
 * node registry, block leases, direct allocations, reservations and StatefulSet pods' sticky
 * addresses.
 *
 * Contracts:
 * - `apply` is deterministic: it reads no clock (time is each command's `at`), uses no
 *   randomness and never lets Map/Set iteration order reach the state or a result. Two
 *   replicas that apply the same commands hold byte-identical {@link snapshot}s.
 * - A command either succeeds or changes nothing (an undo log rolls back a failure, including
 *   an unexpected one, reported as `INTERNAL`). `apply` never throws for a bad command.
 * - `snapshot()` is complete and versioned; `restore(bytes)` replaces all state.
 * - Read queries return fresh arrays owned by the caller, sorted.
 *
 * The class is a dispatcher: each concern is a module of its own (registry.ts,
 * subnet-table.ts, reservations.ts, block-leases.ts, direct-allocations.ts, with
 * topology-changes.ts for the commands that cascade across them), wired to one undo journal
 * in cluster-parts.ts; the snapshot format is snapshot-codec.ts.
 */
export class ClusterState {
  #parts: ClusterParts = createClusterParts();

  /** A state restored from {@link snapshot} bytes. @throws as {@link restore}. */
  static restore(bytes: Uint8Array): ClusterState {
    const state = new ClusterState();
    state.restore(bytes);
    return state;
  }

  // --- apply -----------------------------------------------------------------------

  /** Applies one command; see {@link ClusterCommand} for each command's rules. Never throws. */
  apply<C extends ClusterCommand>(command: C): ResultOf<C> {
    if (typeof command === "object" && command !== null && command.type === "batch") {
      return this.#batch(command) as ResultOf<C>;
    }
    return this.#run(() => this.#dispatch(command)) as ResultOf<C>;
  }

  /** Runs `fn` in the undo journal: its value, or its error after everything it did is undone. */
  #run(fn: () => unknown): CommandResult {
    try {
      return { ok: true, value: this.#parts.journal.run(fn) };
    } catch (error) {
      return { ok: false, error: toCommandError(error) };
    }
  }

  #batch(command: BatchCommand): CommandResult {
    if (!Array.isArray(command.commands)) {
      return {
        ok: false,
        error: toCommandError(
          new PoolError("INVALID_ARGUMENT", "batch.commands: must be an array"),
        ),
      };
    }
    const item = (c: ClusterCommand, i: number): CommandResult =>
      typeof c === "object" && c !== null && c.type === "batch"
        ? {
            ok: false,
            error: {
              code: "INVALID_ARGUMENT",
              message: `batch.commands[${i}]: batches do not nest`,
              details: { index: i },
            },
          }
        : this.#run(() => this.#dispatch(c));
    if (command.atomic !== true) return { ok: true, value: command.commands.map(item) };
    return this.#run(() =>
      command.commands.map((c, i) => {
        const result = item(c, i);
        if (!result.ok) {
          throw new PoolError(result.error.code, `batch.commands[${i}]: ${result.error.message}`, {
            details: { ...result.error.details, index: i },
          });
        }
        return result;
      }),
    );
  }

  #dispatch(command: ClusterCommand): unknown {
    if (typeof command !== "object" || command === null)
      fail("INVALID_ARGUMENT", "command: must be an object");
    if (typeof command.at !== "number" || !Number.isFinite(command.at)) {
      fail("INVALID_ARGUMENT", `${String(command.type)}.at: must be a finite number (ms)`);
    }
    const p = this.#parts;
    switch (command.type) {
      case "apply-topology":
        return applyTopology(p, command);
      case "register-node":
        return p.registry.register(command);
      case "deregister-node":
        return deregisterNode(p, command);
      case "add-subnet":
        return addSubnet(p, command);
      case "remove-subnet":
        return removeSubnet(p, command);
      case "drain-subnet":
        return p.subnets.drain(command);
      case "lease-block":
        return leaseAndGrow(p, command);
      case "carve-subnet":
        return carveSubnet(p, command);
      case "release-block":
        return releaseBlock(p, command);
      case "claim-block":
        return p.leases.claimBlock(command);
      case "allocate-direct":
        return allocateAndGrow(p, command);
      case "release-direct":
        return releaseDirect(p, command);
      case "reserve":
        return this.#reserve(command);
      case "unreserve":
        return this.#unreserve(command);
      case "bind-sticky":
        return p.sticky.bind(command);
      case "release-sticky":
        return { released: p.sticky.release(command) };
      case "unbind-sticky":
        return p.sticky.unbind(command);
      default:
        return fail(
          "INVALID_ARGUMENT",
          `command.type: unknown type ${String((command as { type: unknown }).type)}`,
        );
    }
  }

  /** Reserve, then rebuild a direct-mode subnet's bitmap (`CONFLICT` over an allocated address). */
  #reserve(c: ReserveCommand): Reservation {
    const p = this.#parts;
    const st = p.subnets.require(c.subnet, "reserve.subnet");
    const { reservation, added } = p.reservations.reserve(st, c);
    if (added) p.direct.rebuild(st);
    return reservation;
  }

  #unreserve(c: UnreserveCommand): Reservation {
    const p = this.#parts;
    const st = p.subnets.require(c.subnet, "unreserve.subnet");
    const reservation = p.reservations.unreserve(st, c);
    p.direct.rebuild(st);
    return reservation;
  }

  // --- queries -----------------------------------------------------------------------

  /** The current topology (immutable). */
  topology(): Topology {
    return this.#parts.registry.topology;
  }

  /** Every subnet with its run-time state, sorted by id. */
  subnets(): SubnetView[] {
    return subnetViews(this.#parts);
  }

  /** A registered node with its path and holdings, or undefined. */
  node(id: string): NodeView | undefined {
    const { registry, leases, direct } = this.#parts;
    const node = registry.topology.nodes.get(id);
    if (node === undefined) return undefined;
    const since = registry.deregisteringSince(id);
    return {
      node,
      path: registry.pathOf(id),
      blocks: leases.countOf(id),
      directAddresses: direct.countOf(id),
      deregistering: since !== undefined,
      ...(since === undefined ? {} : { deregisteringSince: since }),
    };
  }

  /** Every registered node, sorted by id. */
  nodes(): Node[] {
    return this.#parts.registry.nodes();
  }

  /**
   * The blocks leased to a node (empty for an unknown node), sorted by subnet id then block,
   * each with its life-cycle `state` (leased, draining, revoked).
   */
  nodeLeases(nodeId: string): BlockLease[] {
    return this.#parts.leases.nodeLeases(nodeId);
  }

  /**
   * What a subnet still holds: its leased blocks (holder, state) and direct allocations; what a
   * drain or a removal waits for. Undefined for an unknown subnet.
   */
  subnetHoldings(subnetId: string): SubnetHoldings | undefined {
    return subnetHoldings(this.#parts, subnetId);
  }

  /** Direct allocations (of one node, or all), sorted by key then family. */
  directAllocations(nodeId?: string): DirectAllocation[] {
    return this.#parts.direct.list(nodeId);
  }

  /** The direct allocation of a key and family, or undefined. */
  directAllocation(key: AllocationKey, family: Family): DirectAllocation | undefined {
    return this.#parts.direct.get(key, family);
  }

  /** The sticky binding of a StatefulSet pod name, or undefined. */
  stickyBinding(key: StickyKey): StickyBinding | undefined {
    return this.#parts.sticky.get(key);
  }

  /** Every sticky binding (of one namespace, and StatefulSet), sorted by name then ordinal. */
  stickyBindings(
    filter: { readonly namespace?: string; readonly statefulSet?: string } = {},
  ): StickyBinding[] {
    return this.#parts.sticky.list(filter);
  }

  /** Usage of every subnet, sorted by id (for metrics: capacity/allocated/reserved/cooling). */
  subnetUsage(): SubnetUsage[] {
    return subnetUsage(this.#parts);
  }

  /**
   * {@link subnetUsage} summed per zone, pod, TOR, subnet or purpose, sorted by id. A zone
   * row covers every subnet in the zone; a pod row the pod's and its TORs' subnets; a TOR row
   * only the TOR's own subnets. `filter` keeps only subnets of one purpose or family, and only
   * the row with one id.
   */
  stats(
    level: StatsLevel,
    filter: { readonly purpose?: string; readonly family?: Family; readonly id?: string } = {},
  ): StatsRow[] {
    return stats(this.#parts, level, filter);
  }

  /**
   * Whether `node` can get one more `purpose` address of `family` from L1 at `at` (ms): a block
   * it could lease (block mode) or a free address (direct mode). A read (nothing changes), for
   * readiness checks: `ok: false` carries the code `lease-block`/`allocate-direct` would fail
   * with (`NOT_FOUND` node, `INVALID_ARGUMENT` unknown purpose, `NO_SUBNET`, `DRAINING`,
   * `POOL_EXHAUSTED`) and its message.
   */
  capacity(node: string, purpose: string, family: Family, at: number): CommandResult<NodeCapacity> {
    try {
      return { ok: true, value: nodeCapacity(this.#parts, node, purpose, family, at) };
    } catch (error) {
      return { ok: false, error: toCommandError(error) };
    }
  }

  // --- snapshot ----------------------------------------------------------------------

  /**
   * The whole state as versioned bytes: `IPCS`, a version byte, then UTF-8 JSON in which every
   * collection is sorted (byte-identical across replicas that applied the same commands).
   * The array is the caller's.
   */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.#parts);
  }

  /**
   * Replaces all state with a {@link snapshot}. On failure the state is left untouched.
   * @throws PoolError `UNSUPPORTED_VERSION` (another snapshot version), `INVALID_ENCODING`
   * (not a snapshot, or an inconsistent one; `cause` holds the underlying error).
   */
  restore(bytes: Uint8Array): void {
    this.#parts = decodeSnapshot(bytes);
  }
}
