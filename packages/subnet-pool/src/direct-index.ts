/** What {@link DirectIndex} needs of an entry: the allocation key fields and the family. */
export interface DirectKeyed {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly family: 4 | 6;
}

/**
 * Direct allocations by (network, containerId, ifname, family), keyed by container id (already
 * a flat string, so no key string is built per entry; a container has one or a few entries).
 * Iteration order is unspecified: callers sort.
 */
export class DirectIndex<E extends DirectKeyed> {
  readonly #byContainer = new Map<string, E | E[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(network: string, containerId: string, ifname: string, family: 4 | 6): E | undefined {
    const slot = this.#byContainer.get(containerId);
    if (slot === undefined) return undefined;
    if (!Array.isArray(slot)) {
      return slot.network === network && slot.ifname === ifname && slot.family === family
        ? slot
        : undefined;
    }
    for (const e of slot) {
      if (e.network === network && e.ifname === ifname && e.family === family) return e;
    }
    return undefined;
  }

  /** Adds an entry; the caller guarantees no entry with the same key and family is present. */
  add(entry: E): void {
    const slot = this.#byContainer.get(entry.containerId);
    if (slot === undefined) this.#byContainer.set(entry.containerId, entry);
    else if (Array.isArray(slot)) slot.push(entry);
    else this.#byContainer.set(entry.containerId, [slot, entry]);
    this.#size++;
  }

  /** Removes this exact entry (by identity); no-op when absent. */
  remove(entry: E): void {
    const slot = this.#byContainer.get(entry.containerId);
    if (slot === undefined) return;
    if (!Array.isArray(slot)) {
      if (slot !== entry) return;
      this.#byContainer.delete(entry.containerId);
    } else {
      const at = slot.indexOf(entry);
      if (at < 0) return;
      slot.splice(at, 1);
      if (slot.length === 1) this.#byContainer.set(entry.containerId, slot[0] as E);
    }
    this.#size--;
  }

  /** Every entry, in unspecified order; a fresh array. */
  values(): E[] {
    const out: E[] = [];
    for (const slot of this.#byContainer.values()) {
      if (Array.isArray(slot)) out.push(...slot);
      else out.push(slot);
    }
    return out;
  }
}
