import type { Family, Subnet } from "@ipam/topology";

/**
 * Where a leased block is in its life cycle (docs/subnet-pool.md, "Block life cycle"):
 * - `leased`: the holder may allocate from it.
 * - `draining`: its subnet drains; the holder keeps the addresses it holds there but hands out
 *   no new one, and returns the block once nothing in it is held or cooling down.
 * - `revoked`: taken back by a forced removal (of its subnet or of its node); the holder stops
 *   allocating from it at once and returns it when empty. The cluster never leases a revoked
 *   block to anyone else before the holder returns it or the node is declared dead.
 * A free block has no state: it is not leased.
 */
export type BlockState = "leased" | "draining" | "revoked";

/**
 * A block leased to a node by the cluster state (L1), as handed to the node allocator (L2).
 * `subnet` is the topology subnet the block was carved from; its `reserved` list already
 * includes the run-time reservations (`reserve` commands) that were in force when the lease
 * was read.
 */
export interface BlockLease {
  readonly node: string;
  /** The block, canonical CIDR text (e.g. `10.99.0.64/26`). */
  readonly cidr: string;
  /** When the lease was granted: the `at` of the lease-block command (ms since the epoch). */
  readonly leasedAt: number;
  readonly subnet: Subnet;
  /**
   * The block's life-cycle state as the cluster state knows it (always set by
   * `ClusterState.nodeLeases`); absent means `leased` (a lease from an earlier build, or one a
   * caller made up).
   */
  readonly state?: BlockState;
  /** For a revoked block: the `at` of the command that revoked it (ms). */
  readonly revokedAt?: number;
}

/** One address handed to a pod interface. */
export interface AllocatedAddress {
  /** Canonical address text (`10.99.0.70`, `fd99::46`). */
  readonly address: string;
  readonly family: Family;
  /** Prefix length of the SUBNET (not of the block): what the pod's interface is configured with. */
  readonly prefixLength: number;
  /** The subnet's gateway, or null when it has none. */
  readonly gateway: string | null;
  /** Subnet id. */
  readonly subnet: string;
  /** The block (CIDR text) the address came from; equal to the subnet CIDR in direct mode. */
  readonly block: string;
}
