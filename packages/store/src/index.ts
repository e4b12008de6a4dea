// Public API of @ipam/store: name every export explicitly (no `export *`).
export type { AddressEvent, AddressEventKind, SubnetGrowth } from "./address-history.js";
export { AddressHistory } from "./address-history.js";
export type {
  AllocationKey,
  AllocationRecord,
  SaveResult,
} from "./allocation-record.js";
export { canonicalAddress } from "./allocation-record.js";
export type { CommitInfo } from "./commit-batch.js";
export type { LeasedBlock } from "./leased-block.js";
export { storeCodeForSqlite, toStoreError } from "./map-sqlite-error.js";
export type { Migration } from "./migrations.js";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.js";
export type {
  RaftHardState,
  RaftLogEntry,
  RaftSnapshot,
  RaftSnapshotMeta,
  StoredRaftEntry,
} from "./raft-log-store.js";
export { RaftLogStore, SNAPSHOT_CHUNK_BYTES } from "./raft-log-store.js";
export type {
  AttachmentKey,
  CommitThread,
  IntegrityReport,
  OpenCheck,
  StoreOptions,
} from "./store.js";
export { openStore, Store } from "./store.js";
export type { StoreErrorCode } from "./store-error.js";
export { isStoreError, StoreError } from "./store-error.js";
export type { CoolingAddress } from "./write-op.js";
