import type {
  Family,
  Labels,
  Node,
  Subnet,
  SubnetInput,
  SubnetStrategy,
  TopologyConfig,
  TopologyDiff,
} from "@ipam/topology";
import type { AllocationKey } from "./allocation-key.js";
import type { BlockLease } from "./block-lease.js";
import type { CarveSubnetValue } from "./carve-command.js";
import type { PoolErrorCode } from "./pool-error.js";
import type { AllocateDirectValue, CarveMode, LeaseBlockValue } from "./supernet-growth.js";

/**
 * The commands of the cluster state machine (L1). Every command carries `at`: the proposer's
 * clock in ms since the epoch, the only time `apply` ever sees. Commands are plain JSON-able
 * data; {@link encodeCommand} gives their versioned wire form.
 */
export type ClusterCommand =
  | ApplyTopologyCommand
  | RegisterNodeCommand
  | DeregisterNodeCommand
  | AddSubnetCommand
  | RemoveSubnetCommand
  | DrainSubnetCommand
  | LeaseBlockCommand
  | ReleaseBlockCommand
  | ClaimBlockCommand
  | AllocateDirectCommand
  | ReleaseDirectCommand
  | ReserveCommand
  | UnreserveCommand
  | BatchCommand
  | CarveSubnetCommand
  | BindStickyCommand
  | ReleaseStickyCommand
  | UnbindStickyCommand;

/** The `type` of every command. */
export const COMMAND_TYPES = [
  "apply-topology",
  "register-node",
  "deregister-node",
  "add-subnet",
  "remove-subnet",
  "drain-subnet",
  "lease-block",
  "release-block",
  "allocate-direct",
  "release-direct",
  "reserve",
  "unreserve",
  "batch",
  "claim-block",
  "carve-subnet",
  "bind-sticky",
  "release-sticky",
  "unbind-sticky",
] as const;

export type CommandType = (typeof COMMAND_TYPES)[number];

/**
 * Replaces the topology with a validated config. Nodes registered at run time that the config
 * does not list are carried over. Refused (`CONFLICT`) when it removes a subnet that still has
 * leases or direct allocations and is not draining, or changes the CIDR, family or block
 * prefix of a subnet in use.
 *
 * With `source: "file"` (what ipamd proposes for its topology file) the config manages only
 * the subnets whose origin is `file`: subnets added through the API (`add-subnet` with origin
 * `api`) are kept, and a config that declares a subnet clashing with one of them (same id with
 * another definition, or an overlapping CIDR) is refused; one declaring it identically takes it
 * over (origin `file`, listed in `adopted`). A dropped draining subnet that still holds blocks
 * or direct addresses stays as `removing` (its blocks revoked, listed in `removing`) until its
 * holders give them back; a TOR whose nodes still hold anything cannot be dropped. Nothing held
 * is ever freed.
 *
 * Without `source` (the commands of earlier builds, replayed from their logs) the config
 * replaces every subnet, a removed draining subnet loses its leases and allocations at once,
 * and a node whose TOR is gone is deregistered (both listed in the result).
 */
export interface ApplyTopologyCommand {
  readonly type: "apply-topology";
  readonly at: number;
  readonly config: TopologyConfig;
  readonly source?: "file";
}

/** Registers (or updates the name/labels of) a node under a TOR. */
export interface RegisterNodeCommand {
  readonly type: "register-node";
  readonly at: number;
  readonly node: string;
  readonly tor: string;
  readonly name?: string;
  readonly labels?: Labels;
}

/**
 * How `deregister-node` treats what the node holds:
 * - `if-empty`: refused (`CONFLICT`) while the node holds a block or a direct address.
 * - `revoke`: the forced removal of a live node: its blocks become `revoked` and its direct
 *   addresses stay allocated; the node stays as `deregistering` (it cannot lease, allocate or
 *   register again) until it has given everything back, then it is removed. A node holding
 *   nothing is removed at once.
 * - `dead`: the node is declared dead: everything it holds is freed at once (blocks, revoked
 *   ones too, and direct addresses, which cool down) and it is removed. Safe only when the node
 *   is really gone: its pods' addresses can be handed out again. What earlier builds did.
 */
