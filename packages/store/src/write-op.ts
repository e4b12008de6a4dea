import type Database from "better-sqlite3";
import type { AllocationKey, AllocationRecord, SaveResult } from "./allocation-record.js";
import { AllocationTable } from "./allocation-table.js";

/** A released address and the time (ms since the epoch) before which it must not be reused. */
export interface CoolingAddress {
  readonly address: string;
  readonly until: number;
}

/**
 * One group-committed write, as plain data: it is validated and normalised by the caller
 * (`Store`) and may cross to the commit thread by structured clone.
 *
 * - `save`: insert `record` unless its key exists (→ `SaveResult`).
 * - `delete`: delete the record with `key`; when one was deleted, write `cooling` in the same
 *   transaction (→ the deleted record or `undefined`).
 * - `retain`: delete every record of `network` whose `containerId + "\0" + ifname` is not in
 *   `keep` (→ the deleted records, caller owns the array).
 */
export type WriteOp =
  | { readonly kind: "save"; readonly record: AllocationRecord }
  | {
      readonly kind: "delete";
      readonly key: AllocationKey;
      readonly cooling: readonly CoolingAddress[];
    }
  | { readonly kind: "retain"; readonly network: string; readonly keep: readonly string[] };

/** What each kind of `WriteOp` resolves with. */
export type WriteResult = SaveResult | AllocationRecord | undefined | AllocationRecord[];

/**
 * The statements group-committed writes run on one connection. `apply` runs inside the
 * caller's transaction and is item-atomic: when it throws an item-level error (`CONFLICT`,
 * `INVALID_ARGUMENT`, `NOT_FOUND`) it has written nothing (see `AllocationTable.insert`).
 */
export class WriteTarget {
  readonly #allocations: AllocationTable;
  readonly #putCooling: Database.Statement;

  constructor(db: Database.Database) {
    this.#allocations = new AllocationTable(db);
    this.#putCooling = db.prepare(
      `INSERT INTO cooling (address, until) VALUES (?, ?)
       ON CONFLICT (address) DO UPDATE SET until = excluded.until`,
    );
  }

  apply(op: WriteOp): WriteResult {
    switch (op.kind) {
      case "save":
        return this.#allocations.insert(op.record);
      case "delete": {
        const deleted = this.#allocations.delete(op.key);
        if (deleted !== undefined) {
          for (const c of op.cooling) this.#putCooling.run(c.address, c.until);
        }
        return deleted;
      }
      case "retain": {
        const keep = new Set(op.keep);
        const removed: AllocationRecord[] = [];
        for (const r of this.#allocations.listByNetwork(op.network)) {
          if (!keep.has(`${r.containerId}\u0000${r.ifname}`)) {
            this.#allocations.delete(r);
            removed.push(r);
          }
        }
        return removed;
      }
    }
  }
}
