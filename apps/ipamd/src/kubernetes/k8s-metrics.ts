import { Counter, Gauge, type Registry } from "prom-client";
import type { RestartReason } from "./kube-reflector.js";

/** The controllers' metric families (registered only with `--kubernetes`). */
export interface K8sMetrics {
  /** A watch started again: `closed` by the server, `gone` (410, re-listed), `error`. */
  watchRestart(kind: string, reason: RestartReason): void;
  /** One reconcile pass of a controller, `ok` or `error`. */
  reconciled(controller: string, result: "ok" | "error"): void;
  /**
   * Something a controller gave back: an address (`pod-gc`), a node's blocks (`node`), a sticky
   * binding (`sticky`: unbound after a scale-down or deletion) or a sticky holder (`sticky`: its
   * pod confirmed gone).
   */
  released(controller: string, what: "address" | "node-blocks" | "binding" | "holder"): void;
  /** How many sticky bindings the cluster holds (set by the active server's sticky controller). */
  stickyBindings(count: number): void;
  /** A candidate kept because the fresh read of the API found its owner alive. */
  kept(controller: string, why: string): void;
  /** An Event recorded (or not: `result` error). */
  event(reason: string, result: "ok" | "error"): void;
}

/** Registers the `ipamd_k8s_*` families on `registry`. */
export function createK8sMetrics(registry: Registry): K8sMetrics {
  const restarts = new Counter({
    name: "ipamd_k8s_watch_restarts_total",
    help: "Kubernetes watches started again, by kind and reason (closed, gone = 410 and re-list, error)",
    labelNames: ["kind", "reason"],
    registers: [registry],
  });
  const reconciled = new Counter({
    name: "ipamd_k8s_reconciled_total",
    help: "Reconcile passes of the Kubernetes controllers, by controller and result",
    labelNames: ["controller", "result"],
    registers: [registry],
  });
  const released = new Counter({
    name: "ipamd_k8s_released_total",
    help: "What the Kubernetes controllers gave back: addresses of gone pods, blocks of gone nodes",
    labelNames: ["controller", "what"],
    registers: [registry],
  });
  const kept = new Counter({
    name: "ipamd_k8s_kept_total",
    help: "GC candidates kept because a fresh API read found their owner alive, by reason",
    labelNames: ["controller", "why"],
    registers: [registry],
  });
  const events = new Counter({
    name: "ipamd_k8s_events_total",
    help: "Kubernetes Events ipamd recorded, by reason and result",
    labelNames: ["reason", "result"],
    registers: [registry],
  });
  const sticky = new Gauge({
    name: "ipamd_k8s_sticky_bindings",
    help: "Sticky addresses of StatefulSet pods the cluster holds (the active server's view)",
    registers: [registry],
  });
  return {
    stickyBindings: (count) => sticky.set(count),
    watchRestart: (kind, reason) => restarts.inc({ kind, reason }),
    reconciled: (controller, result) => reconciled.inc({ controller, result }),
    released: (controller, what) => released.inc({ controller, what }),
    kept: (controller, why) => kept.inc({ controller, why }),
    event: (reason, result) => events.inc({ reason, result }),
  };
}
