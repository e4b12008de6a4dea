import type Database from "better-sqlite3";
import { StoreError } from "./store-error.js";

/** What happened to an address: a record took it, or gave it back. */
export type AddressEventKind = "allocate" | "release";

/**
 * One allocation or release of one address. `(node, journal, seq)` identifies it across the
 * cluster: `journal` is the id of the node's store (`history.journal-id`), `seq` its position
 * in that store's journal (from 1, increasing, never reused).
 */
export interface AddressEvent {
  readonly node: string;
  readonly journal: string;
  readonly seq: number;
  /** ms since the epoch: the record's `createdAt` for an allocation, the DELETE's time for a release. */
  readonly at: number;
  readonly event: AddressEventKind;
  /** Canonical text. */
  readonly address: string;
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly purpose: string;
  readonly subnet?: string;
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly podUid?: string;
}

/** Net allocations of one subnet in one time bucket (see {@link AddressHistory.growth}). */
export interface SubnetGrowth {
  /** Subnet id ("" when the record named none). */
  readonly subnet: string;
  /** Bucket number: `floor((at - since) / bucketMs)`. */
  readonly bucket: number;
  readonly allocated: number;
  readonly released: number;
}

interface Row {
  node: string;
  journal: string;
  seq: number;
  at: number;
  event: string;
  address: string;
  network: string;
  container_id: string;
  ifname: string;
  purpose: string;
  subnet: string | null;
  pod_namespace: string | null;
  pod_name: string | null;
  pod_uid: string | null;
}

const EVENT_COLUMNS =
  "seq, at, event, address, network, container_id, ifname, purpose, subnet, pod_namespace, pod_name, pod_uid";

function toEvent(row: Row): AddressEvent {
  const out: { -readonly [K in keyof AddressEvent]: AddressEvent[K] } = {
    node: row.node,
    journal: row.journal,
    seq: row.seq,
    at: row.at,
    event: row.event === "release" ? "release" : "allocate",
    address: row.address,
    network: row.network,
    containerId: row.container_id,
    ifname: row.ifname,
    purpose: row.purpose,
  };
  if (row.subnet !== null) out.subnet = row.subnet;
  if (row.pod_namespace !== null) out.podNamespace = row.pod_namespace;
  if (row.pod_name !== null) out.podName = row.pod_name;
  if (row.pod_uid !== null) out.podUid = row.pod_uid;
  return out;
}

function limitOf(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new StoreError("INVALID_ARGUMENT", `${field}: ${value} is not a positive integer`, {
      details: {
        field,
      },
    });
  }
  return value;
}

function timeOf(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StoreError("INVALID_ARGUMENT", `${field}: expected ms since the epoch`, {
      details: { field },
    });
  }
  return value;
}

/**
 * The address history in one store (docs/ipamd.md, "Address history"):
 *
 * - the **journal**: this node's own events, written by triggers in the same statement (so the
 *   same transaction and fsync) as the allocation record they describe; read in `seq` order to
 *   ship them, pruned past the retention;
 * - the **archive** (servers): every node's events as shipped to this server, stored once per
 *   `(node, journal, seq)`, queried by address and time, pruned past the retention.
 *
 * Reads are synchronous on the store's connection. Writes (`archive`, the prunes) are short
 * immediate transactions on the calling thread, holding the store's write lock: call them off
 * the allocation path, with bounded `limit`s. Arrays returned are the caller's.
 */
export class AddressHistory {
  readonly #s: ReturnType<typeof prepare>;
  readonly #read: <T>(what: string, fn: () => T) => T;
  readonly #write: <T>(what: string, fn: () => T) => T;

  /** @internal Use `Store.addressHistory()`. */
  constructor(
    db: Database.Database,
    read: <T>(what: string, fn: () => T) => T,
    write: <T>(what: string, fn: () => T) => T,
  ) {
    this.#s = prepare(db);
    this.#read = read;
    this.#write = write;
  }

