import { CliError } from "./cli-error.js";

/** What the Kubernetes API says about one pod now: its UID, or absent (404). */
export type PodLookup =
  | { readonly exists: true; readonly uid: string }
  | { readonly exists: false };

/** Reads pods from the Kubernetes API: one fresh GET per call, never a cache. */
export interface PodReader {
  /** @throws CliError KUBE_UNREACHABLE (kind UNAVAILABLE) when the API does not answer. */
  readPod(namespace: string, name: string): Promise<PodLookup>;
}

/** The HTTP status of a client-node error (`code`, or `statusCode` of older shapes). */
function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === "number") return e.code;
  if (typeof e.statusCode === "number") return e.statusCode;
  return undefined;
}

/**
 * A {@link PodReader} over `@kubernetes/client-node` (a dynamic import: nothing of it loads
 * unless `--kubeconfig`/`--kubernetes` is given), configured as ipamd is: `kubeconfig`, else the
 * in-cluster service account when running in a pod, else `$KUBECONFIG` / `~/.kube/config`.
 * @throws CliError USAGE naming --kubeconfig when no configuration can be read.
 */
export async function openPodReader(kubeconfig: string | undefined): Promise<PodReader> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  try {
    if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (cause) {
    throw new CliError(
      "USAGE",
      `--kubeconfig: cannot load ${kubeconfig ?? "the in-cluster or default configuration"}: ${(cause as Error).message}`,
      { cause, details: { field: "--kubeconfig" } },
    );
  }
  if (kc.getCurrentCluster() === null) {
    throw new CliError(
      "USAGE",
      `--kubeconfig: ${kubeconfig ?? "the configuration"} names no current cluster (set current-context)`,
      { details: { field: "--kubeconfig" } },
    );
  }
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return {
    async readPod(namespace, name) {
      try {
        const pod = await core.readNamespacedPod({ namespace, name });
        return { exists: true, uid: pod.metadata?.uid ?? "" };
      } catch (err) {
        if (statusOf(err) === 404) return { exists: false };
        throw new CliError(
          "KUBE_UNREACHABLE",
          `cannot read pod ${namespace}/${name} from the Kubernetes API: ${(err as Error).message}`,
          { cause: err },
        );
      }
    },
  };
}

/**
 * Whether a record's pod is gone: no pod of that name, or one with another UID (a new pod of the
 * same name, as a StatefulSet makes). Undefined: the pod is there (same UID, or no UID recorded).
 */
export function podGoneReason(
  pod: { readonly namespace: string; readonly name: string; readonly uid: string },
  now: PodLookup,
): string | undefined {
  if (!now.exists) return `pod ${pod.namespace}/${pod.name} no longer exists`;
  if (pod.uid !== "" && now.uid !== "" && now.uid !== pod.uid) {
    return `pod ${pod.namespace}/${pod.name} was replaced (UID ${pod.uid} recorded at ADD, ${now.uid} now)`;
  }
  return undefined;
}
