import { createTopology, type TopologyConfig, toCanonicalConfig } from "@ipam/topology";
import { attachSubnet, type ClusterParts, createClusterParts } from "./cluster-parts.js";
import { byString } from "./command-args.js";
import type { SubnetOrigin } from "./commands.js";
import type { DirectEntry } from "./direct-records.js";
import { PoolError } from "./pool-error.js";

/**
 * The snapshot format of the cluster state: `IPCS` magic, a version byte, then UTF-8 JSON in
 * which every collection is sorted, so replicas that applied the same commands write
 * byte-identical snapshots. The format is versioned: a build writes its own version and reads
 * it and every earlier one, and test/fixtures/ holds snapshots of every version so far that
 * must keep restoring.
 *
 * Versions:
 * - 1: topology, subnets (draining, reservations, leased blocks, direct cursor and cool-down),
 *   direct allocations.
 * - 2: adds the block life cycle: per subnet its origin (`file`/`api`), `removing` and its
 *   revoked blocks; the `deregistering` nodes. A version 1 snapshot restores with every subnet
 *   of origin `file` and nothing removing, revoked or deregistering.
 * - 3: a subnet's origin may be `carved` (cut from a supernet for a TOR), and the topology may
 *   carry `purposes` (strategy per purpose), subnet `strategy` and zone/pod `supernets`. The
 *   layout is version 2's; an older build must not read it (it would take carved subnets for
 *   file subnets and drop them on the next reload).
 * - 4: adds `carveRequests`: `[subnet id, request id]` of the carved subnets a carve-subnet
 *   command with a `requestId` made, sorted by subnet id (what answers its retries). A version
 *   3 snapshot restores with none.
 * - 5: adds `sticky`, the StatefulSet pods' sticky addresses (sticky-bindings.ts). A version 1
 *   to 4 snapshot restores with none.
 */

const SNAPSHOT_MAGIC = [0x49, 0x50, 0x43, 0x53]; // "IPCS"
/** Version of the snapshot format this build writes; it reads this one and every earlier one. */
export const SNAPSHOT_VERSION = 5;
const OLDEST_READABLE = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

interface SnapshotDoc {
  readonly format: "ipam-cluster-state";
  readonly version: number;
  /** The canonical topology config (`toCanonicalConfig`). */
  readonly topology: TopologyConfig;
  /** Per subnet, sorted by id. */
  readonly subnets: readonly SnapshotSubnet[];
  /** Direct allocations per direct-mode subnet that has any (sorted by subnet id), column-wise. */
  readonly direct: readonly SnapshotDirect[];
  /** Version 2: `deregistering` nodes `[id, since]`, sorted by id. */
  readonly deregistering?: readonly [string, number][];
  /** Version 4: `[subnet id, request id]` of subnets carved by a carve-subnet with a request id. */
  readonly carveRequests?: readonly [string, string][];
  /**
   * Version 5: sticky bindings `[namespace, statefulSet, ordinal, purpose, addresses, tor,
   * boundAt, holderNode?, holderUid?]`, sorted by namespace, StatefulSet, ordinal.
   */
  readonly sticky?: readonly SnapshotSticky[];
}

type SnapshotSticky =
  | [string, string, number, string, string[], string, number]
  | [string, string, number, string, string[], string, number, string, string];

/**
 * `[id, draining, reservations, blocks, cursor, cooling, origin, removing, revoked]`:
 * reservations `[range, reason, at]` sorted by range; leased blocks `[index (decimal), node,
 * leasedAt, requestId?]` by index; the direct pool's cursor (0 in block mode); its cool-down
 * queue `[offset, until]` in order; (version 2) the origin, `removing`, and the revoked blocks
 * `[index (decimal), revokedAt]` by index. Version 1 has the first six only.
 */
type SnapshotSubnet = [...SubnetV1] | [...SubnetV1, SubnetOrigin, boolean, [string, number][]];

type SubnetV1 = [
  string,
  boolean,
  [string, string, number][],
  ([string, string, number] | [string, string, number, string])[],
  number,
  [number, number][],
];

/**
 * The direct allocations of one subnet, sorted by key: `strings` is a table of the networks,
 * ifnames, nodes and purposes; `rows` holds six numbers per allocation (offset in the subnet,
 * network, ifname, node and purpose indexes into `strings`, allocatedAt); `containers` the
 * container ids.
 */
interface SnapshotDirect {
  readonly subnet: string;
  readonly strings: readonly string[];
  readonly containers: readonly string[];
  readonly rows: readonly number[];
}

