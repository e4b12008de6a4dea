// Public API of @ipam/raft/sqlite: durable Raft storage over @ipam/store (name every export).
export type { SqliteStorageOptions } from "./sqlite-storage.js";
export { createSqliteStorage, SqliteStorage } from "./sqlite-storage.js";
