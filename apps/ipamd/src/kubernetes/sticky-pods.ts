import type { AllocateRequest } from "@ipam/grpc-server";
import {
  type AllocationKey,
  keyString,
  type StickyBinding,
  type StickyKey,
} from "@ipam/subnet-pool";
import type { V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { AgentStore } from "../agent/stored-records.js";
import { IpamdError } from "../ipamd-error.js";

/** What the agent asks the cluster about sticky addresses (RemoteCluster over gRPC). */
export interface StickyCluster {
  /** The binding of a pod name (linearizable), or undefined. */
  stickyBinding(key: StickyKey): Promise<StickyBinding | undefined>;
  /**
   * `bind-sticky`; rejects CONFLICT while another pod UID holds the binding. `moved` names the
   * addresses the binding had before, when it got other ones.
   */
  bindSticky(
    key: StickyKey,
    bind: {
      readonly purpose: string;
      readonly addresses: readonly string[];
      readonly node: string;
      readonly podUid: string;
    },
  ): Promise<{ binding: StickyBinding; moved?: { addresses: readonly string[]; tor: string } }>;
  /** `release-sticky` for the holder `podUid`; true when it held the binding. */
  releaseSticky(key: StickyKey, podUid: string, node: string): Promise<boolean>;
}

/**
 * The StatefulSet pod name of `pod`: its controller ownerReference is a StatefulSet and its name
 * is `<statefulset>-<ordinal>`. Undefined for any other pod.
 */
export function stickyKeyOf(pod: V1Pod): StickyKey | undefined {
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  const name = pod.metadata?.name;
  const namespace = pod.metadata?.namespace;
  if (owner?.kind !== "StatefulSet" || name === undefined || namespace === undefined)
    return undefined;
  const prefix = `${owner.name}-`;
  const ordinal = name.startsWith(prefix) ? name.slice(prefix.length) : "";
  if (!/^(0|[1-9][0-9]{0,8})$/.test(ordinal)) return undefined;
  return { namespace, statefulSet: owner.name, ordinal: Number(ordinal) };
}

/** A StatefulSet pod's ADD as the agent will run it. */
export interface StickyPlan {
  readonly key: StickyKey;
  readonly podUid: string;
  readonly purpose: string;
  /** The request asking for the bound addresses; undefined when there is nothing bound. */
  readonly bound?: AllocateRequest;
  /**
   * True when no pod held the binding at ADD (the previous one let go, so its allocation is
   * gone): another key holding the bound address then is another pod that took it meanwhile.
   */
  readonly unheld: boolean;
}

const META_KEY = "k8s.sticky-holders";

/**
 * The agent's side of sticky addresses: before an ADD, the bound addresses of the pod's name
 * (refused, retryable, while another pod holds them: never two holders); after it, the binding
 * to the addresses the pod got; after a DEL (or the pod GC's release), the holder lets go.
 * Which allocation key holds which binding is kept in the agent's store (meta), so a DEL after
 * a restart still lets go.
 */
export class StickyPods {
  readonly #cluster: StickyCluster;
  readonly #store: Pick<AgentStore, "getMeta" | "setMeta" | "listByNode">;
  readonly #nodeId: string;
  readonly #log: Logger;
  /** Allocation key → `namespace/statefulSet/ordinal/uid`. */
  readonly #holders: Map<string, string>;

  constructor(
    cluster: StickyCluster,
    store: Pick<AgentStore, "getMeta" | "setMeta" | "listByNode">,
    nodeId: string,
    log: Logger,
  ) {
    this.#cluster = cluster;
    this.#store = store;
    this.#nodeId = nodeId;
    this.#log = log;
    let parsed: unknown;
    try {
      parsed = JSON.parse(store.getMeta(META_KEY) ?? "{}");
    } catch {
      parsed = {};
    }
    this.#holders = new Map(
      Object.entries(typeof parsed === "object" && parsed !== null ? parsed : {}).filter(
        (e): e is [string, string] => typeof e[1] === "string",
      ),
    );
    // A holder whose allocation is gone let go before a restart, or tried to and failed (the
    // cluster unreachable at its DEL): let go now, or the next pod of that name waits forever.
    const allocated = new Set(
      store
        .listByNode(nodeId)
        .map((r) =>
          keyString({ network: r.network, containerId: r.containerId, ifname: r.ifname }),
        ),
    );
    for (const k of this.#holders.keys()) if (!allocated.has(k)) this.#letGo(k, 0);
  }

  /**
   * The plan of an ADD for `pod` (undefined: not a StatefulSet pod, no UID, or addresses given
   * explicitly, which win).
   * @throws IpamdError UNAVAILABLE (retryable) while another pod UID holds the binding, or when
   *   the cluster cannot be asked.
   */
  async plan(req: AllocateRequest, pod: V1Pod): Promise<StickyPlan | undefined> {
    const key = stickyKeyOf(pod);
    const podUid = req.podUid || pod.metadata?.uid || "";
    if (key === undefined || podUid === "" || req.requestedAddresses.length > 0) return undefined;
    const purpose = req.purpose === "" ? "default" : req.purpose;
    let b: StickyBinding | undefined;
    try {
      b = await this.#cluster.stickyBinding(key);
    } catch (err) {
      throw new IpamdError(
        "UNAVAILABLE",
        `reading the sticky address of ${key.namespace}/${key.statefulSet}-${key.ordinal}: ${(err as Error).message}; try again`,
        { cause: err },
      );
    }
    if (b?.holder !== undefined && b.holder.podUid !== podUid) {
      throw new IpamdError(
        "UNAVAILABLE",
        `sticky address ${b.addresses.join(", ")} of ${key.namespace}/${key.statefulSet}-${key.ordinal} is still held by the previous pod (UID ${b.holder.podUid} on ${b.holder.node}): this pod gets it once that one has released it (its DEL, or the pod GC); the runtime retries`,
        { details: { holderNode: b.holder.node, holderUid: b.holder.podUid, retryable: true } },
      );
    }
    const bound =
      b === undefined || b.purpose !== purpose
        ? undefined
        : { ...req, requestedAddresses: [...b.addresses] };
    const unheld = b?.holder === undefined;
    return { key, podUid, purpose, unheld, ...(bound === undefined ? {} : { bound }) };
  }

  /**
   * Binds the addresses the pod got (`allocation` holds them) to its name; resolves with the
   * old addresses when the binding moved. Rejects CONFLICT when another pod took the binding
   * meanwhile (the caller releases the allocation).
   */
  async bind(
    plan: StickyPlan,
    allocation: AllocationKey,
    addresses: readonly string[],
  ): Promise<{ addresses: readonly string[]; tor: string } | undefined> {
    const r = await this.#cluster.bindSticky(plan.key, {
      purpose: plan.purpose,
      addresses,
      node: this.#nodeId,
      podUid: plan.podUid,
    });
    const k = plan.key;
    this.#holders.set(
      keyString(allocation),
      `${k.namespace}/${k.statefulSet}/${k.ordinal}/${plan.podUid}`,
    );
    this.#save();
    return r.moved;
  }

  /**
   * After `allocation` was released: its pod lets go of its binding, in the background. A
   * failure (the cluster unreachable) is logged and retried with a backoff (1 s doubling to
   * 30 s) until it succeeds, and again after a restart: a holder left behind would keep the
   * next pod of that name waiting.
   */
  released(allocation: AllocationKey): void {
    const k = keyString(allocation);
    if (this.#holders.has(k)) this.#letGo(k, 0);
  }

  #letGo(k: string, attempt: number): void {
    const held = this.#holders.get(k);
    if (held === undefined) return;
    const [namespace = "", statefulSet = "", ordinal = "0", podUid = ""] = held.split("/");
    const key: StickyKey = { namespace, statefulSet, ordinal: Number(ordinal) };
    this.#cluster.releaseSticky(key, podUid, this.#nodeId).then(
      () => {
        if (this.#holders.get(k) !== held) return;
        this.#holders.delete(k);
        this.#save();
      },
      (err: unknown) => {
        const delayMs = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
        this.#log.warn(
          { err, sticky: `${namespace}/${statefulSet}/${ordinal}`, retryInMs: delayMs },
          "could not release a sticky address; retrying",
        );
        setTimeout(() => this.#letGo(k, attempt + 1), delayMs).unref();
      },
    );
  }

  #save(): void {
    this.#store.setMeta(META_KEY, JSON.stringify(Object.fromEntries(this.#holders)));
  }
}