export type DeregisterMode = "if-empty" | "revoke" | "dead";

/**
 * Removes a node (see {@link DeregisterMode}; without `mode`, `dead`: what a command of an
 * earlier build did). A `removing` subnet that held nothing else is deleted with it.
 */
export interface DeregisterNodeCommand {
  readonly type: "deregister-node";
  readonly at: number;
  readonly node: string;
  readonly mode?: DeregisterMode;
}

/**
 * Who manages a subnet: the topology file (`apply-topology` with `source: "file"`), the API, or
 * the cluster (`carved` out of a supernet for a TOR). `api` and `carved` subnets survive
 * topology-file reloads; both are removed through the API (drain, then remove-subnet), which
 * gives a carved subnet's range back to its supernet.
 */
export type SubnetOrigin = "file" | "api" | "carved";

/**
 * Attaches a subnet to a zone, pod or TOR at run time. `origin` (default `file`: what a command
 * of an earlier build meant) says who manages it: an `api` subnet survives topology-file
 * reloads until it is removed through the API.
 */
export interface AddSubnetCommand {
  readonly type: "add-subnet";
  readonly at: number;
  readonly subnet: SubnetInput;
  readonly origin?: SubnetOrigin;
}

/**
 * Removes a subnet; `CONFLICT` while it has leases or direct allocations (drain it first).
 * With `force`, a subnet in use is removed safely instead: it drains, its blocks are revoked,
 * its direct addresses stay allocated, and it stays as `removing` (no new lease, its range
 * cannot be re-added or overlapped) until the last block is returned and the last address
 * released (or their holders are declared dead); that command deletes it.
 */
export interface RemoveSubnetCommand {
  readonly type: "remove-subnet";
  readonly at: number;
  readonly subnet: string;
  readonly force?: boolean;
}

/**
 * Stops (or with `draining: false` resumes) new leases and allocations from a subnet. Its
 * leased blocks become `draining`: their holders return them once empty. A `removing` subnet
 * cannot be resumed (`CONFLICT`).
 */
export interface DrainSubnetCommand {
  readonly type: "drain-subnet";
  readonly at: number;
  readonly subnet: string;
  /** Default true. */
  readonly draining?: boolean;
}

/**
 * Leases one block to a node: from `subnet` when given, else from the node's subnets of
 * `purpose` + `family` (TOR → Pod → Zone as far as the strategy reaches, by priority then id,
 * block-mode and not draining; with `order: "least-used"` the subnets of one level and priority
 * are tried least-used first). Inside a subnet: the lowest free block adjacent to one of the
 * node's blocks there, else the lowest free block; blocks entirely inside reserved ranges are
 * skipped. `POOL_EXHAUSTED` names the strategy.
 *
 * Supernet growth (docs/subnet-pool.md, "Supernets"): a new lease that leaves the node's TOR
 * at or above a supernet's threshold carves the next subnet for the TOR in the same command
 * (the value's `carved`); a purpose/family request that finds nothing free carves one and
 * leases from it before failing.
 *
 * With `address` (a static address a container asks for): the block that contains it, in the
 * node's subnet of `purpose` (required) that contains it. A block the node already holds is
 * returned as it is (idempotent); one another node holds is refused with `CONFLICT` naming that
 * node (a block is never split between two holders). `INVALID_ARGUMENT` (`details.field`
 * `address`) when the address is outside every subnet of that purpose and family the node may
 * use, in a direct-mode subnet, or reserved (network, broadcast, gateway, reserved ranges).
 *
 * A `deregistering` node cannot lease (`CONFLICT`).
 */
