// Public API of @ipam/store/testing: helpers for tests of code that uses a Store.
import { openStore, type Store, type StoreOptions } from "./store.js";

/**
 * An in-memory store: the real schema and code paths (group commit, constraints, Raft
 * storage) on SQLite's `:memory:` database, nothing on disk. Lost on `close()`.
 */
export function openMemoryStore(options: Omit<StoreOptions, "path" | "readonly"> = {}): Store {
  return openStore({ ...options, path: ":memory:" });
}
