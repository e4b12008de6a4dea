import type Database from "better-sqlite3";
import { type AllocationKey, type AllocationRecord, buildRecord } from "./allocation-record.js";
import { StoreError } from "./store-error.js";

interface Row {
  network: string;
  container_id: string;
  ifname: string;
  addresses: string;
  subnets: string | null;
  node: string;
  purpose: string;
  subnet: string | null;
  pod_namespace: string | null;
  pod_name: string | null;
  pod_uid: string | null;
  created_at: number;
}

const COLUMNS =
  "network, container_id, ifname, addresses, subnets, node, purpose, subnet, pod_namespace, pod_name, created_at, pod_uid";
const ORDER = "ORDER BY network, container_id, ifname";

function toRecord(row: Row): AllocationRecord {
  return buildRecord({
    network: row.network,
    containerId: row.container_id,
    ifname: row.ifname,
    addresses: JSON.parse(row.addresses) as string[],
    node: row.node,
    purpose: row.purpose,
    subnet: row.subnet,
    subnets: row.subnets === null ? undefined : (JSON.parse(row.subnets) as string[]),
    podNamespace: row.pod_namespace,
    podName: row.pod_name,
    podUid: row.pod_uid,
    createdAt: row.created_at,
  });
}

/**
 * Synchronous SQL over the allocation tables. A record is one `allocations` row (addresses
 * inline, in order) plus one `allocation_addresses` row per address, kept in step by
 * triggers, whose primary key (network, address) makes two live records holding one
 * address impossible. Writers run
 * inside the caller's transaction and savepoint (the group commit batch).
 */
export class AllocationTable {
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: Database.Database) {
    this.#s = prepare(db);
  }

  get(key: AllocationKey): AllocationRecord | undefined {
    const row = this.#s.byKey.get(key.network, key.containerId, key.ifname) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  getByAddress(network: string, address: string): AllocationRecord | undefined {
    const row = this.#s.byAddress.get(network, address) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  listByNode(node: string): AllocationRecord[] {
    return (this.#s.byNode.all(node) as Row[]).map(toRecord);
  }

  listByNetwork(network: string): AllocationRecord[] {
    return (this.#s.byNetwork.all(network) as Row[]).map(toRecord);
  }

  listAll(): AllocationRecord[] {
    return (this.#s.all.all() as Row[]).map(toRecord);
  }

  count(): number {
    return this.#s.count.get() as number;
  }

  /**
   * Inserts `record` (already normalised) unless its key exists, in which case the stored
   * record is returned untouched with created=false. One statement: a trigger inserts the
   * address rows, so when an address is held by another key the statement fails as a whole
   * and nothing is written (item-atomic, no savepoint needed).
   * @throws StoreError `CONFLICT` naming the address and its holder.
   */
  insert(record: AllocationRecord): { record: AllocationRecord; created: boolean } {
    const { network, containerId, ifname, addresses } = record;
    let inserted: number;
    try {
      inserted = this.#s.insert.run(
        network,
        containerId,
        ifname,
        JSON.stringify(addresses),
        record.subnets === undefined ? null : JSON.stringify(record.subnets),
        record.node,
        record.purpose,
        record.subnet ?? null,
        record.podNamespace ?? null,
        record.podName ?? null,
        record.createdAt,
        record.podUid ?? null,
      ).changes;
    } catch (err) {
      if ((err as { code?: unknown }).code !== "SQLITE_CONSTRAINT_PRIMARYKEY") throw err;
      const taken = addresses.find((a) => this.#s.addressOwner.get(network, a) !== undefined);
      throw this.#conflict(network, taken ?? addresses[0]!, err);
    }
    if (inserted === 0) {
      const existing = this.get(record);
      if (existing === undefined) throw new StoreError("INTERNAL", "record vanished during save");
      return { record: existing, created: false };
    }
    return { record, created: true };
  }

  #conflict(network: string, address: string, cause: unknown): StoreError {
    const owner = this.#s.addressOwner.get(network, address) as
      | { container_id: string; ifname: string }
      | undefined;
    const holder =
      owner === undefined
        ? "another record"
        : `container ${owner.container_id} interface ${owner.ifname}`;
    return new StoreError(
      "CONFLICT",
      `address ${address} on network ${network} is held by ${holder}`,
      {
        details: {
          network,
          address,
          ...(owner === undefined
            ? {}
            : { holder: { network, containerId: owner.container_id, ifname: owner.ifname } }),
        },
        cause,
      },
    );
  }

  /**
   * Deletes the record with `key` (a trigger removes its address rows); returns it, or
   * undefined. One statement (`DELETE ... RETURNING`), not a read then a delete: release is
   * half of the node API's hot path.
   */
  delete(key: AllocationKey): AllocationRecord | undefined {
    const row = this.#s.delete.get(key.network, key.containerId, key.ifname) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * Cross-checks the two tables: every address row belongs to a record listing it, and every
   * listed address has its row. Returns one message per inconsistency (empty when sound).
   */
  consistencyProblems(): string[] {
    const orphans = (this.#s.orphanAddresses.all() as { network: string; address: string }[]).map(
      (r) => `address row ${r.network}/${r.address} belongs to no record listing it`,
    );
    const missing = (
      this.#s.missingAddresses.all() as {
        network: string;
        container_id: string;
        ifname: string;
        address: string;
      }[]
    ).map(
      (r) =>
        `record ${r.network}/${r.container_id}/${r.ifname} lists ${r.address} without holding its address row`,
    );
    return [...orphans, ...missing];
  }
}

function prepare(db: Database.Database) {
  return {
    byKey: db.prepare(
      `SELECT ${COLUMNS} FROM allocations WHERE network = ? AND container_id = ? AND ifname = ?`,
    ),
    byAddress: db.prepare(
      `SELECT ${COLUMNS} FROM allocations WHERE (network, container_id, ifname) =
         (SELECT network, container_id, ifname FROM allocation_addresses
          WHERE network = ? AND address = ?)`,
    ),
    byNode: db.prepare(`SELECT ${COLUMNS} FROM allocations WHERE node = ? ${ORDER}`),
    byNetwork: db.prepare(`SELECT ${COLUMNS} FROM allocations WHERE network = ? ${ORDER}`),
    all: db.prepare(`SELECT ${COLUMNS} FROM allocations ${ORDER}`),
    count: db.prepare("SELECT count(*) FROM allocations").pluck(),
    addressOwner: db.prepare(
      "SELECT container_id, ifname FROM allocation_addresses WHERE network = ? AND address = ?",
    ),
    insert: db.prepare(
      `INSERT INTO allocations (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (network, container_id, ifname) DO NOTHING`,
    ),
    delete: db.prepare(
      `DELETE FROM allocations WHERE network = ? AND container_id = ? AND ifname = ?
       RETURNING ${COLUMNS}`,
    ),
    orphanAddresses: db.prepare(
      `SELECT x.network, x.address FROM allocation_addresses x
       WHERE NOT EXISTS (
         SELECT 1 FROM allocations a, json_each(a.addresses) j
         WHERE a.network = x.network AND a.container_id = x.container_id
           AND a.ifname = x.ifname AND j.value = x.address)`,
    ),
    missingAddresses: db.prepare(
      `SELECT a.network, a.container_id, a.ifname, j.value AS address
       FROM allocations a, json_each(a.addresses) j
       WHERE NOT EXISTS (
         SELECT 1 FROM allocation_addresses x
         WHERE x.network = a.network AND x.address = j.value
           AND x.container_id = a.container_id AND x.ifname = a.ifname)`,
    ),
  };
}
