import type { Attachment } from "./allocation-request.js";
import type { AgentStore } from "./stored-records.js";

// The container runtime's last word per network: the valid attachments of its last CNI GC, kept
// in the store's meta so that `ipamctl check` can find records the runtime no longer has even
// when the GC could not release them (a direct-mode release while the cluster is unreachable).

/** Store meta key holding every network's last runtime view (JSON `RuntimeView[]`). */
export const RUNTIME_VIEWS_META = "agent.runtime-views";

/** The valid attachments of one network as its last CNI GC listed them, and when it arrived. */
export interface RuntimeView {
  readonly network: string;
  /** When the node received the GC, Unix time in milliseconds. */
  readonly receivedAt: number;
  readonly validAttachments: readonly Attachment[];
}

function isView(v: unknown): v is RuntimeView {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.network === "string" &&
    typeof r.receivedAt === "number" &&
    Array.isArray(r.validAttachments) &&
    r.validAttachments.every(
      (a: unknown) =>
        typeof a === "object" &&
        a !== null &&
        typeof (a as Record<string, unknown>).containerId === "string" &&
        typeof (a as Record<string, unknown>).ifname === "string",
    )
  );
}

/**
 * The last runtime view per network, read from and written to the store's meta. `record` writes
 * durably (the store's fsync) before it returns: call it before releasing anything.
 */
export class RuntimeViews {
  readonly #store: AgentStore;

  constructor(store: AgentStore) {
    this.#store = store;
  }

  /** Every stored view (or `network`'s), in network order. A damaged entry is an error. */
  list(network?: string): RuntimeView[] {
    const text = this.#store.getMeta(RUNTIME_VIEWS_META);
    if (text === undefined) return [];
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed) || !parsed.every(isView)) {
      throw new Error(`store meta ${RUNTIME_VIEWS_META} is not a list of runtime views`);
    }
    return parsed
      .filter((v) => network === undefined || v.network === network)
      .sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
  }

  /** Keeps `view` as its network's last view (replacing the previous one), durably. */
  record(view: RuntimeView): void {
    const others = this.list().filter((v) => v.network !== view.network);
    const kept: RuntimeView = {
      network: view.network,
      receivedAt: view.receivedAt,
      validAttachments: view.validAttachments.map((a) => ({
        containerId: a.containerId,
        ifname: a.ifname,
      })),
    };
    this.#store.setMeta(RUNTIME_VIEWS_META, JSON.stringify([...others, kept]));
  }
}
