/**
 * Strings by small integer id, each counted by its users, so that text repeated across many
 * records (a direct allocation's network, ifname, node, purpose and subnet) is held once and a
 * record stores a 4-byte id. An id is valid while its count is above zero; when the last user
 * lets go the string is forgotten and the id is given to the next new string.
 *
 * Ids are private to the holder: they depend on the order of acquires and releases, so they
 * must never reach a snapshot, a result or an ordering.
 */
export class InternedStrings {
  readonly #ids = new Map<string, number>();
  readonly #texts: (string | undefined)[] = [];
  #counts = new Int32Array(64);
  readonly #free: number[] = [];

  /** One past the highest id ever handed out (for arrays indexed by id). */
  get span(): number {
    return this.#texts.length;
  }

  /** The id of `text`, counting one more user of it. */
  acquire(text: string): number {
    let id = this.#ids.get(text);
    if (id === undefined) {
      id = this.#free.pop() ?? this.#texts.length;
      this.#texts[id] = text;
      this.#ids.set(text, id);
      if (id >= this.#counts.length) {
        const counts = new Int32Array(this.#counts.length * 2);
        counts.set(this.#counts);
        this.#counts = counts;
      }
    }
    (this.#counts[id] as number)++;
    return id;
  }

  /** Counts one user of `id` less; at zero the string is forgotten. The caller holds `id`. */
  release(id: number): void {
    const left = (this.#counts[id] as number) - 1;
    this.#counts[id] = left;
    if (left > 0) return;
    this.#ids.delete(this.#texts[id] as string);
    this.#texts[id] = undefined;
    this.#free.push(id);
  }

  /** The text of a held id. */
  text(id: number): string {
    return this.#texts[id] as string;
  }

  /** The id of `text` when someone holds it, else -1 (nothing is counted). */
  find(text: string): number {
    return this.#ids.get(text) ?? -1;
  }
}
