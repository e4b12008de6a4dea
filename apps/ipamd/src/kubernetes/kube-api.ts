import type {
  AppsV1Api,
  CoreV1Api,
  V1Namespace,
  V1Node,
  V1Pod,
  V1StatefulSet,
  Watch,
} from "@kubernetes/client-node";
import { IpamdError } from "../ipamd-error.js";
import type { K8sConfig } from "./k8s-config.js";

/** A list answer: the items and the resourceVersion to watch from. */
export interface KubeList<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

/** One watch event as the API sends it (`ERROR` carries a Status object). */
export interface KubeWatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: {
    readonly metadata?: { readonly resourceVersion?: string };
    readonly code?: number;
  };
}

/** The kinds ipamd lists and watches. */
export type KubeKind = "nodes" | "pods" | "statefulsets";

/** A list/watch selector. */
export interface KubeSelector {
  readonly fieldSelector?: string;
}

/**
 * What ipamd asks of the Kubernetes API, over `@kubernetes/client-node` ({@link openKubeApi}).
 * A seam, so the controllers read as plain logic; tests run the real client against an HTTP
 * stand-in of the API server, not a fake of this interface. Reads reject with
 * {@link KubeApiError} (`status` 404 for an object that does not exist).
 */
export interface KubeApi {
  list(kind: "nodes", sel?: KubeSelector): Promise<KubeList<V1Node>>;
  list(kind: "pods", sel?: KubeSelector): Promise<KubeList<V1Pod>>;
  list(kind: "statefulsets", sel?: KubeSelector): Promise<KubeList<V1StatefulSet>>;
  /**
   * Watches from `resourceVersion` with bookmarks. `onEvent` gets each event; `onDone` is
   * called once when the stream ends (undefined: closed by the server; else the error, with
   * `status` 410 when the version is too old). Returns a function that aborts the watch.
   */
  watch(
    kind: KubeKind,
    sel: KubeSelector,
    resourceVersion: string,
    onEvent: (event: KubeWatchEvent) => void,
    onDone: (err: KubeApiError | undefined) => void,
  ): Promise<() => void>;
  /** A fresh read of one Node (never a cache); undefined when it does not exist. */
  readNode(name: string): Promise<V1Node | undefined>;
  /** A fresh read of one Pod (never a cache); undefined when it does not exist. */
  readPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  /** A fresh read of one StatefulSet (never a cache); undefined when it does not exist. */
  readStatefulSet(namespace: string, name: string): Promise<V1StatefulSet | undefined>;
  /** A fresh read of one Namespace; undefined when it does not exist. */
  readNamespace(name: string): Promise<V1Namespace | undefined>;
  /** Records a Kubernetes Event (core/v1) on a Pod or Node. */
  createEvent(event: KubeEventInput): Promise<void>;
}

/** An Event ipamd records on an object a user looks at. */
export interface KubeEventInput {
  readonly kind: "Pod" | "Node";
  /** Empty for a Node. */
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
  /** Who reports: the ipamd node id. */
  readonly host: string;
}

/** A failed API call: `status` is the HTTP status (0 when none was received). */
export class KubeApiError extends IpamdError {
  readonly status: number;
  constructor(status: number, message: string, cause?: unknown) {
    super(status === 0 ? "UNAVAILABLE" : "INTERNAL", message, { cause, details: { status } });
    this.status = status;
  }
}

function statusOf(err: unknown): number {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === "number") return e.code;
  if (typeof e.statusCode === "number") return e.statusCode;
  return 0;
}

function wrap(what: string, err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const status = statusOf(err);
  return new KubeApiError(
    status,
    `Kubernetes API: ${what} failed${status === 0 ? "" : ` (HTTP ${status})`}: ${(err as Error).message}`,
    err,
  );
}

const PATHS: Readonly<Record<KubeKind, string>> = {
  nodes: "/api/v1/nodes",
  pods: "/api/v1/pods",
  statefulsets: "/apis/apps/v1/statefulsets",
};

