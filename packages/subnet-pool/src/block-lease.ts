import type { Family, Subnet } from "@ipam/topology";

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
