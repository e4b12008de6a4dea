import { type AllocationKey, keyString } from "@ipam/subnet-pool";
import type { AgentStore } from "../agent/stored-records.js";

const META_KEY = "k8s.pod-uids";

/**
 * The Kubernetes pod UID of each allocation key (`K8S_POD_UID` at ADD), kept in the agent's
 * store beside its records (one meta entry, JSON), so that the pod GC tells a pod from a later
 * pod of the same name after a restart too. An unknown UID is `undefined`: the GC then only
 * releases when no pod of that name exists.
 */
export class PodUids {
  readonly #store: Pick<AgentStore, "getMeta" | "setMeta">;
  readonly #byKey: Map<string, string>;
  /** When this process set each key (an ADD may not have saved its record yet). */
  readonly #setAt = new Map<string, number>();

  constructor(store: Pick<AgentStore, "getMeta" | "setMeta">) {
    this.#store = store;
    let parsed: unknown;
    try {
      parsed = JSON.parse(store.getMeta(META_KEY) ?? "{}");
    } catch {
      parsed = {};
    }
    this.#byKey = new Map(
      Object.entries(typeof parsed === "object" && parsed !== null ? parsed : {}).filter(
        (e): e is [string, string] => typeof e[1] === "string",
      ),
    );
  }

  get(key: AllocationKey): string | undefined {
    return this.#byKey.get(keyString(key));
  }

  /** Records `uid` for `key` (durable before it returns). */
  set(key: AllocationKey, uid: string, now: number): void {
    const k = keyString(key);
    this.#setAt.set(k, now);
    if (this.#byKey.get(k) === uid) return;
    this.#byKey.set(k, uid);
    this.#save();
  }

  /** Forgets every key `keep` does not accept (records gone), but none set after `before`. */
  prune(keep: (key: string) => boolean, before: number): void {
    let changed = false;
    for (const k of [...this.#byKey.keys()]) {
      if (keep(k) || (this.#setAt.get(k) ?? Number.NEGATIVE_INFINITY) >= before) continue;
      this.#setAt.delete(k);
      this.#byKey.delete(k);
      changed = true;
    }
    if (changed) this.#save();
  }

  #save(): void {
    this.#store.setMeta(META_KEY, JSON.stringify(Object.fromEntries(this.#byKey)));
  }
}
