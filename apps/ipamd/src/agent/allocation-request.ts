import type { AllocationKey } from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";

/** The pod an allocation is for, recorded with it for operators; each field optional. */
export interface PodRef {
  readonly namespace?: string;
  readonly name?: string;
  /** Kubernetes pod UID (`K8S_POD_UID`). */
  readonly uid?: string;
}

/**
 * One Allocate, as the node allocator takes it: validated and normalised at the edge (the key's
 * `ifname` defaulted to `eth0`, the purpose to `default`), free of wire types.
 */
export interface AllocationRequest {
  readonly key: AllocationKey;
  readonly purpose: string;
  /** One address per family, all or nothing; undefined = IPv4. */
  readonly families?: readonly Family[];
  readonly pod?: PodRef;
  /**
   * Static addresses the caller asks for (CNI `ips`). Carried, not honoured yet: the node
   * allocates dynamically, as it always has. Static allocation lands in {@link Agent.allocate}.
   */
  readonly requestedAddresses?: readonly string[];
}

/** An interface that is still alive, for garbage collection (its `ifname` normalised). */
export type Attachment = Pick<AllocationKey, "containerId" | "ifname">;