/**
 * Loads the client (a dynamic import: nothing of it loads without `--kubernetes`) and its
 * configuration: `--kubeconfig`, else the in-cluster service account when running in a pod,
 * else `$KUBECONFIG` / `~/.kube/config`.
 * @throws IpamdError INVALID_ARGUMENT naming `--kubeconfig` when no configuration can be read.
 */
export async function openKubeApi(config: K8sConfig): Promise<KubeApi> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  try {
    if (config.kubeconfig !== undefined) kc.loadFromFile(config.kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (cause) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `--kubeconfig: cannot load ${config.kubeconfig ?? "the in-cluster or default configuration"}: ${(cause as Error).message}`,
      { cause, details: { option: "kubeconfig" } },
    );
  }
  if (kc.getCurrentCluster() === null) {
    throw new IpamdError(
      "INVALID_ARGUMENT",
      `--kubeconfig: ${config.kubeconfig ?? "the configuration"} names no current cluster (set current-context)`,
      { details: { option: "kubeconfig" } },
    );
  }
  const core: CoreV1Api = kc.makeApiClient(k8s.CoreV1Api);
  const apps: AppsV1Api = kc.makeApiClient(k8s.AppsV1Api);
  const watcher: Watch = new k8s.Watch(kc);
  const read = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw wrap(what, err);
    }
  };
  async function list(kind: KubeKind, sel: KubeSelector = {}): Promise<KubeList<never>> {
    try {
      const params = sel.fieldSelector === undefined ? {} : { fieldSelector: sel.fieldSelector };
      const answer =
        kind === "nodes"
          ? await core.listNode(params)
          : kind === "pods"
            ? await core.listPodForAllNamespaces(params)
            : await apps.listStatefulSetForAllNamespaces(params);
      return {
        items: answer.items as never[],
        resourceVersion: answer.metadata?.resourceVersion ?? "",
      };
    } catch (err) {
      throw wrap(`listing ${kind}`, err);
    }
  }
  return {
    list: list as KubeApi["list"],
    async watch(kind, sel, resourceVersion, onEvent, onDone) {
      const query: Record<string, string> = { allowWatchBookmarks: "true", resourceVersion };
      if (sel.fieldSelector !== undefined) query.fieldSelector = sel.fieldSelector;
      const controller = await watcher.watch(
        PATHS[kind],
        query,
        (type: string, object: KubeWatchEvent["object"]) =>
          onEvent({ type: type as KubeWatchEvent["type"], object }),
        (err: unknown) => onDone(err == null ? undefined : wrap(`watching ${kind}`, err)),
      );
      return () => controller.abort();
    },
    readNode: (name) => read(`reading node ${name}`, () => core.readNode({ name })),
    readPod: (namespace, name) =>
      read(`reading pod ${namespace}/${name}`, () => core.readNamespacedPod({ namespace, name })),
    readStatefulSet: (namespace, name) =>
      read(`reading statefulset ${namespace}/${name}`, () =>
        apps.readNamespacedStatefulSet({ namespace, name }),
      ),
    readNamespace: (name) => read(`reading namespace ${name}`, () => core.readNamespace({ name })),
    async createEvent(e) {
      const now = new Date();
      const namespace = e.namespace === "" ? "default" : e.namespace;
      try {
        await core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${e.name}.ipamd-`, namespace },
            involvedObject: {
              apiVersion: "v1",
              kind: e.kind,
              name: e.name,
              ...(e.namespace === "" ? {} : { namespace: e.namespace }),
              ...(e.uid === undefined ? {} : { uid: e.uid }),
            },
            type: e.type,
            reason: e.reason,
            message: e.message,
            source: { component: "ipamd", host: e.host },
            reportingComponent: "ipamd",
            reportingInstance: e.host,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      } catch (err) {
        throw wrap(`recording event ${e.reason} on ${e.kind} ${e.name}`, err);
      }
    },
  };
}