/** The whole state as snapshot bytes (a fresh array, the caller's). */
export function encodeSnapshot(parts: ClusterParts): Uint8Array {
  const sorted = parts.subnets.sorted();
  const subnets: SnapshotSubnet[] = sorted.map((st) => {
    const id = st.subnet.id;
    const blocks: SubnetV1[3] = [];
    const revoked: [string, number][] = [];
    parts.leases.forEachIn(id, (i, o) => {
      blocks.push(
        o.requestId === undefined
          ? [i.toString(), o.node, o.leasedAt]
          : [i.toString(), o.node, o.leasedAt, o.requestId],
      );
      if (o.revokedAt !== undefined) revoked.push([i.toString(), o.revokedAt]);
    });
    const pool = parts.direct.pool(id);
    return [
      id,
      st.draining,
      parts.reservations.list(st).map((r) => [r.range, r.reason, r.at]),
      blocks,
      pool?.cursor ?? 0,
      pool?.coolingQueue() ?? [],
      st.origin,
      st.removing,
      revoked,
    ];
  });
  const direct: SnapshotDirect[] = [];
  const records = parts.direct.records;
  for (const st of sorted) {
    const pool = parts.direct.pool(st.subnet.id);
    if (pool === undefined || pool.allocated === 0) continue;
    const table = new Map<string, number>();
    const intern = (text: string): number => {
      let i = table.get(text);
      if (i === undefined) {
        i = table.size;
        table.set(text, i);
      }
      return i;
    };
    const containers: string[] = [];
    const rows: number[] = [];
    for (const row of pool.rows().sort(records.compare)) {
      containers.push(records.containerId(row));
      rows.push(
        records.offset(row),
        intern(records.network(row)),
        intern(records.ifname(row)),
        intern(records.node(row)),
        intern(records.purpose(row)),
        records.allocatedAt(row),
      );
    }
    direct.push({ subnet: st.subnet.id, strings: [...table.keys()], containers, rows });
  }
  const doc: SnapshotDoc = {
    format: "ipam-cluster-state",
    version: SNAPSHOT_VERSION,
    topology: toCanonicalConfig(parts.registry.topology),
    subnets,
    direct,
    deregistering: parts.registry.deregisteringNodes(),
    carveRequests: sorted.flatMap((st): [string, string][] =>
      st.carveRequest === undefined ? [] : [[st.subnet.id, st.carveRequest]],
    ),
    sticky: parts.sticky
      .list()
      .map((b) =>
        b.holder === undefined
          ? [b.namespace, b.statefulSet, b.ordinal, b.purpose, [...b.addresses], b.tor, b.boundAt]
          : [
              b.namespace,
              b.statefulSet,
              b.ordinal,
              b.purpose,
              [...b.addresses],
              b.tor,
              b.boundAt,
              b.holder.node,
              b.holder.podUid,
            ],
      ),
  };
  const body = encoder.encode(JSON.stringify(doc));
  const out = new Uint8Array(body.length + 5);
  out.set(SNAPSHOT_MAGIC, 0);
  out[4] = SNAPSHOT_VERSION;
  out.set(body, 5);
  return out;
}

/**
 * A fresh state from {@link encodeSnapshot} bytes.
 * @throws PoolError `UNSUPPORTED_VERSION` (another snapshot version), `INVALID_ENCODING`
 * (not a snapshot, or an inconsistent one; `cause` holds the underlying error).
 */