export interface LeaseBlockCommand {
  readonly type: "lease-block";
  readonly at: number;
  readonly node: string;
  readonly subnet?: string;
  readonly purpose?: string;
  readonly family?: Family;
  /** Replaces the purpose's strategy (default: the topology's, `zone` unless configured). */
  readonly strategy?: SubnetStrategy;
  /**
   * Order among subnets of one level and priority: `first` (by id: what earlier builds did,
   * the default) or `least-used` (lowest leased fraction first, ties by fewer leased blocks,
   * then id: from replicated state only, the same on every replica).
   */
  readonly order?: "first" | "least-used";
  /**
   * Idempotency key chosen by the caller (at most 128 characters): while the node still holds
   * the block a lease-block with this id leased, a repeat returns that block instead of a new one.
   */
  readonly requestId?: string;
  /** Lease the block containing this address (text form; see above). */
  readonly address?: string;
}

/**
 * Gives a block back: it becomes free (whatever its state). A `removing` subnet left holding
 * nothing is deleted, and a `deregistering` node left holding nothing is removed.
 */
export interface ReleaseBlockCommand {
  readonly type: "release-block";
  readonly at: number;
  readonly node: string;
  /** The block's CIDR. */
  readonly cidr: string;
}

/**
 * Re-claims one exact block for the node that serves it (after a disaster restore from an
 * older backup, the cluster may not know blocks agents still serve): leases block `cidr` to
 * `node` if and only if it is free in the cluster. Idempotent: a block already leased to `node`
 * is returned as it is (in its state: a revoked one stays revoked). Refused, changing nothing:
 * `CONFLICT` when another node holds it (`details.owner`), `DRAINING` when its subnet drains or
 * is being removed, `NOT_FOUND` for an unknown node or a CIDR that is no block of a block-mode
 * subnet, `INVALID_ARGUMENT` for a block outside the node's path subnets or one lying entirely
 * inside reserved ranges, and the node's deregistration refusal.
 */
export interface ClaimBlockCommand {
  readonly type: "claim-block";
  readonly at: number;
  readonly node: string;
  /** The block's CIDR (a block of its subnet: the subnet's block prefix). */
  readonly cidr: string;
}

/**
 * Allocates one address of a direct-mode subnet to `key` (idempotent per key and family:
 * a repeat returns the same address). `address` asks for a specific one.
 *
 * Supernet growth, as lease-block's for the TOR's direct-mode subnets: a new allocation that
 * leaves them at or above a direct-mode supernet's threshold carves the next one in the same
 * command (the value's `carved`); a request without `address` that finds no free address carves
 * one and allocates from it before failing.
 */
export interface AllocateDirectCommand {
  readonly type: "allocate-direct";
  readonly at: number;
  readonly node: string;
  readonly purpose: string;
  readonly family: Family;
  readonly key: AllocationKey;
  readonly address?: string;
  /** Replaces the purpose's strategy (default: the topology's, `zone` unless configured). */
  readonly strategy?: SubnetStrategy;
}

/**
 * Releases the key's direct addresses (of `family`, or all); an unknown key succeeds. As with
 * release-block, a `removing` subnet or `deregistering` node left holding nothing goes.
 */
export interface ReleaseDirectCommand {
  readonly type: "release-direct";
  readonly at: number;
  readonly key: AllocationKey;
  readonly family?: Family;
}

/**
 * Excludes a range from allocation at run time: `range` is an address, a CIDR or `first-last`
 * inside the subnet. In a direct-mode subnet `CONFLICT` when an allocated address falls inside.
 * In block mode it applies to blocks leased from then on (and fully reserved blocks are never
 * leased).
 */
export interface ReserveCommand {
  readonly type: "reserve";
  readonly at: number;
  readonly subnet: string;
  readonly range: string;
  readonly reason: string;
}

export interface UnreserveCommand {
  readonly type: "unreserve";
  readonly at: number;
  readonly subnet: string;
  readonly range: string;
}

