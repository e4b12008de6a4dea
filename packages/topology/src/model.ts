/**
 * The resolved topology model: every default filled in, every CIDR and address in canonical
 * text form. Values are plain, frozen data; they are safe to share and to serialize.
 */

import type { AllocationStrategy } from "./strategy.js";

/** Address family: 4 for IPv4, 6 for IPv6. */
export type Family = 4 | 6;

/** String labels attached to an entity (free-form, e.g. `rack: r12`). */
export type Labels = Readonly<Record<string, string>>;

/** The levels a subnet can be attached to. */
export type ScopeKind = "zone" | "pod" | "tor";

/** A reference to the zone, pod or TOR a subnet is attached to. */
export interface ScopeRef {
  readonly kind: ScopeKind;
  readonly id: string;
}

/** The built-in purposes; any other non-empty name is a custom purpose. */
export const WELL_KNOWN_PURPOSES = ["default", "storage", "management"] as const;

/**
 * A range a Zone or Pod holds back to grow its TORs' subnets: when the subnets of `purpose`
 * attached to one TOR beneath are at least `threshold` leased, the cluster carves the next
 * `/prefix` subnet out of it for that TOR (docs/topology.md, "Supernets"). Declared subnets may
 * lie inside a supernet only when they are TOR subnets of the same purpose and family beneath
 * its scope (subnets the supernet feeds).
 */
export interface Supernet {
  /** Canonical CIDR. */
  readonly cidr: string;
  readonly family: Family;
  readonly purpose: string;
  /** Prefix length of each carved subnet. */
  readonly prefix: number;
  /** Fraction of a TOR's subnets (of this purpose and family) leased that triggers a carve: (0, 1]. */
  readonly threshold: number;
  /** Block prefix of the carved subnets; the host prefix (32/128): they are direct-mode. */
  readonly blockPrefix: number;
}

/** How one purpose allocates (the `purposes` section of the file). */
export interface PurposePolicy {
  readonly strategy: AllocationStrategy;
}

export interface Zone {
  readonly id: string;
  readonly name: string;
  readonly labels: Labels;
  /** Canonical CIDRs every subnet beneath must fall inside (checked per family; none = any). */
  readonly subnetRanges: readonly string[];
  /** Supernets feeding the TORs of the zone, by family then address; absent when none. */
  readonly supernets?: readonly Supernet[];
}

export interface Pod {
  readonly id: string;
  readonly name: string;
  /** Id of the parent zone. */
  readonly zone: string;
  readonly labels: Labels;
  /** Canonical CIDRs every subnet beneath must fall inside (checked per family; none = any). */
  readonly subnetRanges: readonly string[];
  /** Supernets feeding the TORs of the pod, by family then address; absent when none. */
  readonly supernets?: readonly Supernet[];
}

export interface Tor {
  readonly id: string;
  readonly name: string;
  /** Id of the parent pod. */
  readonly pod: string;
  /** Free-form physical location (hall, row, rack); absent when not configured. */
  readonly location?: string;
  readonly labels: Labels;
}

export interface Node {
  readonly id: string;
  readonly name: string;
  /** Id of the TOR the node is cabled to; a node belongs to exactly one TOR. */
  readonly tor: string;
  readonly labels: Labels;
}

/** `"none"` as a gateway means the subnet has no gateway address reserved. */
export type Gateway = string;

export interface Subnet {
  /** Unique among subnets; defaults to the canonical CIDR. */
  readonly id: string;
  /** Canonical CIDR (host bits zero, RFC 5952 text for IPv6). */
  readonly cidr: string;
  readonly family: Family;
  readonly purpose: string;
  readonly scope: ScopeRef;
  /** Canonical gateway address inside `cidr`, or `"none"`. */
  readonly gateway: Gateway;
  /** Excluded ranges, canonical: CIDRs (`10.0.0.0/28`) or inclusive ranges (`10.0.0.5-10.0.0.9`). */
  readonly reserved: readonly string[];
  /** Prefix length of the blocks leased to nodes; equal to 32/128 means direct (per-IP) mode. */
  readonly blockPrefix: number;
  /** Lower is tried first within one scope level. */
  readonly priority: number;
  /** Seconds a released address waits before it is handed out again. */
  readonly cooldownSeconds: number;
  /**
   * Overrides the purpose's strategy for this subnet: a Pod or Zone subnet serves a node only
   * when this strategy reaches its level. Absent: the purpose's strategy applies.
   */
  readonly strategy?: AllocationStrategy;
}

/** Entity counts of a topology or of the part beneath one scope. */
export interface TopologyCounts {
  readonly zones: number;
  readonly pods: number;
  readonly tors: number;
  readonly nodes: number;
  readonly subnets: number;
}

declare const topologyBrand: unique symbol;

/**
 * An immutable, validated topology. Obtain one from `createTopology`, `parseTopology`,
 * `emptyTopology` or an operation (`registerNode`, `addSubnet`, ...), which return a new value
 * and leave the old one untouched. Maps iterate in insertion order; use `toCanonicalJson` for a
 * stable order.
 */
export interface Topology {
  readonly zones: ReadonlyMap<string, Zone>;
  readonly pods: ReadonlyMap<string, Pod>;
  readonly tors: ReadonlyMap<string, Tor>;
  readonly nodes: ReadonlyMap<string, Node>;
  readonly subnets: ReadonlyMap<string, Subnet>;
  /** Per purpose, how it allocates (only purposes the file configures). */
  readonly purposes: ReadonlyMap<string, PurposePolicy>;
  readonly [topologyBrand]: true;
}

/** Host-length prefix of a family: 32 or 128. */
export function hostPrefix(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** True when the subnet hands out single addresses (block size = one address). */
export function isDirectMode(subnet: Pick<Subnet, "family" | "blockPrefix">): boolean {
  return subnet.blockPrefix === hostPrefix(subnet.family);
}
