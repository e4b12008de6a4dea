import type Database from "better-sqlite3";
import { type AllocationKey, type AllocationRecord, buildRecord } from "./allocation-record.js";
import { StoreError } from "./store-error.js";

interface JoinedRow {
  id: number;
  network: string;
  container_id: string;
  ifname: string;
  node: string;
  purpose: string;
  subnet: string | null;
  pod_namespace: string | null;
  pod_name: string | null;
  created_at: number;
  address: string;
  address_subnet: string | null;
}

const SELECT_JOINED = `
  SELECT a.id, a.network, a.container_id, a.ifname, a.node, a.purpose, a.subnet,
         a.pod_namespace, a.pod_name, a.created_at, x.address, x.subnet AS address_subnet
  FROM allocations a JOIN allocation_addresses x ON x.allocation_id = a.id`;
const ORDER = "ORDER BY a.network, a.container_id, a.ifname, x.position";

/** Folds joined rows (grouped by record, addresses in position order) into records. */
function fold(rows: Iterable<JoinedRow>): AllocationRecord[] {
  const out: AllocationRecord[] = [];
  let cur: JoinedRow | undefined;
  let addresses: string[] = [];
  let subnets: (string | null)[] = [];
  const emit = () => {
    if (cur === undefined) return;
    out.push(
      buildRecord({
        network: cur.network,
        containerId: cur.container_id,
        ifname: cur.ifname,
        addresses,
        node: cur.node,
        purpose: cur.purpose,
        subnet: cur.subnet,
        subnets: subnets.every((s) => s === null) ? undefined : subnets.map((s) => s ?? ""),
        podNamespace: cur.pod_namespace,
        podName: cur.pod_name,
        createdAt: cur.created_at,
      }),
    );
  };
  for (const row of rows) {
    if (cur === undefined || row.id !== cur.id) {
      emit();
      cur = row;
      addresses = [];
      subnets = [];
    }
    addresses.push(row.address);
    subnets.push(row.address_subnet);
  }
  emit();
  return out;
}

/**
 * Synchronous SQL over the allocation tables. Writers run inside the caller's transaction
 * (the group commit batch); this class opens none itself.
 */
export class AllocationTable {
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.#s = prepare(db);
  }

  get(key: AllocationKey): AllocationRecord | undefined {
    return fold(
      this.#s.byKey.iterate(key.network, key.containerId, key.ifname) as Iterable<JoinedRow>,
    )[0];
  }

  getByAddress(network: string, address: string): AllocationRecord | undefined {
    const row = this.#s.addressOwner.get(network, address) as { allocation_id: number } | undefined;
    if (row === undefined) return undefined;
    return fold(this.#s.byId.iterate(row.allocation_id) as Iterable<JoinedRow>)[0];
  }

  listByNode(node: string): AllocationRecord[] {
    return fold(this.#s.byNode.iterate(node) as Iterable<JoinedRow>);
  }

  listByNetwork(network: string): AllocationRecord[] {
    return fold(this.#s.byNetwork.iterate(network) as Iterable<JoinedRow>);
  }

  listAll(): AllocationRecord[] {
    return fold(this.#s.all.iterate() as Iterable<JoinedRow>);
  }

  count(): number {
    return (this.#s.count.get() as { n: number }).n;
  }

  /**
   * Inserts `record` (already normalised) unless its key exists, in which case the stored
   * record is returned untouched with created=false.
   * @throws StoreError `CONFLICT` when an address is held by another key (nothing written).
   */
  insert(record: AllocationRecord): { record: AllocationRecord; created: boolean } {
    const existing = this.get(record);
    if (existing !== undefined) return { record: existing, created: false };
    for (const address of record.addresses) {
      const owner = this.#s.addressOwnerKey.get(record.network, address) as
        | { container_id: string; ifname: string }
        | undefined;
      if (owner !== undefined) {
        throw new StoreError(
          "CONFLICT",
          `address ${address} on network ${record.network} is held by container ${owner.container_id} interface ${owner.ifname}`,
          {
            network: record.network,
            address,
            holder: {
              network: record.network,
              containerId: owner.container_id,
              ifname: owner.ifname,
            },
          },
        );
      }
    }
    const id = this.#s.insert.run(
      record.network,
      record.containerId,
      record.ifname,
      record.node,
      record.purpose,
      record.subnet ?? null,
      record.podNamespace ?? null,
      record.podName ?? null,
      record.createdAt,
    ).lastInsertRowid;
    record.addresses.forEach((address, i) => {
      this.#s.insertAddress.run(record.network, address, id, i, record.subnets?.[i] ?? null);
    });
    return { record, created: true };
  }

  /** Deletes the record with `key`; returns it, or undefined when there was none. */
  delete(key: AllocationKey): AllocationRecord | undefined {
    const existing = this.get(key);
    if (existing === undefined) return undefined;
    this.#s.deleteAddresses.run(key.network, key.containerId, key.ifname);
    this.#s.delete.run(key.network, key.containerId, key.ifname);
    return existing;
  }
}

function prepare(db: Database.Database) {
  return {
    byKey: db.prepare(
      `${SELECT_JOINED} WHERE a.network = ? AND a.container_id = ? AND a.ifname = ? ${ORDER}`,
    ),
    byId: db.prepare(`${SELECT_JOINED} WHERE a.id = ? ${ORDER}`),
    byNode: db.prepare(`${SELECT_JOINED} WHERE a.node = ? ${ORDER}`),
    byNetwork: db.prepare(`${SELECT_JOINED} WHERE a.network = ? ${ORDER}`),
    all: db.prepare(`${SELECT_JOINED} ${ORDER}`),
    count: db.prepare("SELECT count(*) AS n FROM allocations"),
    addressOwner: db.prepare(
      "SELECT allocation_id FROM allocation_addresses WHERE network = ? AND address = ?",
    ),
    addressOwnerKey: db.prepare(
      `SELECT a.container_id, a.ifname FROM allocation_addresses x
       JOIN allocations a ON a.id = x.allocation_id WHERE x.network = ? AND x.address = ?`,
    ),
    insert: db.prepare(
      `INSERT INTO allocations (network, container_id, ifname, node, purpose, subnet,
         pod_namespace, pod_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertAddress: db.prepare(
      `INSERT INTO allocation_addresses (network, address, allocation_id, position, subnet)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    deleteAddresses: db.prepare(
      `DELETE FROM allocation_addresses WHERE allocation_id =
         (SELECT id FROM allocations WHERE network = ? AND container_id = ? AND ifname = ?)`,
    ),
    delete: db.prepare(
      "DELETE FROM allocations WHERE network = ? AND container_id = ? AND ifname = ?",
    ),
  };
}