/**
 * Several commands in one log entry (e.g. the direct allocations of many pods). Not atomic by
 * default: each command succeeds or fails on its own and the value lists every result in
 * order. With `atomic: true`, the first failure undoes the ones before it and the batch fails
 * with that error (`details.index` names it). Batches do not nest.
 */
export interface BatchCommand {
  readonly type: "batch";
  readonly at: number;
  readonly commands: readonly ClusterCommand[];
  readonly atomic?: boolean;
}

/**
 * Carves the next subnet for a TOR out of its supernets (the pod's, then the zone's, of
 * `purpose`, `family` and `mode`), whatever its usage: adjacent to the TOR's subnets when free,
 * else the first free aligned slot. Idempotent two ways: with `requestId`, a repeat while the
 * subnet it carved exists answers that subnet (`alreadyCarved`) and carves nothing (`CONFLICT` when
 * the id carved for another TOR, purpose or family); with `basis` (the number of the TOR's open
 * subnets of that purpose, family and mode the caller saw), a repeat after the carve carves
 * nothing (the value has no `carved`): two racing carve-subnet commands with the same basis
 * carve one subnet. Refused naming the field: `NOT_FOUND` (tor), `NO_SUBNET` (no supernet feeds
 * the TOR), `INVALID_ARGUMENT` (a `prefix` no feeding supernet can carve), `POOL_EXHAUSTED`
 * (every feeding supernet full).
 */
export interface CarveSubnetCommand {
  readonly type: "carve-subnet";
  readonly at: number;
  readonly tor: string;
  readonly purpose: string;
  readonly family: Family;
  readonly basis?: number;
  /**
   * Which of the TOR's subnets to grow: `block` (fed by block-mode supernets) or `direct` (fed
   * by supernets whose block prefix is the host prefix). Default: `direct` when only
   * direct-mode supernets feed the TOR's purpose and family, else `block`.
   */
  readonly mode?: CarveMode;
  /**
   * Prefix length of the new subnet instead of the supernet's `prefix`: from the supernet's
   * own prefix to its block prefix (the subnet holds whole blocks).
   */
  readonly prefix?: number;
  /** Idempotency key chosen by the caller (1 to 128 characters), see above. */
  readonly requestId?: string;
}

/** The name of a StatefulSet pod: `namespace/statefulSet-ordinal`, by its parts. */
export interface StickyKey {
  readonly namespace: string;
  readonly statefulSet: string;
  readonly ordinal: number;
}

/**
 * The sticky addresses of one StatefulSet pod name (see sticky-bindings.ts): `addresses`
 * (canonical text, IPv4 first), bound under TOR `tor` (their scope), held by the pod
 * incarnation `holder` (absent between incarnations).
 */
export interface StickyBinding extends StickyKey {
  readonly purpose: string;
  readonly addresses: readonly string[];
  readonly tor: string;
  /** `at` of the command that bound these addresses (ms). */
  readonly boundAt: number;
  readonly holder?: { readonly node: string; readonly podUid: string };
}

/**
 * Binds (or takes) the sticky addresses of a StatefulSet pod name for the pod `podUid` on
 * `node`, scope the node's TOR. Refused with `CONFLICT` (`details.retryable`) while another
 * pod UID holds the binding: never two holders. A binding with other addresses is replaced
 * (the pod came back outside the old scope); the value then has `moved`.
 */
export interface BindStickyCommand extends StickyKey {
  readonly type: "bind-sticky";
  readonly at: number;
  readonly purpose: string;
  /** One or two addresses (one per family), as the pod got them. */
  readonly addresses: readonly string[];
  readonly node: string;
  readonly podUid: string;
}

/** The holder `podUid` lets go (its DEL, the pod GC); the binding stays for the next pod. */
export interface ReleaseStickyCommand extends StickyKey {
  readonly type: "release-sticky";
  readonly at: number;
  readonly podUid: string;
}

/**
 * Forgets the unheld bindings of a StatefulSet from ordinal `fromOrdinal` up (scaled down to
 * that many replicas; 0 when deleted). Held ones stay (value `held`).
 */
