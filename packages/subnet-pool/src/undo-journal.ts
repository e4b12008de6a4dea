/**
 * The undo journal of the cluster state (DESIGN §6): every mutation that a command makes
 * records its inverse here, so a command that throws half way, whatever the reason, is rolled
 * back by running the journal backwards. This is what makes each command all-or-nothing and an
 * atomic batch cheap (its commands share one journal).
 *
 * Contracts:
 * - Every module of the cluster state mutates through {@link record} (or the helpers built on
 *   it) right after each change, never before: the inverse must undo exactly what was done.
 * - Outside {@link run} nothing is recorded (snapshot restore builds a fresh state that is
 *   thrown away as a whole on failure).
 * - Inverses run in reverse order and must not throw.
 */
export class UndoJournal {
  /** Inverses of the command being applied; undefined outside {@link run}. */
  #log: Array<() => void> | undefined;

  /** True while a command runs and mutations are being recorded. */
  get recording(): boolean {
    return this.#log !== undefined;
  }

  /** Records the inverse of a mutation just made (a no-op outside {@link run}). */
  record(undo: () => void): void {
    this.#log?.push(undo);
  }

  /**
   * Runs `fn`. When it throws, every mutation recorded since this call began is undone (an
   * inner `run` undoes only its own part, the outer one may still undo the rest), then the
   * error is rethrown.
   */
  run<T>(fn: () => T): T {
    const top = this.#log === undefined;
    if (top) this.#log = [];
    const log = this.#log as Array<() => void>;
    const mark = log.length;
    try {
      return fn();
    } catch (error) {
      while (log.length > mark) (log.pop() as () => void)();
      throw error;
    } finally {
      if (top) this.#log = undefined;
    }
  }

  /** `map.set(key, value)`, recorded. */
  set<K, V>(map: Map<K, V>, key: K, value: V): void {
    if (this.#log === undefined) {
      map.set(key, value);
      return;
    }
    const had = map.has(key);
    const old = map.get(key) as V;
    map.set(key, value);
    this.#log.push(() => (had ? map.set(key, old) : map.delete(key)));
  }

  /** `map.delete(key)`, recorded (a no-op when the key is absent). */
  delete<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    const old = map.get(key) as V;
    map.delete(key);
    this.record(() => map.set(key, old));
  }

  /** `target[key] = value`, recorded. */
  assign<T extends object, K extends keyof T>(target: T, key: K, value: T[K]): void {
    const old = target[key];
    target[key] = value;
    this.record(() => {
      target[key] = old;
    });
  }

  /** Inserts `value` into `list` at `at`, recorded. */
  insertAt<T>(list: T[], at: number, value: T): void {
    if (at === list.length) list.push(value);
    else list.splice(at, 0, value);
    this.#log?.push(() => list.splice(at, 1));
  }

  /** Removes the item at `at` from `list`, recorded. */
  removeAt<T>(list: T[], at: number): void {
    const [old] = list.splice(at, 1);
    this.record(() => list.splice(at, 0, old as T));
  }
}
