// Public API of @ipam/subnet-pool: every export is named explicitly (no `export *`).

export type { AllocationKey } from "./allocation-key.js";
export { compareKeys, keyString } from "./allocation-key.js";
export { BlockIndex } from "./block-index.js";
export type { AllocatedAddress, BlockLease } from "./block-lease.js";
export type {
  AllocateRequest,
  AllocateResult,
  AllocationRecord,
  LeaseRequest,
  NodeAllocatorOptions,
  NodeSubnetUsage,
  PreallocateOptions,
  RebuildReport,
} from "./node-allocator.js";
export { NodeAllocator } from "./node-allocator.js";
export type { PoolErrorCode, PoolErrorOptions } from "./pool-error.js";
export { isPoolError, PoolError } from "./pool-error.js";
