import type { IpFamily } from "./ip.js";

/** The CNI key of an allocation record: `(network name, CNI_CONTAINERID, CNI_IFNAME)`. */
export interface AttachmentKey {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
}

/** What ADD asks the backend for. */
export interface AllocateInput extends AttachmentKey {
  readonly purpose: string;
  /** Families to allocate, IPv4 first; both means all or nothing. */
  readonly families: readonly IpFamily[];
  readonly podNamespace?: string;
  readonly podName?: string;
  /** `K8S_POD_UID`: recorded in the address history; the agent tells a pod from a later one of the same name by it. */
  readonly podUid?: string;
  /** Canonical addresses without prefix; at most one per family. */
  readonly requestedAddresses: readonly string[];
}

/** One address given to an interface. */
export interface BackendAddress {
  readonly family: IpFamily;
  /** Canonical text, no prefix (`10.99.0.5`, `fd99::5`). */
  readonly address: string;
  /** The subnet's prefix length (the on-link prefix). */
  readonly prefixLength: number;
  /** The subnet's gateway; absent when it has none. */
  readonly gateway?: string;
}

/** A route sent by the backend. */
export interface BackendRoute {
  readonly dst: string;
  /** Absent means the interface's gateway. */
  readonly gw?: string;
}

/** DNS settings sent by the backend. */
export interface BackendDns {
  readonly nameservers: readonly string[];
  readonly domain?: string;
  readonly search: readonly string[];
  readonly options: readonly string[];
}

/** The answer to ADD. */
export interface AllocateOutput {
  /** IPv4 first. */
  readonly addresses: readonly BackendAddress[];
  readonly routes: readonly BackendRoute[];
  readonly dns?: BackendDns;
}

/** The answer to CHECK: a mismatch is an answer, not an error. */
export interface CheckOutput {
  /** True when the key holds exactly the addresses asked about. */
  readonly ok: boolean;
  /** Why not, when `ok` is false. */
  readonly reason: string;
  /** What the key actually holds (empty: nothing, an unknown container). */
  readonly held: readonly BackendAddress[];
}

/** Whether ADD can succeed now (STATUS). */
export type BackendState = "ready" | "exhausted" | "unavailable";

/**
 * The seam between the CNI layer and ipamd. The default implementation talks to ipamd over its
 * unix socket (`createGrpcBackend`); tests pass a fake.
 *
 * Every method either resolves or rejects with a `CniError` carrying a project-wide code
 * (`POOL_EXHAUSTED`, `UNAVAILABLE`, `TIMEOUT`, `NOT_FOUND`, `CONFLICT`, `INVALID_ARGUMENT`,
 * `INTERNAL`, ...); anything else is reported as `INTERNAL`.
 */
export interface IpamBackend {
  /** Give addresses to a key; idempotent (the same key returns what it holds). */
  allocate(input: AllocateInput): Promise<AllocateOutput>;
  /** Free what a key holds; succeeds (`released: false`) when it holds nothing. */
  release(key: AttachmentKey): Promise<{ readonly released: boolean }>;
  /** Does the key hold exactly `addresses` (canonical, no prefix)? Read only. */
  check(key: AttachmentKey, addresses: readonly string[]): Promise<CheckOutput>;
  /** Release every record of `network` whose key is not in `valid`. */
  gc(
    network: string,
    valid: readonly { readonly containerId: string; readonly ifname: string }[],
  ): Promise<{ readonly released: readonly AttachmentKey[] }>;
  /**
   * Can `network` (of `purpose`, asking for `families`) allocate now? `exhausted` when ADD
   * cannot succeed for one of the families.
   */
  status(
    network: string,
    purpose: string,
    families: readonly IpFamily[],
  ): Promise<{ readonly state: BackendState; readonly reason: string }>;
  /** Release connections; the backend is not used afterwards. */
  close(): void;
}
