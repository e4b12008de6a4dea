// Public API of @ipam/subnet-pool: every export is named explicitly (no `export *`).

export type { AllocationKey } from "./allocation-key.js";
export { compareKeys, keyString } from "./allocation-key.js";
export { BlockIndex } from "./block-index.js";
export type { AllocatedAddress, BlockLease, BlockState } from "./block-lease.js";
export type { NodeCapacity } from "./capacity.js";
export type { CarveSubnetValue } from "./carve-command.js";
export type { CarvePlacement } from "./carve-slot.js";
export { ClusterState } from "./cluster-state.js";
export type {
  NodeView,
  StatsLevel,
  StatsRow,
  SubnetUsage,
  SubnetView,
} from "./cluster-views.js";
export { statsKeyOf } from "./cluster-views.js";
export { COMMAND_ENCODING_VERSION, decodeCommand, encodeCommand } from "./command-codec.js";
export type {
  AddSubnetCommand,
  AllocateDirectCommand,
  ApplyTopologyCommand,
  ApplyTopologyValue,
  BatchCommand,
  BindStickyCommand,
  BindStickyValue,
  CarveSubnetCommand,
  ClaimBlockCommand,
  ClusterCommand,
  CommandError,
  CommandResult,
  CommandType,
  CommandValues,
  DeregisterMode,
  DeregisterNodeCommand,
  DeregisterNodeValue,
  DirectAllocateValue,
  DirectAllocation,
  DrainSubnetCommand,
  LeaseBlockCommand,
  RegisterNodeCommand,
  ReleaseBlockCommand,
  ReleaseDirectCommand,
  ReleaseStickyCommand,
  RemoveSubnetCommand,
  Reservation,
  ReserveCommand,
  ResultOf,
  StickyBinding,
  StickyKey,
  SubnetOrigin,
  UnbindStickyCommand,
  UnbindStickyValue,
  UnreserveCommand,
} from "./commands.js";
export { COMMAND_TYPES } from "./commands.js";
export type { SubnetHoldings } from "./lifecycle.js";
export type {
  AllocateRequest,
  AllocateResult,
  AllocationRecord,
  BlockUsage,
  CoolingAddress,
  LeaseRequest,
  NodeAllocatorOptions,
  NodeSubnetUsage,
  PreallocateOptions,
  RebuildReport,
} from "./node-allocator.js";
export { NodeAllocator } from "./node-allocator.js";
export type { PoolErrorCode, PoolErrorOptions } from "./pool-error.js";
export { isPoolError, PoolError } from "./pool-error.js";
export { SNAPSHOT_VERSION } from "./snapshot-codec.js";
export { stickyKeyString } from "./sticky-bindings.js";
export type {
  AllocateDirectValue,
  CarvedSubnet,
  CarveMode,
  LeaseBlockValue,
  TorUsage,
} from "./supernet-growth.js";
export type {
  AllocateIpOptions,
  NodeStats,
  PoolStatsRow,
  TopologyAwarePoolOptions,
} from "./topology-aware-pool.js";
export { TopologyAwarePool } from "./topology-aware-pool.js";