  /** This store's journal id (random, made when the history tables were created). */
  journalId(): string {
    return this.#read("journalId", () => {
      const id = this.#s.journalId.get() as string | undefined;
      if (id === undefined) throw new StoreError("INTERNAL", "history.journal-id is missing");
      return id;
    });
  }

  /** Up to `limit` journal events with `seq > afterSeq`, in seq order. */
  journalAfter(afterSeq: number, limit: number): AddressEvent[] {
    const n = limitOf("limit", limit);
    return this.#read("journalAfter", () => {
      const journal = this.#s.journalId.get() as string;
      return (this.#s.journalAfter.all(afterSeq, n) as Omit<Row, "journal">[]).map((r) =>
        toEvent({ ...r, journal }),
      );
    });
  }

  /** The highest journal seq written so far (0 when none). */
  journalHead(): number {
    return this.#read("journalHead", () => (this.#s.journalHead.get() as number | null) ?? 0);
  }

  /**
   * Deletes, among the `limit` oldest journal events (by seq), those older than `before` (ms),
   * never the newest event (so that a seq is never reused); returns how many. Durable. Repeat
   * while it returns `limit` to prune more.
   */
  pruneJournal(before: number, limit: number): number {
    timeOf("before", before);
    const n = limitOf("limit", limit);
    return this.#write("pruneJournal", () => this.#s.pruneJournal.run(n, before).changes);
  }

  /**
   * Stores shipped events of `node`'s `journal` (each once: a repeated `(node, journal, seq)` is
   * ignored) and returns the highest seq of that journal now stored. Durable on return. The
   * caller validated the events (they came through the Cluster API's limits); `node` and
   * `journal` of each event are taken from the arguments.
   */
  archive(node: string, journal: string, events: readonly AddressEvent[]): number {
    return this.#write("archive", () => {
      for (const e of events) {
        this.#s.archive.run(
          node,
          journal,
          e.seq,
          e.at,
          e.event,
          e.address,
          e.network,
          e.containerId,
          e.ifname,
          e.purpose,
          e.subnet ?? null,
          e.podNamespace ?? null,
          e.podName ?? null,
          e.podUid ?? null,
        );
      }
      return (this.#s.archivedThrough.get(node, journal) as number | null) ?? 0;
    });
  }

  /** The highest seq of `node`'s `journal` in the archive (0 when none). */
  archivedThrough(node: string, journal: string): number {
    return this.#read(
      "archivedThrough",
      () => (this.#s.archivedThrough.get(node, journal) as number | null) ?? 0,
    );
  }

  /**
   * Archived events of `address` (canonical text) with `since <= at <= until`, ordered by time,
   * then node, then seq.
   */
  archivedOf(address: string, since: number, until: number): AddressEvent[] {
    return this.#read("archivedOf", () =>
      (this.#s.archivedOf.all(address, since, until) as Row[]).map(toEvent),
    );
  }

  /** The time of the oldest archived event, or undefined when the archive is empty. */
  oldestArchived(): number | undefined {
    return this.#read(
      "oldestArchived",
      () => (this.#s.oldestArchived.get() as number | null) ?? undefined,
    );
  }

  /** Deletes up to `limit` archived events older than `before` (ms); returns how many. Durable. */
  pruneArchive(before: number, limit: number): number {
    timeOf("before", before);
    const n = limitOf("limit", limit);
    return this.#write("pruneArchive", () => this.#s.pruneArchive.run(before, n).changes);
  }

  /**
   * Archived allocations and releases per subnet and time bucket since `since` (ms), buckets of
   * `bucketMs`: the forecast's series. Ordered by subnet, then bucket; empty buckets are absent.
   */
  growth(since: number, bucketMs: number): SubnetGrowth[] {
    timeOf("since", since);
    limitOf("bucketMs", bucketMs);
    return this.#read("growth", () =>
      (
        this.#s.growth.all(since, bucketMs, since) as {
          subnet: string;
          bucket: number;
          allocated: number;
          released: number;
        }[]
      ).map((r) => ({
        subnet: r.subnet,
        bucket: r.bucket,
        allocated: r.allocated,
        released: r.released,
      })),
    );
  }
}

function prepare(db: Database.Database) {
  return {
    journalId: db.prepare("SELECT value FROM meta WHERE key = 'history.journal-id'").pluck(),
    journalAfter: db.prepare(
      `SELECT node, ${EVENT_COLUMNS} FROM address_events WHERE seq > ? ORDER BY seq LIMIT ?`,
    ),
    journalHead: db.prepare("SELECT max(seq) FROM address_events").pluck(),
    // Among the `limit` oldest rows by seq (a rowid range: no scan of the rest of the table,
    // which has no index on `at`), those older than the cut-off, except the newest row of all:
    // it keeps the rowid counter (seq = max + 1) from going back.
    pruneJournal: db.prepare(
      `DELETE FROM address_events WHERE seq IN
         (SELECT seq FROM address_events ORDER BY seq LIMIT ?) AND at < ?
         AND seq < (SELECT max(seq) FROM address_events)`,
    ),
    archive: db.prepare(
      `INSERT INTO address_history (node, journal, ${EVENT_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (node, journal, seq) DO NOTHING`,
    ),
    archivedThrough: db
      .prepare("SELECT max(seq) FROM address_history WHERE node = ? AND journal = ?")
      .pluck(),
    archivedOf: db.prepare(
      `SELECT node, journal, ${EVENT_COLUMNS} FROM address_history
       WHERE address = ? AND at >= ? AND at <= ? ORDER BY at, node, seq`,
    ),
    oldestArchived: db.prepare("SELECT min(at) FROM address_history").pluck(),
    pruneArchive: db.prepare(
      `DELETE FROM address_history WHERE (node, journal, seq) IN
         (SELECT node, journal, seq FROM address_history WHERE at < ? ORDER BY at LIMIT ?)`,
    ),
    growth: db.prepare(
      `SELECT coalesce(subnet, '') AS subnet, CAST((at - ?) / ? AS INTEGER) AS bucket,
              sum(event = 'allocate') AS allocated, sum(event = 'release') AS released
       FROM address_history WHERE at >= ? GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
  };
}
