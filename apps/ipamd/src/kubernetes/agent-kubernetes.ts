import type { AllocateRequest } from "@ipam/grpc-server";
import type { AllocationKey } from "@ipam/subnet-pool";
import type { V1Namespace, V1Node, V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Agent } from "../agent/agent.js";
import type { Registration } from "../agent/node-start.js";
import type { AgentStore } from "../agent/stored-records.js";
import { IpamdError } from "../ipamd-error.js";
import { ControllerLoop } from "./controller-loop.js";
import type { K8sConfig } from "./k8s-config.js";
import { createK8sMetrics, type K8sMetrics } from "./k8s-metrics.js";
import { type KubeApi, openKubeApi } from "./kube-api.js";
import { KubeReflector } from "./kube-reflector.js";
import { type NodePlacement, placementOf } from "./node-labels.js";
import { podWishes } from "./pod-annotations.js";
import { PodGc } from "./pod-gc.js";
import { PodUids } from "./pod-uids.js";
import { type StickyCluster, StickyPods } from "./sticky-pods.js";

/** What an agent hands its Kubernetes side. */
export interface AgentKubernetesOptions {
  readonly config: K8sConfig;
  readonly nodeId: string;
  readonly store: Pick<AgentStore, "listByNode" | "getMeta" | "setMeta">;
  readonly registry: Registry;
  readonly log: Logger;
  /** `--tor`: the node's TOR is fixed by the flag; its Node's labels do not place it. */
  readonly fixedTor?: string;
  /**
   * Whether the cluster still has this node registered (a read). A node whose blocks were
   * revoked (deleted, NotReady, moved) is removed once it has returned them; when it is back and
   * placed, it registers again.
   */
  readonly nodeKnown?: () => Promise<boolean>;
  /** The cluster's sticky-address calls; without it StatefulSet pods get fresh addresses. */
  readonly sticky?: StickyCluster;
}

const NAMESPACE_TTL_MS = 10_000;

/** What {@link AgentKubernetes.allocate} reads of an Allocate answer. */
export interface AllocateAnswer {
  readonly addresses?: readonly { readonly address?: string }[];
}

const addressesOf = (r: AllocateAnswer): string[] =>
  (r.addresses ?? []).map((a) => a.address ?? "").filter((a) => a !== "");

/**
 * The agent's side of `--kubernetes`: its Node (placement from the labels, followed), its own
 * node's Pods (annotations at ADD, the pod GC), Events on Pods. Create with
 * {@link startAgentKubernetes}, then {@link AgentKubernetes.attach} the agent.
 */
export class AgentKubernetes {
  readonly #o: AgentKubernetesOptions;
  readonly #api: KubeApi;
  readonly #metrics: K8sMetrics;
  readonly #log: Logger;
  readonly #node: KubeReflector<V1Node>;
  readonly #pods: KubeReflector<V1Pod>;
  readonly #uids: PodUids;
  readonly #namespaces = new Map<string, { ns: V1Namespace | undefined; at: number }>();
  #placement: NodePlacement | undefined;
  #lastError: string | undefined;
  #agent: Agent | undefined;
  #gcLoop: ControllerLoop | undefined;
  #waiters: Array<(reg: Registration) => void> = [];
  readonly #sticky: StickyPods | undefined;

