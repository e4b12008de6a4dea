import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { K8sConfig } from "./k8s-config.js";
import type { ServerControllersOptions } from "./server-controllers.js";

/** What a server (Raft or etcd store) hands {@link startServerKubernetes}. */
export interface ServerKubernetesOptions {
  /** `config.kubernetes`: undefined without `--kubernetes` (then nothing starts). */
  readonly config: K8sConfig | undefined;
  readonly cluster: ServerControllersOptions["cluster"];
  /** Whether this server acts: the Raft leader, or the etcd store's active controller. */
  readonly isActive: () => boolean;
  readonly registry: Registry;
  readonly log: Logger;
  readonly nodeId: string;
  /**
   * Undoes what the server started before its controllers, when they cannot start (a bad
   * `--kubeconfig`); awaited before the error is rethrown so that the process exits non-zero.
   */
  readonly cleanUp: () => Promise<void>;
}

/**
 * The servers' `--kubernetes` start, shared by both cluster stores. Loads the controllers only
 * with `--kubernetes` (the embedded default never loads the client) and resolves with their
 * stop, or undefined without `--kubernetes`.
 * @throws what {@link startServerControllers} throws, after `cleanUp` ran.
 */
export async function startServerKubernetes(
  o: ServerKubernetesOptions,
): Promise<(() => void) | undefined> {
  if (o.config === undefined) return undefined;
  try {
    const { startServerControllers } = await import("./server-controllers.js");
    return await startServerControllers({
      config: o.config,
      cluster: o.cluster,
      isActive: o.isActive,
      registry: o.registry,
      log: o.log,
      nodeId: o.nodeId,
    });
  } catch (err) {
    await o.cleanUp();
    throw err;
  }
}
