import type { Node, Pod, PurposePolicy, Subnet, Topology, Tor, Zone } from "./model.js";

/** Changes of one kind of entity; every list sorted by id. */
export interface KindDiff<T> {
  readonly added: readonly T[];
  readonly removed: readonly T[];
  /** Same id, different fields (name, labels, parent, CIDR settings, ...). */
  readonly changed: ReadonlyArray<{ readonly id: string; readonly before: T; readonly after: T }>;
}

/** A purpose's policy (the `purposes` section of the file) with the purpose's name as `id`. */
export interface NamedPurposePolicy extends PurposePolicy {
  readonly id: string;
}

/** What changed from one topology to another, per kind of entity. */
export interface TopologyDiff {
  readonly zones: KindDiff<Zone>;
  readonly pods: KindDiff<Pod>;
  readonly tors: KindDiff<Tor>;
  readonly nodes: KindDiff<Node>;
  readonly subnets: KindDiff<Subnet>;
  /**
   * Purposes the file configures (`purposes.<name>`): added, removed, or with another strategy.
   * A purpose the file stops configuring falls back to the default strategy.
   */
  readonly purposePolicies: KindDiff<NamedPurposePolicy>;
  /** True when nothing was added, removed or changed. */
  readonly empty: boolean;
}

/**
 * Structural equality of two model entities: their fields are primitives, arrays of primitives
 * or flat records of primitives (labels, scope), so one level of nesting suffices.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const va = (a as Record<string, unknown>)[k];
    const vb = (b as Record<string, unknown>)[k];
    if (va !== vb && !(typeof va === "object" && sameValue(va, vb))) return false;
  }
  return true;
}

function byId<T extends { readonly id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function diffKind<T extends { readonly id: string }>(
  before: ReadonlyMap<string, T>,
  after: ReadonlyMap<string, T>,
): KindDiff<T> {
  const added: T[] = [];
  const removed: T[] = [];
  const changed: Array<{ id: string; before: T; after: T }> = [];
  if (before === after) return { added, removed, changed };
  for (const [id, b] of before) {
    const a = after.get(id);
    if (a === undefined) removed.push(b);
    else if (!sameValue(a, b)) {
      changed.push({ id, before: b, after: a });
    }
  }
  for (const [id, a] of after) if (!before.has(id)) added.push(a);
  added.sort(byId);
  removed.sort(byId);
  changed.sort(byId);
  return { added, removed, changed };
}

function named(purposes: ReadonlyMap<string, PurposePolicy>): Map<string, NamedPurposePolicy> {
  const out = new Map<string, NamedPurposePolicy>();
  for (const [id, policy] of purposes) out.set(id, { id, ...policy });
  return out;
}

/**
 * Entity-level differences from `a` to `b`, matched by id within each kind. A subnet whose CIDR
 * changed under the same id is `changed`; with default ids (the CIDR) it shows as removed +
 * added. Unchanged maps shared between the two values (as operations produce) cost nothing.
 */
export function diff(a: Topology, b: Topology): TopologyDiff {
  const zones = diffKind(a.zones, b.zones);
  const pods = diffKind(a.pods, b.pods);
  const tors = diffKind(a.tors, b.tors);
  const nodes = diffKind(a.nodes, b.nodes);
  const subnets = diffKind(a.subnets, b.subnets);
  const purposePolicies = diffKind(named(a.purposes), named(b.purposes));
  const empty = [zones, pods, tors, nodes, subnets, purposePolicies].every(
    (k) => k.added.length === 0 && k.removed.length === 0 && k.changed.length === 0,
  );
  return { zones, pods, tors, nodes, subnets, purposePolicies, empty };
}