  constructor(o: AgentKubernetesOptions, api: KubeApi) {
    this.#o = o;
    this.#api = api;
    this.#log = o.log.child({ component: "kubernetes" });
    this.#metrics = createK8sMetrics(o.registry);
    this.#uids = new PodUids(o.store);
    this.#sticky =
      o.sticky === undefined ? undefined : new StickyPods(o.sticky, o.store, o.nodeId, this.#log);
    this.#node = new KubeReflector<V1Node>(
      api,
      "nodes",
      { fieldSelector: `metadata.name=${o.nodeId}` },
      {
        onUpsert: (n) => this.#nodeChanged(n),
        onDelete: () => {
          this.#placement = { ok: false, reason: `Node ${o.nodeId} is not in the Kubernetes API` };
        },
        onSynced: () => {
          this.#lastError = undefined;
          if (this.#node.get("", o.nodeId) === undefined) {
            this.#placement = {
              ok: false,
              reason: `Node ${o.nodeId} is not in the Kubernetes API (NODE_NAME / --node-id)`,
            };
          }
        },
        onRestart: (reason) => this.#metrics.watchRestart("nodes", reason),
        onError: (err) => {
          this.#lastError = (err as Error).message;
        },
      },
      this.#log,
      o.config.watchIdleMs,
    );
    this.#pods = new KubeReflector<V1Pod>(
      api,
      "pods",
      { fieldSelector: `spec.nodeName=${o.nodeId}` },
      {
        onDelete: () => this.#gcLoop?.trigger(),
        onSynced: () => this.#gcLoop?.trigger(),
        onRestart: (reason) => this.#metrics.watchRestart("pods", reason),
      },
      this.#log,
      o.config.watchIdleMs,
    );
  }

  /** Starts the reflectors. */
  start(): void {
    this.#node.start();
    this.#pods.start();
  }

  /**
   * Why the node is not ready on the Kubernetes side: the Node not read yet, a missing TOR
   * label (naming it), a move to another TOR the cluster has not taken yet; else undefined.
   */
  notReady(): string | undefined {
    if (this.#o.fixedTor !== undefined) return undefined;
    const p = this.#placement;
    if (p === undefined) {
      return `waiting for Node ${this.#o.nodeId} from the Kubernetes API${this.#lastError === undefined ? "" : `: ${this.#lastError}`}`;
    }
    if (!p.ok) return p.reason;
    const pending = this.#agent?.pendingRegistration;
    if (pending !== undefined) {
      const refusal = this.#agent?.registrationRefusal;
      return `moving to TOR ${pending.tor} (label ${this.#o.config.torLabel}): the cluster takes the node under its new TOR once the blocks of the old one are returned${refusal === undefined ? "" : `; last answer: ${refusal}`}`;
    }
    return undefined;
  }

  /** Resolves with the node's registration once its Node's labels place it. */
  placement(): Promise<Registration> {
    const p = this.#placement;
    if (p?.ok) return Promise.resolve({ tor: p.tor, labels: p.labels });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Follows label changes with `agent` and starts the pod GC. */
  attach(agent: Agent): void {
    this.#agent = agent;
    const gc = new PodGc({
      api: this.#api,
      nodeId: this.#o.nodeId,
      records: () => this.#o.store.listByNode(this.#o.nodeId),
      uids: this.#uids,
      cached: (ns, name) => this.#pods.get(ns, name),
      release: async (key) => {
        const r = await agent.release(key);
        this.released(key);
        return r;
      },
      graceMs: this.#o.config.podGraceMs,
      now: Date.now,
      log: this.#log,
      metrics: this.#metrics,
    });
    this.#gcLoop = new ControllerLoop(
      "pod-gc",
      async () => {
        if (!agent.ready) return;
        await this.#registerAgain(agent);
        if (!this.#pods.synced) return;
        await gc.pass();
      },
      this.#log,
      this.#metrics,
    );
    this.#gcLoop.start(
      Math.min(this.#o.config.resyncMs, Math.max(1000, this.#o.config.podGraceMs)),
    );
    this.#gcLoop.trigger();
  }

  /** Registers the node again when the cluster removed it (see `nodeKnown`). */
  async #registerAgain(agent: Agent): Promise<void> {
    const p = this.#placement;
    if (this.#o.fixedTor !== undefined || this.#o.nodeKnown === undefined || !p?.ok) return;
    if (agent.pendingRegistration !== undefined || (await this.#o.nodeKnown())) return;
    this.#log.warn(
      { tor: p.tor },
      `the cluster no longer lists ${this.#o.nodeId}: registering it again under ${p.tor}`,
    );
    agent.reregister({ tor: p.tor, labels: p.labels });
  }

  #nodeChanged(node: V1Node): void {
    if (this.#o.fixedTor !== undefined) return;
    const p = placementOf(node, this.#o.config);
    const before = this.#placement;
    this.#placement = p;
    if (!p.ok) {
      if (before?.ok !== false || before.reason !== p.reason) this.#log.warn(p.reason);
      return;
    }
    const reg: Registration = { tor: p.tor, labels: p.labels };
    for (const w of this.#waiters.splice(0)) w(reg);
    if (before?.ok === true && before.tor !== p.tor && this.#agent !== undefined) {
      this.#log.warn(
        { from: before.tor, to: p.tor },
        `Node ${this.#o.nodeId} moved from TOR ${before.tor} to ${p.tor}: registering under ${p.tor} once the cluster has taken back the old TOR's blocks`,
      );
      this.#agent.reregister(reg);
    }
  }

  /**
   * An Allocate for a Kubernetes pod, with its UID recorded and its annotations applied: the
   * pod's (else its namespace's) purpose when the network list asks for none (or `default`),
   * and the pod's static addresses when the request carries none; both only for the primary
   * interface (`eth0`). The pod is read from the cache when it is there with the same UID,
   * else fresh from the API.
   * @throws IpamdError UNAVAILABLE when the pod cannot be read (the runtime retries ADD),
   *   INVALID_ARGUMENT for a malformed annotation.
   */
  async prepareAllocate(req: AllocateRequest): Promise<AllocateRequest> {
    return (await this.#prepare(req)).request;
  }

  /**
   * An ADD with `--kubernetes`: {@link prepareAllocate}, then for a StatefulSet pod its sticky
   * addresses (docs/kubernetes.md, "Sticky addresses for StatefulSet pods"): the bound ones
   * through the static-address path, else fresh ones, bound to its name afterwards. A bound
   * address another key still holds (the previous pod not released yet) is refused UNAVAILABLE
   * (retryable); one this node cannot serve (moved outside its scope) gives way to a fresh one,
   * with a Warning Event `IpamdStickyAddressMoved`. Failures a user must see become Events.
   * `run` allocates; `undo` releases what `run` allocated when the binding is refused.
   */
  async allocate<R extends AllocateAnswer>(
    req: AllocateRequest,
    run: (r: AllocateRequest) => Promise<R>,
    undo: (key: AllocationKey) => Promise<unknown>,
  ): Promise<R> {
    let prepared: AllocateRequest | undefined;
    try {
      const { request, pod } = await this.#prepare(req);
      prepared = request;
      const plan =
        pod === undefined || this.#sticky === undefined
          ? undefined
          : await this.#sticky.plan(request, pod);
      if (plan === undefined) return await run(request);
      let res: R;
      let notHere: string | undefined;
      if (plan.bound !== undefined) {
        try {
          res = await run(plan.bound);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          const holder = (err as { details?: { holder?: unknown } }).details?.holder;
          if (code === "CONFLICT" && plan.unheld && typeof holder === "string") {
            // The previous pod let go and another pod took the address meanwhile: waiting
            // could last forever, so this pod gets a fresh one (the binding moves, an Event says
            // so); never the held one.
            notHere = (err as Error).message;
            res = await run(request);
          } else if (code === "CONFLICT") {
            throw new IpamdError(
              "UNAVAILABLE",
              `sticky address ${plan.bound.requestedAddresses.join(", ")} of ${req.podNamespace}/${req.podName} is still held: ${(err as Error).message}; the runtime retries`,
              { cause: err, details: { retryable: true } },
            );
          } else {
            if (code !== "INVALID_ARGUMENT") throw err;
            notHere = (err as Error).message;
            res = await run(request);
          }
        }
      } else {
        res = await run(request);
      }
      const key: AllocationKey = {
        network: req.network,
        containerId: req.containerId,
        ifname: req.ifname || "eth0",
      };
      let moved: { addresses: readonly string[]; tor: string } | undefined;
      try {
        moved = await this.#sticky?.bind(plan, key, addressesOf(res));
      } catch (err) {
        await undo(key);
        throw new IpamdError(
          "UNAVAILABLE",
          `binding the sticky address of ${req.podNamespace}/${req.podName}: ${(err as Error).message}; the runtime retries`,
          { cause: err },
        );
      }
      if (moved !== undefined) {
        this.#event(
          req,
          "IpamdStickyAddressMoved",
          `${req.podNamespace}/${req.podName} got ${addressesOf(res).join(", ")} instead of its sticky ${moved.addresses.join(", ")} (bound under TOR ${moved.tor})${notHere === undefined ? "" : `: ${notHere}`}`,
        );
      }
      return res;
    } catch (err) {
      this.allocateFailed(req, prepared, err);
      throw err;
    }
  }

  /** After a DEL (or the pod GC) released `key`: a StatefulSet pod lets go of its binding. */
  released(key: AllocationKey): void {
    this.#sticky?.released(key);
  }

  async #prepare(req: AllocateRequest): Promise<{ request: AllocateRequest; pod?: V1Pod }> {
    const ns = req.podNamespace;
    const name = req.podName;
    if (ns === "" || name === "") return { request: req };
    const key = {
      network: req.network,
      containerId: req.containerId,
      ifname: req.ifname || "eth0",
    };
    if (req.podUid !== "") this.#uids.set(key, req.podUid, Date.now());
    if (key.ifname !== "eth0") return { request: req };
    let pod = this.#pods.get(ns, name);
    if (pod === undefined || (req.podUid !== "" && pod.metadata?.uid !== req.podUid)) {
      try {
        pod = await this.#api.readPod(ns, name);
      } catch (err) {
        throw new IpamdError(
          "UNAVAILABLE",
          `reading pod ${ns}/${name} for its annotations: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (pod === undefined) {
        throw new IpamdError("UNAVAILABLE", `pod ${ns}/${name} is not in the Kubernetes API (yet)`);
      }
    }
    const wishes = podWishes(pod.metadata ?? {}, (await this.#namespace(ns))?.metadata);
    const purpose = req.purpose === "" || req.purpose === "default" ? wishes.purpose : undefined;
    const addresses = req.requestedAddresses.length === 0 ? wishes.addresses : undefined;
    if (purpose === undefined && addresses === undefined) return { request: req, pod };
    return {
      request: {
        ...req,
        ...(purpose === undefined ? {} : { purpose }),
        ...(addresses === undefined ? {} : { requestedAddresses: [...addresses] }),
      },
      pod,
    };
  }

  async #namespace(name: string): Promise<V1Namespace | undefined> {
    const now = Date.now();
    const hit = this.#namespaces.get(name);
    if (hit !== undefined && now - hit.at < NAMESPACE_TTL_MS) return hit.ns;
    let ns: V1Namespace | undefined;
    try {
      ns = await this.#api.readNamespace(name);
    } catch (err) {
      throw new IpamdError(
        "UNAVAILABLE",
        `reading namespace ${name} for its annotations: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.#namespaces.set(name, { ns, at: now });
    return ns;
  }

  /**
   * Records an Event on the pod for a failure its owner must see: no address left
   * (`IpamdPoolExhausted`), a static address refused (`IpamdStaticAddressRefused`). Best
   * effort: never delays or changes the answer.
   */
  allocateFailed(req: AllocateRequest, prepared: AllocateRequest | undefined, err: unknown): void {
    if (req.podNamespace === "" || req.podName === "") return;
    const code = (err as { code?: unknown }).code;
    const asked = (prepared ?? req).requestedAddresses;
    let reason: string;
    if (code === "POOL_EXHAUSTED") reason = "IpamdPoolExhausted";
    else if (asked.length > 0 && (code === "CONFLICT" || code === "INVALID_ARGUMENT"))
      reason = "IpamdStaticAddressRefused";
    else if (code === "INVALID_ARGUMENT" && prepared === undefined) reason = "IpamdBadAnnotation";
    else return;
    this.#event(req, reason, `ipamd on ${this.#o.nodeId}: ${(err as Error).message}`);
  }

  /** Records a Warning Event on the request's pod (best effort). */
  #event(req: AllocateRequest, reason: string, message: string): void {
    const uid =
      req.podUid === "" ? this.#pods.get(req.podNamespace, req.podName)?.metadata?.uid : req.podUid;
    void this.#api
      .createEvent({
        kind: "Pod",
        namespace: req.podNamespace,
        name: req.podName,
        ...(uid === undefined ? {} : { uid }),
        type: "Warning",
        reason,
        message,
        host: this.#o.nodeId,
      })
      .then(
        () => this.#metrics.event(reason, "ok"),
        (e: unknown) => {
          this.#metrics.event(reason, "error");
          this.#log.warn({ err: e }, "could not record a Kubernetes Event");
        },
      );
  }

  stop(): void {
    this.#gcLoop?.stop();
    this.#node.stop();
    this.#pods.stop();
  }
}

/**
 * Opens the Kubernetes API (a bad `--kubeconfig` rejects, so the agent exits 1) and starts
 * following this node's Node and Pods.
 */
export async function startAgentKubernetes(o: AgentKubernetesOptions): Promise<AgentKubernetes> {
  const api = await openKubeApi(o.config);
  const k = new AgentKubernetes(o, api);
  k.start();
  return k;
}
