import type { Logger } from "pino";
import { Compare_CompareResult, Compare_CompareTarget } from "../gen/etcdserverpb/rpc_pb.js";
import type { EtcdClient } from "./etcd-client.js";
import { bytes, type EtcdKeys, prefixEnd, text } from "./etcd-keys.js";
import type { EtcdSession } from "./etcd-session.js";

/** A server as the controller key and the presence keys name it. */
export interface ServerIdentity {
  readonly id: string;
  /** Its Cluster API address (what agents dial). */
  readonly address: string;
}

function parseIdentity(value: Uint8Array): ServerIdentity | undefined {
  try {
    const v = JSON.parse(text(value)) as { id?: unknown; address?: unknown };
    if (typeof v.id !== "string" || typeof v.address !== "string") return undefined;
    return { id: v.id, address: v.address };
  } catch {
    return undefined;
  }
}

/** Options of {@link ControllerElection}. */
export interface ControllerElectionOptions {
  readonly client: EtcdClient;
  readonly keys: EtcdKeys;
  readonly session: EtcdSession;
  readonly self: ServerIdentity;
  readonly log: Logger;
  /** Called when the controller changes (as this server sees it). */
  readonly onChange?: (controller: ServerIdentity | undefined) => void;
}

/**
 * Elects one server to run the tasks that must run once (topology file, snapshots and
 * compaction, future controllers) with a key bound to the server's lease: `<prefix>/controller`
 * is created only when absent (a transaction comparing its create revision with 0), so exactly
 * one server holds it; it disappears with the holder's lease (process death: after the lease
 * TTL; clean stop: at once, the lease is revoked). Each server also keeps a presence key
 * `<prefix>/servers/<id>` on its lease, so GetStatus can list the live servers.
 *
 * {@link isController} is true only while this server holds the key with its current, live
 * lease: tasks it guards are written to be harmless if two servers briefly both believe they
 * hold it (every controller write is idempotent or guarded by a compare).
 */
export class ControllerElection {
  readonly #o: ControllerElectionOptions;
  #holder: (ServerIdentity & { readonly lease: bigint }) | undefined;
  #presence: bigint | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;

  constructor(options: ControllerElectionOptions) {
    this.#o = options;
  }

  /** The controller as last seen (undefined when none or unknown). */
  get controller(): ServerIdentity | undefined {
    const h = this.#holder;
    return h === undefined ? undefined : { id: h.id, address: h.address };
  }

  /** True while this server holds the controller key with its live lease. */
  isController(): boolean {
    const lease = this.#o.session.lease;
    return (
      lease !== undefined && this.#holder?.id === this.#o.self.id && this.#holder.lease === lease
    );
  }

  /** Campaigns now and then every `intervalMs` (default 1 000). */
  start(intervalMs = 1000): void {
    const tick = () => {
      if (this.#stopped) return;
      void this.tick().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
      });
    };
    tick();
  }

  /**
   * One round: refresh the presence key if the lease changed, try to take the controller key,
   * and learn who holds it. Errors are logged at debug and leave the last view (etcd
   * unreachable: the lease will lapse and {@link isController} turns false by itself).
   */
  async tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const lease = this.#o.session.lease;
      const before = this.controller?.id;
      if (lease === undefined) {
        this.#holder = undefined;
      } else {
        await this.#refresh(lease);
      }
      if (this.controller?.id !== before) {
        this.#o.log.info(
          { controller: this.controller?.id ?? null, self: this.#o.self.id },
          `controller is ${this.controller?.id ?? "unknown"}`,
        );
        this.#o.onChange?.(this.controller);
      }
    } catch (err) {
      this.#o.log.debug({ err }, "controller election round failed");
    } finally {
      this.#running = false;
    }
  }

  async #refresh(lease: bigint): Promise<void> {
    const { client, keys, self } = this.#o;
    const value = bytes(JSON.stringify({ id: self.id, address: self.address }));
    if (this.#presence !== lease) {
      await client.put({ key: bytes(keys.server(self.id)), value, lease });
      this.#presence = lease;
    }
    const key = bytes(keys.controller);
    const r = await client.txn({
      compare: [
        {
          key,
          target: Compare_CompareTarget.CREATE,
          result: Compare_CompareResult.EQUAL,
          targetUnion: { case: "createRevision", value: 0n },
        },
      ],
      success: [{ request: { case: "requestPut", value: { key, value, lease } } }],
      failure: [{ request: { case: "requestRange", value: { key } } }],
    });
    if (r.succeeded) {
      this.#holder = { ...self, lease };
      return;
    }
    const op = r.responses[0]?.response;
    const kv = op?.case === "responseRange" ? op.value.kvs[0] : undefined;
    const who = kv === undefined ? undefined : parseIdentity(kv.value);
    this.#holder = kv === undefined || who === undefined ? undefined : { ...who, lease: kv.lease };
  }

  /** The live servers (presence keys), sorted by id. */
  async servers(): Promise<ServerIdentity[]> {
    const key = bytes(this.#o.keys.servers);
    const r = await this.#o.client.range({ key, rangeEnd: prefixEnd(key) });
    const out: ServerIdentity[] = [];
    for (const kv of r.kvs) {
      const who = parseIdentity(kv.value);
      if (who !== undefined) out.push(who);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Stops campaigning (the caller revokes the session's lease, which frees the keys). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
