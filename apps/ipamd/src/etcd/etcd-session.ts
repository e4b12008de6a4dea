import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  Lease,
  LeaseKeepAliveRequestSchema,
  type LeaseKeepAliveResponse,
} from "../gen/etcdserverpb/rpc_pb.js";
import type { EtcdClient } from "./etcd-client.js";
import { etcdError, etcdFailure } from "./etcd-errors.js";

/** Options of {@link EtcdSession}. */
export interface EtcdSessionOptions {
  /** Lease time to live, s: how long keys bound to it outlive this process; default 10. */
  readonly ttlSeconds?: number;
  readonly log: Logger;
  /** Called when the lease changes: a new lease (keys must be written again), or none (lost). */
  readonly onLease?: (lease: bigint | undefined) => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * One etcd lease kept alive for this process: keys bound to it (the controller key, the
 * server's presence key) disappear `ttlSeconds` after the process dies or loses etcd.
 *
 * Contracts: {@link lease} is the current lease while it is known to be alive by the local
 * clock (`validUntil`, counted from before the keep-alive was sent, so it errs on the early
 * side), else undefined. A lost lease is replaced by a new one as soon as etcd answers;
 * `onLease` reports both. {@link stop} revokes the lease (its keys go at once).
 */
export class EtcdSession {
  readonly #client: EtcdClient;
  readonly #options: EtcdSessionOptions;
  readonly #ttl: number;
  readonly #abort = new AbortController();
  #lease: bigint | undefined;
  #validUntil = 0;
  #loop: Promise<void> | undefined;

  constructor(client: EtcdClient, options: EtcdSessionOptions) {
    this.#client = client;
    this.#options = options;
    this.#ttl = options.ttlSeconds ?? 10;
  }

  /** The lease while it is alive (by the local clock), else undefined. */
  get lease(): bigint | undefined {
    if (this.#lease === undefined || Date.now() >= this.#validUntil) return undefined;
    return this.#lease;
  }

  get ttlSeconds(): number {
    return this.#ttl;
  }

  /** Starts granting and keeping the lease alive in the background (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  #set(lease: bigint | undefined): void {
    if (lease === this.#lease) return;
    this.#lease = lease;
    this.#options.onLease?.(lease);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const log = this.#options.log;
    let backoff = 100;
    while (!signal.aborted) {
      if (this.#lease !== undefined && Date.now() >= this.#validUntil) {
        log.warn({ lease: this.#lease.toString(16) }, "etcd lease expired (no keep-alive in time)");
        this.#set(undefined);
      }
      const sentAt = Date.now();
      try {
        if (this.#lease === undefined) {
          const granted = await this.#client.leaseGrant(this.#ttl);
          if (granted.error !== "") throw new Error(granted.error);
          this.#validUntil = sentAt + Number(granted.TTL) * 1000;
          this.#set(granted.ID);
          log.info(
            { lease: granted.ID.toString(16), ttl: Number(granted.TTL) },
            "etcd lease granted",
          );
        } else {
          const ttl = await this.#keepAlive(this.#lease);
          if (ttl <= 0) {
            log.warn({ lease: this.#lease.toString(16) }, "etcd lease expired");
            this.#set(undefined);
            continue;
          }
          this.#validUntil = sentAt + ttl * 1000;
        }
        backoff = 100;
        await sleep((this.#ttl * 1000) / 3, signal);
      } catch (err) {
        log.debug({ err }, "etcd lease keep-alive failed");
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  /** One keep-alive round on its own stream: the TTL etcd answers (0 or less: expired). */
  async #keepAlive(lease: bigint): Promise<number> {
    const { endpoint, call } = await this.#client.stream(Lease.method.leaseKeepAlive);
    const timeoutMs = Math.max(500, (this.#ttl * 1000) / 3);
    try {
      return await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#client.rotate(endpoint);
          reject(new Error(`keep-alive: no answer from ${endpoint} in ${timeoutMs} ms`));
        }, timeoutMs);
        call.once("data", (response: LeaseKeepAliveResponse) => {
          clearTimeout(timer);
          resolve(Number(response.TTL));
        });
        call.once("error", (err) => {
          clearTimeout(timer);
          const error = etcdError(err, "LeaseKeepAlive", endpoint);
          if (etcdFailure(error) === "auth-token") this.#client.dropToken();
          else this.#client.rotate(endpoint);
          reject(error);
        });
        call.write(create(LeaseKeepAliveRequestSchema, { ID: lease }));
      });
    } finally {
      call.removeAllListeners("data");
      call.on("error", () => undefined);
      call.cancel();
    }
  }

  /** Stops keeping the lease alive and revokes it (best effort, bounded by `timeoutMs`). */
  async stop(timeoutMs = 2000): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease === undefined) return;
    try {
      await this.#client.leaseRevoke(lease, { timeoutMs });
    } catch (err) {
      this.#options.log.warn({ err }, "etcd lease revoke failed; its keys expire with its TTL");
    }
  }
}