export interface UnbindStickyCommand {
  readonly type: "unbind-sticky";
  readonly at: number;
  readonly namespace: string;
  readonly statefulSet: string;
  readonly fromOrdinal: number;
}

export interface BindStickyValue {
  readonly binding: StickyBinding;
  /** The addresses and scope the binding had before, when it got other addresses. */
  readonly moved?: { readonly addresses: readonly string[]; readonly tor: string };
}

export interface UnbindStickyValue {
  readonly unbound: readonly StickyBinding[];
  readonly held: readonly StickyBinding[];
}

/** A command's failure: a stable code, a message naming the field or entity, details. */
export interface CommandError {
  readonly code: PoolErrorCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** The outcome of one command. A failed command changed nothing. */
export type CommandResult<T = unknown> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CommandError };

/** One direct (per-address) allocation held in L1. */
export interface DirectAllocation {
  readonly key: AllocationKey;
  readonly family: Family;
  readonly node: string;
  readonly purpose: string;
  readonly subnet: string;
  readonly address: string;
  /** Prefix length of the subnet. */
  readonly prefixLength: number;
  readonly gateway: string | null;
  /** `at` of the allocating command (ms). */
  readonly allocatedAt: number;
}

/** A run-time reservation of a subnet. */
export interface Reservation {
  readonly subnet: string;
  /** Canonical: a CIDR or `first-last`. */
  readonly range: string;
  readonly reason: string;
  readonly at: number;
}

export interface ApplyTopologyValue {
  readonly diff: TopologyDiff;
  /** Nodes dropped because their TOR is gone (their leases were freed), sorted. */
  readonly removedNodes: readonly string[];
  /** Blocks and direct addresses freed by the change (removed draining subnets, removed nodes). */
  readonly freedBlocks: number;
  readonly freedAddresses: number;
  /**
   * With `source: "file"`: dropped draining subnets that still hold something and stay as
   * `removing` until given back, sorted.
   */
  readonly removing?: readonly string[];
  /** With `source: "file"`: API subnets the file declared identically and now manages, sorted. */
  readonly adopted?: readonly string[];
}

export interface DeregisterNodeValue {
  readonly node: string;
  /** CIDRs of the freed blocks, sorted. */
  readonly blocks: readonly string[];
  /** Freed direct addresses, in release order. */
  readonly addresses: readonly string[];
  /** With a `mode` other than `dead`: CIDRs of the blocks it still holds, now revoked, sorted. */
  readonly revokedBlocks?: readonly string[];
  /** With a `mode` other than `dead`: direct addresses it still holds (kept), sorted by key. */
  readonly keptAddresses?: readonly string[];
  /** With a `mode` other than `dead`: true when the node stays as `deregistering`. */
  readonly deregistering?: boolean;
}

export interface DirectAllocateValue extends DirectAllocation {
  /** True when the key already held this address (nothing changed). */
  readonly existing: boolean;
}

/** The value type of each command's successful result. */
export interface CommandValues {
  "apply-topology": ApplyTopologyValue;
  "register-node": Node;
  "deregister-node": DeregisterNodeValue;
  "add-subnet": Subnet;
  "remove-subnet": Subnet;
  "drain-subnet": { readonly subnet: string; readonly draining: boolean };
  "lease-block": LeaseBlockValue;
  "release-block": { readonly node: string; readonly cidr: string };
  "allocate-direct": AllocateDirectValue;
  "release-direct": readonly DirectAllocation[];
  reserve: Reservation;
  unreserve: Reservation;
  batch: readonly CommandResult[];
  "claim-block": BlockLease;
  "carve-subnet": CarveSubnetValue;
  "bind-sticky": BindStickyValue;
  "release-sticky": { readonly released: boolean };
  "unbind-sticky": UnbindStickyValue;
}

/** The result type of a command. */
export type ResultOf<C extends ClusterCommand> = CommandResult<CommandValues[C["type"]]>;