export function decodeSnapshot(bytes: Uint8Array): ClusterParts {
  if (bytes.length < 5 || SNAPSHOT_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new PoolError("INVALID_ENCODING", "not a cluster-state snapshot (bad magic)");
  }
  const version = bytes[4] as number;
  if (version < OLDEST_READABLE || version > SNAPSHOT_VERSION) {
    throw new PoolError(
      "UNSUPPORTED_VERSION",
      `snapshot version ${version} is not supported (this build reads ${OLDEST_READABLE} to ${SNAPSHOT_VERSION})`,
      { details: { version } },
    );
  }
  const parts = createClusterParts();
  try {
    const doc = JSON.parse(decoder.decode(bytes.subarray(5))) as SnapshotDoc;
    if (doc.format !== "ipam-cluster-state" || doc.version !== version)
      throw new Error("bad header");
    load(parts, doc);
  } catch (cause) {
    if (cause instanceof PoolError) throw cause;
    throw new PoolError(
      "INVALID_ENCODING",
      `invalid snapshot: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  return parts;
}

/** Fills empty parts from a parsed snapshot (nothing is recorded: no command is running). */
function load(parts: ClusterParts, doc: SnapshotDoc): void {
  const { registry, subnets, reservations, leases, direct } = parts;
  registry.replace(createTopology(doc.topology));
  for (const s of [...registry.topology.subnets.values()].sort((a, b) => byString(a.id, b.id)))
    attachSubnet(parts, s);
  for (const entry of doc.subnets) {
    const [id, draining, reserved, blocks, cursor, cooling] = entry;
    const st = subnets.get(id);
    if (st === undefined) throw new Error(`subnet ${id} is not in the topology`);
    st.draining = draining;
    const revokedAt = new Map<string, number>();
    if (doc.version >= 2) {
      const [, , , , , , origin, removing, revoked] = entry as Extract<
        SnapshotSubnet,
        { length: 9 }
      >;
      if (origin !== "file" && origin !== "api" && !(origin === "carved" && doc.version >= 3))
        throw new Error(`subnet ${id}: bad origin`);
      st.origin = origin;
      st.removing = removing === true;
      for (const [index, at] of revoked) revokedAt.set(index, at);
    }
    for (const [range, reason, at] of reserved)
      reservations.restore(st, { subnet: id, range, reason, at });
    const pool = direct.pool(id);
    if (pool !== undefined) {
      if (reserved.length > 0) direct.rebuild(st);
      for (const [offset, until] of cooling) pool.restoreCooling(offset, until);
      pool.restoreCursor(cursor);
    }
    for (const [index, node, leasedAt, requestId] of blocks) {
      if (!registry.has(node)) throw new Error(`block owner ${node} is not a node`);
      const revoked = revokedAt.get(index);
      revokedAt.delete(index);
      leases.lease(st, BigInt(index), {
        node,
        leasedAt,
        ...(requestId === undefined ? {} : { requestId }),
        ...(revoked === undefined ? {} : { revokedAt: revoked }),
      });
    }
    if (revokedAt.size > 0) throw new Error(`subnet ${id}: a revoked block is not leased`);
  }
  for (const [id, requestId] of doc.version >= 4 ? (doc.carveRequests ?? []) : []) {
    const st = subnets.get(id);
    if (st === undefined || st.origin !== "carved" || typeof requestId !== "string")
      throw new Error(`carve request of ${id}: not a carved subnet`);
    st.carveRequest = requestId;
  }
  for (const [node, since] of doc.deregistering ?? []) {
    if (!registry.has(node)) throw new Error(`deregistering ${node} is not a node`);
    registry.markDeregistering(node, since);
  }
  if (doc.version < 5 && doc.sticky !== undefined) throw new Error("sticky before version 5");
  for (const entry of doc.sticky ?? []) {
    const [namespace, statefulSet, ordinal, purpose, addresses, tor, boundAt, node, podUid] =
      entry as [string, string, number, string, string[], string, number, string?, string?];
    if (node !== undefined && !registry.has(node))
      throw new Error(`sticky holder ${node} is not a node`);
    parts.sticky.restore({
      namespace,
      statefulSet,
      ordinal,
      purpose,
      addresses,
      tor,
      boundAt,
      ...(node === undefined || podUid === undefined ? {} : { holder: { node, podUid } }),
    });
  }
  // Straight into the compact rows: one reused entry object, each string-table entry checked
  // once (a string, and a registered node where it names the owner).
  const entry: { -readonly [K in keyof DirectEntry]: DirectEntry[K] } = {
    network: "",
    containerId: "",
    ifname: "",
    family: 4,
    node: "",
    purpose: "",
    subnet: "",
    offset: 0,
    allocatedAt: 0,
  };
  let total = 0;
  for (const group of doc.direct)
    total += Array.isArray(group.containers) ? group.containers.length : 0;
  direct.records.reserve(total);
  for (const group of doc.direct) {
    const st = subnets.get(group.subnet);
    const pool = direct.pool(group.subnet);
    if (st === undefined || pool === undefined)
      throw new Error(`direct allocations in unknown subnet ${group.subnet}`);
    const { strings, containers, rows } = group;
    if (!Array.isArray(strings) || !Array.isArray(containers) || !Array.isArray(rows))
      throw new Error(`direct allocations of ${group.subnet}: bad layout`);
    if (rows.length !== containers.length * 6)
      throw new Error(
        `direct allocations of ${group.subnet}: ${rows.length} numbers for ${containers.length} rows`,
      );
    /** Per string index: 1 a string, 2 also a registered node (checked on first use). */
    const checked = new Uint8Array(strings.length);
    const str = (i: number, j: number, node: boolean): string => {
      const at = rows[i * 6 + j] as number;
      const seen = checked[at];
      if (seen === 2 || (seen === 1 && !node)) return strings[at] as string;
      const text = strings[at];
      if (typeof text !== "string")
        throw new Error(`direct row ${i} of ${group.subnet}: bad string index`);
      if (node && !registry.has(text)) throw new Error(`direct owner ${text} is not a node`);
      checked[at] = node ? 2 : 1;
      return text;
    };
    entry.family = st.subnet.family;
    entry.subnet = group.subnet;
    for (let i = 0; i < containers.length; i++) {
      const offset = rows[i * 6] as number;
      pool.claim(offset);
      entry.network = str(i, 1, false);
      entry.containerId = containers[i] as string;
      entry.ifname = str(i, 2, false);
      entry.node = str(i, 3, true);
      entry.purpose = str(i, 4, false);
      entry.offset = offset;
      entry.allocatedAt = rows[i * 6 + 5] as number;
      direct.add(entry);
    }
  }
}
