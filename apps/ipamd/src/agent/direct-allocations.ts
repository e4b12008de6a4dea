import {
  type AllocationKey,
  type AllocationRecord,
  type CommandResult,
  type DirectAllocateValue,
  keyString,
} from "@ipam/subnet-pool";
import type { Family } from "@ipam/topology";
import type { Logger } from "pino";
import { directAddress } from "../allocated-address.js";
import type { ClusterApi } from "../cluster/cluster-api.js";
import { isOutage, toIpamdCode } from "../cluster/cluster-errors.js";
import { IpamdError } from "../ipamd-error.js";
import type { Attachment, PodRef } from "./allocation-request.js";
import { DirectBatcher } from "./direct-batcher.js";
import { type AgentStore, toStoredRecord } from "./stored-records.js";

/** Options of {@link DirectAllocations}. */
export interface DirectAllocationsOptions {
  readonly nodeId: string;
  readonly store: AgentStore;
  readonly cluster: ClusterApi;
  readonly now: () => number;
  readonly log: Logger;
  /** Most direct-mode allocations sent in one batch command; default 256. */
  readonly batchMax?: number;
}

/**
 * The node's direct-mode allocations: purposes whose subnets on the node's path are all
 * direct-mode are allocated per address in L1 (batched), and their records kept here by key
 * and in the store (before the answer). They need the cluster: while it is unreachable these
 * calls fail UNAVAILABLE at once.
 */
export class DirectAllocations {
  readonly #records = new Map<string, AllocationRecord>();
  readonly #options: DirectAllocationsOptions;
  readonly #batcher: DirectBatcher;

  constructor(options: DirectAllocationsOptions) {
    this.#options = options;
    this.#batcher = new DirectBatcher({
      cluster: options.cluster,
      now: options.now,
      ...(options.batchMax === undefined ? {} : { max: options.batchMax }),
    });
  }

  get size(): number {
    return this.#records.size;
  }

  get(key: AllocationKey): AllocationRecord | undefined {
    return this.#records.get(keyString(key));
  }

  /** Every record (a new array). */
  records(): AllocationRecord[] {
    return [...this.#records.values()];
  }

  /** Forgets every record (a start begins with this). */
  clear(): void {
    this.#records.clear();
  }

  /** Keeps `record` (one the store holds and L1 still allocates). */
  add(record: AllocationRecord): void {
    this.#records.set(keyString(record.key), record);
  }

  /** The records of `network` whose interface is not among `alive`. */
  stale(network: string, alive: readonly Attachment[]): AllocationRecord[] {
    const valid = new Set(alive.map((v) => `${v.containerId}\u0000${v.ifname}`));
    return this.records().filter(
      (r) => r.key.network === network && !valid.has(`${r.key.containerId}\u0000${r.key.ifname}`),
    );
  }

  /**
   * Allocates `families` of `purpose` for `key` in direct-mode subnets, all or nothing (a partial
   * success is released again), and saves the record before resolving (a failed save releases
   * the addresses). A family in `statics` gets exactly that address (refused by the cluster,
   * with the holder or the reason, when it cannot be had). UNAVAILABLE while the cluster is
   * unreachable.
   */
  async allocate(
    key: AllocationKey,
    purpose: string,
    families: readonly Family[],
    pod: PodRef | undefined,
    statics: ReadonlyMap<Family, string> = new Map(),
  ): Promise<AllocationRecord> {
    const { cluster, log, now, nodeId, store } = this.#options;
    if (!cluster.available()) {
      throw new IpamdError(
        "UNAVAILABLE",
        `purpose ${purpose} is direct-mode and the cluster is unreachable; try again`,
      );
    }
    const at = now();
    let results: CommandResult[];
    try {
      results = await Promise.all(
        families.map((family) =>
          this.#batcher.submit({
            type: "allocate-direct",
            at,
            node: nodeId,
            purpose,
            family,
            key,
            ...(statics.has(family) ? { address: statics.get(family) as string } : {}),
          }),
        ),
      );
    } catch (err) {
      if (!isOutage(err)) throw err;
      throw new IpamdError(
        "UNAVAILABLE",
        `purpose ${purpose} is direct-mode and the cluster is unreachable; try again`,
        { cause: err },
      );
    }
    const rollback = () =>
      cluster
        .execute({ type: "release-direct", at: now(), key })
        .catch((err: unknown) => log.warn({ err, key }, "direct rollback failed"));
    const failed = results.find((r) => !r.ok);
    if (failed !== undefined && !failed.ok) {
      if (results.some((r) => r.ok)) await rollback();
      throw new IpamdError(toIpamdCode(failed.error.code), failed.error.message, {
        details: failed.error.details,
      });
    }
    const addresses = results.map((r) =>
      directAddress((r as { value: DirectAllocateValue }).value),
    );
    const record: AllocationRecord = { key, purpose, addresses, createdAt: at };
    try {
      await store.saveAllocation(toStoredRecord(record, nodeId, pod));
    } catch (err) {
      await rollback();
      throw err;
    }
    this.#records.set(keyString(key), record);
    return record;
  }

  /**
   * Releases `records` in the cluster (batched with concurrent releases), then deletes them
   * from the store and forgets them. UNAVAILABLE while the cluster is unreachable.
   */
  async release(records: readonly AllocationRecord[]): Promise<void> {
    if (records.length === 0) return;
    const at = this.#options.now();
    try {
      const results = await Promise.all(
        records.map((r) => this.#batcher.submit({ type: "release-direct", at, key: r.key })),
      );
      const failed = results.find((r) => !r.ok);
      if (failed !== undefined && !failed.ok) {
        throw new IpamdError(toIpamdCode(failed.error.code), failed.error.message);
      }
    } catch (err) {
      if (!isOutage(err)) throw err;
      throw new IpamdError(
        "UNAVAILABLE",
        "direct-mode addresses are released in the cluster, which is unreachable; try again",
        { cause: err },
      );
    }
    for (const r of records) {
      await this.#options.store.deleteAllocation(r.key);
      this.#records.delete(keyString(r.key));
    }
  }
}
