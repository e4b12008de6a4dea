import { IpamdError } from "../ipamd-error.js";

/** The resolved `--kubernetes` settings (undefined in the config without `--kubernetes`). */
export interface K8sConfig {
  /** A kubeconfig file; undefined = the in-cluster service account (or `KUBECONFIG`). */
  readonly kubeconfig: string | undefined;
  /** Node label naming the node's zone. */
  readonly zoneLabel: string;
  /** Node label naming the node's pod (the data-centre pod, not a Kubernetes Pod). */
  readonly podLabel: string;
  /** Node label naming the node's TOR. */
  readonly torLabel: string;
  /** A Node NotReady this long (ms) has its blocks revoked (servers); 0 = never for NotReady. */
  readonly nodeGraceMs: number;
  /** An address whose pod is gone is released after this long (ms) (agents). */
  readonly podGraceMs: number;
  /** Every this long (ms) the controllers compare everything again, besides the watch events. */
  readonly resyncMs: number;
  /** A watch silent this long (ms: no event, no bookmark) is abandoned and listed again. */
  readonly watchIdleMs: number;
}

interface Spec {
  readonly type: "string" | "boolean";
  readonly help: string;
  readonly default: string;
}

/** Default node label keys (docs/kubernetes.md, "Label your nodes"). */
export const DEFAULT_LABELS = {
  zone: "topology.kubernetes.io/zone",
  pod: "ipam.io/pod",
  tor: "ipam.io/tor",
} as const;

/** The options of the Kubernetes controllers (merged into `OPTIONS`). */
export const K8S_OPTIONS: Readonly<Record<string, Spec>> = {
  kubernetes: {
    type: "boolean",
    help: "follow the Kubernetes API: agents read their Node's labels and GC their pods' addresses, the leader revokes deleted Nodes' blocks",
    default: "false",
  },
  kubeconfig: {
    type: "string",
    help: "kubeconfig file (--kubernetes)",
    default: "the pod's service account (in-cluster), else $KUBECONFIG",
  },
  "k8s-zone-label": {
    type: "string",
    help: "Node label naming the zone",
    default: DEFAULT_LABELS.zone,
  },
  "k8s-pod-label": {
    type: "string",
    help: "Node label naming the pod",
    default: DEFAULT_LABELS.pod,
  },
  "k8s-tor-label": {
    type: "string",
    help: "Node label naming the TOR",
    default: DEFAULT_LABELS.tor,
  },
  "k8s-node-grace": {
    type: "string",
    help: "seconds a Node may stay NotReady before its blocks are revoked (0 = only when deleted)",
    default: "300",
  },
  "k8s-pod-grace": {
    type: "string",
    help: "seconds an address may outlive its pod before it is released",
    default: "60",
  },
  "k8s-resync": {
    type: "string",
    help: "seconds between full comparisons of the API's objects and ipamd's",
    default: "60",
  },
  "k8s-watch-idle": {
    type: "string",
    help: "seconds a watch may stay silent (no event, no bookmark) before it is listed again",
    default: "300",
  },
};

/** What {@link parseK8sConfig} reads settings through (config.ts's resolvers). */
export interface K8sSettingReaders {
  readonly str: (name: string) => string | undefined;
  readonly bool: (name: string, fallback: boolean) => boolean;
  readonly num: (name: string, fallback: number, min: number, max: number) => number;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * The `--kubernetes` settings, or undefined without `--kubernetes`. Label keys must be valid
 * Kubernetes label keys.
 * @throws IpamdError INVALID_ARGUMENT naming the flag.
 */
export function parseK8sConfig(r: K8sSettingReaders): K8sConfig | undefined {
  if (!r.bool("kubernetes", false)) return undefined;
  const label = (name: string, fallback: string): string => {
    const v = r.str(name) ?? fallback;
    if (!LABEL_KEY.test(v) || v.length > 316) {
      throw new IpamdError(
        "INVALID_ARGUMENT",
        `--${name}: "${v}" is not a Kubernetes label key ([prefix/]name, e.g. ${fallback})`,
        { details: { option: name } },
      );
    }
    return v;
  };
  return {
    kubeconfig: r.str("kubeconfig"),
    zoneLabel: label("k8s-zone-label", DEFAULT_LABELS.zone),
    podLabel: label("k8s-pod-label", DEFAULT_LABELS.pod),
    torLabel: label("k8s-tor-label", DEFAULT_LABELS.tor),
    nodeGraceMs: r.num("k8s-node-grace", 300, 0, 86_400 * 30) * 1000,
    podGraceMs: r.num("k8s-pod-grace", 60, 0, 86_400) * 1000,
    resyncMs: r.num("k8s-resync", 60, 1, 86_400) * 1000,
    watchIdleMs: r.num("k8s-watch-idle", 300, 1, 86_400) * 1000,
  };
}
