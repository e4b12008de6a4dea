import { formatIp, tryParseIp } from "@ipam/bitmap";
import { byString, fail, requireString } from "./command-args.js";
import type {
  BindStickyCommand,
  BindStickyValue,
  ReleaseStickyCommand,
  StickyBinding,
  StickyKey,
  UnbindStickyCommand,
  UnbindStickyValue,
} from "./commands.js";
import type { Registry } from "./registry.js";
import type { UndoJournal } from "./undo-journal.js";

const MAX_NAME = 253;

/** `namespace/statefulSet/ordinal`: the map key and the text form of a {@link StickyKey}. */
export function stickyKeyString(k: StickyKey): string {
  return `${k.namespace}/${k.statefulSet}/${k.ordinal}`;
}

function compareBindings(a: StickyBinding, b: StickyBinding): number {
  return (
    byString(a.namespace, b.namespace) ||
    byString(a.statefulSet, b.statefulSet) ||
    a.ordinal - b.ordinal
  );
}

function requireName(value: unknown, path: string): string {
  const s = requireString(value, path);
  if (s.length > MAX_NAME || s.includes("/"))
    fail("INVALID_ARGUMENT", `${path}: must be a Kubernetes name (at most ${MAX_NAME}, no '/')`, {
      field: path,
    });
  return s;
}

function requireOrdinal(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    fail("INVALID_ARGUMENT", `${path}: must be an integer >= 0`, { field: path });
  return value;
}

/** Canonical text of each address, one per family at most, IPv4 first. */
function requireAddresses(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 2)
    fail("INVALID_ARGUMENT", `${path}: must list one or two addresses (one per family)`, {
      field: path,
    });
  const out: Array<{ family: number; text: string }> = [];
  for (const [i, a] of value.entries()) {
    const ip = typeof a === "string" ? tryParseIp(a) : undefined;
    if (ip === undefined)
      fail("INVALID_ARGUMENT", `${path}[${i}]: ${String(a)} is not an IP address`, {
        field: path,
      });
    if (out.some((o) => o.family === ip.family))
      fail("INVALID_ARGUMENT", `${path}: at most one address per family`, { field: path });
    out.push({ family: ip.family, text: formatIp(ip) });
  }
  return out.sort((x, y) => x.family - y.family).map((o) => o.text);
}

/**
 * The sticky addresses of StatefulSet pods (L1): per `namespace/statefulSet/ordinal`, the
 * addresses the pod of that name gets whatever its incarnation, the TOR they were bound under
 * (their scope), and the pod incarnation (UID, node) holding them now, if any.
 *
 * The binding is the lock that keeps one name's address from two live pods: while a holder is
 * recorded, a pod of that name with another UID is refused (`CONFLICT`, retryable) until the
 * holder is released (its DEL, or the pod GC confirming the old UID gone). The address itself
 * is held by the holder's allocation (the static-address path, cluster-wide), so no other key
 * can take it while the pod lives.
 *
 * Contracts: deterministic (time is each command's `at`); every mutation goes through the undo
 * journal; queries return fresh arrays, sorted by namespace, StatefulSet, ordinal.
 */
export class StickyBindings {
  readonly #journal: UndoJournal;
  readonly #registry: Registry;
  readonly #byKey = new Map<string, StickyBinding>();

  constructor(journal: UndoJournal, registry: Registry) {
    this.#journal = journal;
    this.#registry = registry;
  }

  get(key: StickyKey): StickyBinding | undefined {
    return this.#byKey.get(stickyKeyString(key));
  }

  /** Every binding (of one namespace, and StatefulSet), sorted. */
  list(
    filter: { readonly namespace?: string; readonly statefulSet?: string } = {},
  ): StickyBinding[] {
    return [...this.#byKey.values()]
      .filter(
        (b) =>
          (filter.namespace === undefined || b.namespace === filter.namespace) &&
          (filter.statefulSet === undefined || b.statefulSet === filter.statefulSet),
      )
      .sort(compareBindings);
  }

  /** How many bindings there are. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * `bind-sticky`: records `addresses` for the key, held by pod `podUid` on `node` (scope: the
   * node's TOR). Idempotent for the holder. A binding held by another UID is refused with
   * `CONFLICT` (`details.retryable`, the holder); a binding with other addresses (the pod came
   * back outside the old scope and got new ones) is replaced, and the value names the old ones.
   * @throws PoolError INVALID_ARGUMENT (a field), NOT_FOUND (node), CONFLICT (held by another).
   */
  bind(c: BindStickyCommand): BindStickyValue {
    const key: StickyKey = {
      namespace: requireName(c.namespace, "bind-sticky.namespace"),
      statefulSet: requireName(c.statefulSet, "bind-sticky.statefulSet"),
      ordinal: requireOrdinal(c.ordinal, "bind-sticky.ordinal"),
    };
    const purpose = requireString(c.purpose, "bind-sticky.purpose");
    const podUid = requireString(c.podUid, "bind-sticky.podUid");
    const addresses = requireAddresses(c.addresses, "bind-sticky.addresses");
    const node = this.#registry.requireNode(c.node, "bind-sticky.node");
    const k = stickyKeyString(key);
    const old = this.#byKey.get(k);
    if (old?.holder !== undefined && old.holder.podUid !== podUid) {
      fail(
        "CONFLICT",
        `sticky address ${old.addresses.join(", ")} of ${k} is held by pod ${old.holder.podUid} on node ${old.holder.node}: the new pod gets it once the old one has released it (its DEL, or the pod GC); retry`,
        { sticky: k, holderNode: old.holder.node, holderUid: old.holder.podUid, retryable: true },
      );
    }
    const same = old !== undefined && old.addresses.join(",") === addresses.join(",");
    const binding: StickyBinding = {
      ...key,
      purpose,
      addresses,
      tor: same ? old.tor : node.tor,
      boundAt: same ? old.boundAt : c.at,
      holder: { node: node.id, podUid },
    };
    this.#journal.set(this.#byKey, k, binding);
    return {
      binding,
      ...(old === undefined || same ? {} : { moved: { addresses: old.addresses, tor: old.tor } }),
    };
  }

  /**
   * `release-sticky`: the holder `podUid` lets go (its DEL, the pod GC); the binding stays for
   * the next pod of that name. Another UID, or no binding: nothing changes. True when released.
   */
  release(c: ReleaseStickyCommand): boolean {
    const key: StickyKey = {
      namespace: requireName(c.namespace, "release-sticky.namespace"),
      statefulSet: requireName(c.statefulSet, "release-sticky.statefulSet"),
      ordinal: requireOrdinal(c.ordinal, "release-sticky.ordinal"),
    };
    const podUid = requireString(c.podUid, "release-sticky.podUid");
    const k = stickyKeyString(key);
    const old = this.#byKey.get(k);
    if (old?.holder?.podUid !== podUid) return false;
    const { holder: _, ...free } = old;
    this.#journal.set(this.#byKey, k, free);
    return true;
  }

  /**
   * `unbind-sticky`: forgets the bindings of a StatefulSet from `fromOrdinal` up (scaled down
   * to `fromOrdinal` replicas; 0 when it was deleted). A held binding stays (listed in `held`):
   * a pod still holds its address, and the controller tries again once it is gone.
   */
  unbind(c: UnbindStickyCommand): UnbindStickyValue {
    const namespace = requireName(c.namespace, "unbind-sticky.namespace");
    const statefulSet = requireName(c.statefulSet, "unbind-sticky.statefulSet");
    const from = requireOrdinal(c.fromOrdinal, "unbind-sticky.fromOrdinal");
    const unbound: StickyBinding[] = [];
    const held: StickyBinding[] = [];
    for (const b of this.list({ namespace, statefulSet })) {
      if (b.ordinal < from) continue;
      if (b.holder !== undefined) {
        held.push(b);
        continue;
      }
      this.#journal.delete(this.#byKey, stickyKeyString(b));
      unbound.push(b);
    }
    return { unbound, held };
  }

  /** Clears the holders on `node` (the node is gone with its pods: `deregister-node` dead). */
  releaseNode(node: string): void {
    for (const b of this.list()) {
      if (b.holder?.node !== node) continue;
      const { holder: _, ...free } = b;
      this.#journal.set(this.#byKey, stickyKeyString(b), free);
    }
  }

  /** Snapshot restore: adds a binding as it was (nothing recorded). */
  restore(b: StickyBinding): void {
    this.#byKey.set(stickyKeyString(b), b);
  }
}
